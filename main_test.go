package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cloudquota/cloudquota_exporter/internal/demo"
	"github.com/cloudquota/cloudquota_exporter/internal/testutil"
)

// captured is what a run of the command line printed and returned.
type captured struct {
	code   int
	output string // stdout and stderr, interleaved
}

// runCaptured runs the command line with its output captured.
func runCaptured(t *testing.T, args []string) captured {
	t.Helper()
	var out testutil.SyncBuffer
	code := run(args, &out, &out)
	return captured{code: code, output: out.String()}
}

func TestConfigCheck(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yml")
	os.WriteFile(good, []byte(demo.ConfigYAML("http://127.0.0.1:9")), 0o600)
	bad := filepath.Join(dir, "bad.yml")
	os.WriteFile(bad, []byte("targets:\n  - name: x\n    service: nosuch\n"), 0o600)
	if code := runCaptured(t, []string{"--config.check", "--config.file=" + good}).code; code != 0 {
		t.Errorf("--config.check on a valid file: exit %d, want 0", code)
	}
	if code := runCaptured(t, []string{"--config.check", "--config.file=" + bad}).code; code == 0 {
		t.Errorf("--config.check on an invalid file: exit 0")
	}
	if code := runCaptured(t, []string{"--config.file=" + filepath.Join(dir, "missing.yml"), "--web.listen-address=127.0.0.1:0"}).code; code == 0 {
		t.Errorf("start-up with a missing config file: exit 0")
	}
}

func TestConfigCheckPrintsNoSecret(t *testing.T) {
	const (
		sk       = "cfgcheck-secret-key-91f3"
		token    = "cfgcheck-security-token-77ab"
		libSec   = "cfgcheck-library-secret-c0de"
		typoSec  = "cfgcheck-typo-secret-5e5e"
		envSec   = "cfgcheck-env-secret-4242"
		fileSec  = "cfgcheck-file-secret-abcd"
		listSec1 = "cfgcheck-list-secret-1111"
	)
	secrets := []string{sk, token, libSec, typoSec, envSec, fileSec, listSec1}
	t.Setenv("CQ_FAULTS_TEST_SK", envSec)
	dir := t.TempDir()
	secretFile := filepath.Join(dir, "lib.secret")
	os.WriteFile(secretFile, []byte(fileSec+"\n"), 0o600)

	credentials := fmt.Sprintf(`credentials:
  - name: hw
    type: huaweicloud
    access_key: AKCFGCHECK
    secret_key: %s
    security_token: %s
  - name: media
    type: tencent_smh
    library_id: lib1
    library_secret: %s
`, sk, token, libSec)
	targets := `targets:
  - name: t1
    service: cts
    credentials: hw
    project_id: p1
    endpoint: http://127.0.0.1:9
  - name: t2
    service: smh
    credentials: media
    space_ids: [s1]
    endpoint: http://127.0.0.1:9
`
	cases := []struct {
		name, yaml string
		wantCode   int
		want       []string
	}{
		{"valid", credentials + targets, 0, []string{"is valid"}},
		{"unknown key next to inline secrets",
			strings.Replace(credentials, "    security_token: "+token+"\n", "    security_token: "+token+"\n    secret_kee: "+typoSec+"\n", 1) + targets,
			1, []string{`unknown key "secret_kee"`, `did you mean "secret_key"?`}},
		{"secret given as a list",
			strings.Replace(credentials, "secret_key: "+sk, "secret_key: ["+sk+", "+listSec1+"]", 1) + targets,
			1, []string{"secret_key", "expected a string, got a list"}},
		{"secret and secret file both set",
			strings.Replace(credentials, "library_secret: "+libSec, "library_secret: "+libSec+"\n    library_secret_file: "+secretFile, 1) + targets,
			1, []string{"library_secret: set both library_secret and library_secret_file"}},
		{"secret from the environment, bad target",
			strings.Replace(credentials, "secret_key: "+sk, "secret_key: ${CQ_FAULTS_TEST_SK}", 1) + strings.Replace(targets, "service: cts", "service: ctx", 1),
			1, []string{`unknown service "ctx"`}},
		{"secret from a file, unknown credential",
			strings.Replace(credentials, "library_secret: "+libSec, "library_secret_file: "+secretFile, 1) + strings.Replace(targets, "credentials: media", "credentials: medai", 1),
			1, []string{`no credential named "medai"`}},
		{"secret in a broken line",
			strings.Replace(credentials, "secret_key: "+sk, "secret_key: \""+sk, 1) + targets,
			1, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "-")+".yml")
			if err := os.WriteFile(path, []byte(tc.yaml), 0o600); err != nil {
				t.Fatal(err)
			}
			r := runCaptured(t, []string{"--config.check", "--config.file=" + path, "--config.expand-environment-variables"})
			code, out := r.code, r.output
			if code != tc.wantCode {
				t.Errorf("exit %d, want %d: %s", code, tc.wantCode, out)
			}
			if tc.wantCode != 0 && !strings.Contains(out, path) {
				t.Errorf("the message does not name the file: %s", out)
			}
			for _, want := range tc.want {
				if !strings.Contains(out, want) {
					t.Errorf("output lacks %q: %s", want, out)
				}
			}
			for _, s := range secrets {
				if strings.Contains(out, s) {
					t.Errorf("--config.check output contains the secret %q: %s", s, out)
				}
			}
			t.Logf("exit %d: %s", code, strings.TrimSpace(out))
		})
	}
}

// runMainEnv makes the test binary run the command instead of the tests, so
// that a test can start the exporter as a process and signal it.
const runMainEnv = "CLOUDQUOTA_EXPORTER_TEST_RUN_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(runMainEnv) == "1" {
		os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// On SIGTERM the exporter answers the scrape in flight with what it has
// (the target whose upstream hangs is down) and exits at once, well within
// 2 seconds.
func TestSIGTERMAnswersScrapeInFlightAndExitsPromptly(t *testing.T) {
	clouds, err := demo.Start(0)
	if err != nil {
		t.Fatal(err)
	}
	defer clouds.Close()
	hanging := make(chan struct{}, 1)
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case hanging <- struct{}{}:
		default:
		}
		<-r.Context().Done()
	}))
	defer hang.Close()
	path := filepath.Join(t.TempDir(), "cloudquota.yml")
	yaml := demo.ConfigYAML(clouds.URL) + "  - name: audit-hanging\n    service: cts\n    credentials: hw-prod\n    project_id: p1\n    endpoint: " + hang.URL + "\n"
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()

	var logs testutil.SyncBuffer
	cmd := exec.Command(os.Args[0], "--config.file="+path, "--web.listen-address="+addr)
	cmd.Env = append(os.Environ(), runMainEnv+"=1")
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() { cmd.Process.Kill() })
	testutil.WaitFor(t, func() bool {
		resp, err := http.Get("http://" + addr + "/-/ready")
		if err == nil {
			resp.Body.Close()
		}
		return err == nil && resp.StatusCode == http.StatusOK
	})

	type result struct {
		code int
		body string
		err  error
	}
	scraped := make(chan result, 1)
	go func() {
		req, _ := http.NewRequest(http.MethodGet, "http://"+addr+"/metrics", nil)
		req.Header.Set("X-Prometheus-Scrape-Timeout-Seconds", "60")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			scraped <- result{err: err}
			return
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		scraped <- result{resp.StatusCode, string(body), err}
	}()
	<-hanging
	signalled := time.Now()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if took := time.Since(signalled); took > 2*time.Second {
			t.Errorf("exited %s after SIGTERM, want within 2s", took)
		}
		if err != nil {
			t.Errorf("exit after SIGTERM: %v\n%s", err, logs.String())
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("still running 5s after SIGTERM:\n%s", logs.String())
	}
	r := <-scraped
	if r.err != nil || r.code != http.StatusOK {
		t.Fatalf("the scrape in flight: HTTP %d, %v\n%s", r.code, r.err, logs.String())
	}
	if !strings.Contains(r.body, `cloudquota_up{service="cts",target="audit-hanging"} 0`) {
		t.Errorf("the hanging target is not down in the answer:\n%s", r.body)
	}
}

// A file with ${VAR} checked without --config.expand-environment-variables
// is valid as written (the text is taken literally), with a warning.
func TestConfigCheckWarnsOfUnexpandedVariables(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cloudquota.yml")
	yaml := strings.Replace(demo.ConfigYAML("http://127.0.0.1:9"), "secret_key: demo-secret-key-0000000000000001", "secret_key: ${HW_SK}", 1)
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	r := runCaptured(t, []string{"--config.check", "--config.file=" + path})
	if r.code != 0 || !strings.Contains(r.output, "refers to ${HW_SK}, but --config.expand-environment-variables is not set") {
		t.Errorf("exit %d: %s", r.code, r.output)
	}
	t.Setenv("HW_SK", "from-the-environment")
	r = runCaptured(t, []string{"--config.check", "--config.file=" + path, "--config.expand-environment-variables"})
	if r.code != 0 || strings.Contains(r.output, "warning") {
		t.Errorf("with the flag: exit %d: %s", r.code, r.output)
	}
}
