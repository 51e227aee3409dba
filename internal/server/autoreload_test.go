package server

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cloudquota/cloudquota_exporter/internal/testutil"
)

// --config.auto-reload-interval: a change to the configuration file, or
// to a secret file it names (a rotated Kubernetes Secret), is reloaded
// without a signal; nothing changed, nothing reloaded; a broken file is
// reported once and the running configuration stays.
func TestAutoReloadPicksUpChangedFiles(t *testing.T) {
	e := newEnv(t, envOptions{})
	secretFile := filepath.Join(filepath.Dir(e.configPath), "media.secret")
	if err := os.WriteFile(secretFile, []byte("demo-library-secret-prod\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	e.apply(t, strings.Replace(e.yaml, "library_secret: demo-library-secret-prod", "library_secret_file: "+secretFile, 1))
	e.scrapeAllUp(t)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go e.srv.AutoReload(ctx, 10*time.Millisecond)
	reloads := func() int { return strings.Count(e.logs.String(), `msg="Configuration reloaded"`) }
	time.Sleep(100 * time.Millisecond)
	if n := reloads(); n != 0 {
		t.Fatalf("%d reloads with nothing changed", n)
	}

	// The configuration file.
	e.writeConfig(t, strings.Replace(e.yaml, "name: audit-dev", "name: audit-renamed", 1))
	testutil.WaitFor(t, func() bool { code, _ := e.get(t, "/probe?target=audit-renamed"); return code == http.StatusOK })
	if n := reloads(); n != 1 {
		t.Errorf("%d reloads for one change, want 1", n)
	}

	// A secret file it names: a wrong secret makes media-prod fail, so the
	// rotation has reached the client.
	writeAtomically(t, secretFile, "rotated-wrong-secret\n")
	testutil.WaitFor(t, func() bool { return reloads() == 2 })
	if _, body := e.get(t, "/probe?target=media-prod", scrapeTimeoutHeader, "10"); !strings.Contains(body, `cloudquota_up{service="smh",target="media-prod"} 0`) {
		t.Errorf("the rotated secret was not used:\n%s", body)
	}

	// A broken file: one failed reload, logged once; the old one runs on.
	e.writeConfig(t, "targets: [\n")
	testutil.WaitFor(t, func() bool { return strings.Contains(e.logs.String(), "Configuration reload failed") })
	time.Sleep(100 * time.Millisecond)
	if n := strings.Count(e.logs.String(), "Configuration reload failed"); n != 1 {
		t.Errorf("the broken file was reloaded %d times, want once", n)
	}
	if code, _ := e.get(t, "/probe?target=audit-renamed"); code != http.StatusOK {
		t.Errorf("a broken file dropped the running configuration")
	}
	if _, body := e.get(t, "/metrics?targets=none"); !strings.Contains(body, "cloudquota_exporter_config_last_reload_successful 0") {
		t.Errorf("the reload gauge does not say the reload failed")
	}
}

// A configuration naming a secret file that is not there yet fails to
// load; once the file appears (a Secret mounted after its ConfigMap), the
// next interval loads it, without another change to the configuration.
func TestAutoReloadRetriesUntilTheSecretFileAppears(t *testing.T) {
	e := newEnv(t, envOptions{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go e.srv.AutoReload(ctx, 10*time.Millisecond)
	time.Sleep(100 * time.Millisecond) // it has read the files as they are
	secretFile := filepath.Join(filepath.Dir(e.configPath), "late.secret")
	e.writeConfig(t, strings.Replace(strings.Replace(e.yaml, "library_secret: demo-library-secret-prod", "library_secret_file: "+secretFile, 1), "name: audit-dev", "name: audit-late", 1))
	testutil.WaitFor(t, func() bool { return strings.Contains(e.logs.String(), "Configuration reload failed") })
	writeAtomically(t, secretFile, "demo-library-secret-prod\n")
	testutil.WaitFor(t, func() bool { code, _ := e.get(t, "/probe?target=audit-late"); return code == http.StatusOK })
	if n := strings.Count(e.logs.String(), "Configuration reload failed"); n != 1 {
		t.Errorf("the missing file was logged %d times, want once", n)
	}
}

// A file that changes while a reload is under way (after the reload read
// it) is reloaded at the next interval, not taken for what was loaded.
func TestAutoReloadSeesAChangeMadeDuringAReload(t *testing.T) {
	var duringLoad atomic.Pointer[func()]
	e := newEnv(t, envOptions{afterLoad: func() {
		if f := duringLoad.Swap(nil); f != nil {
			(*f)()
		}
	}})
	secretFile := filepath.Join(filepath.Dir(e.configPath), "media.secret")
	writeAtomically(t, secretFile, "demo-library-secret-prod\n")
	e.apply(t, strings.Replace(e.yaml, "library_secret: demo-library-secret-prod", "library_secret_file: "+secretFile, 1))

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go e.srv.AutoReload(ctx, 10*time.Millisecond)
	reloads := func() int { return strings.Count(e.logs.String(), `msg="Configuration reloaded"`) }
	time.Sleep(100 * time.Millisecond)

	rotate := func() { writeAtomically(t, secretFile, "rotated-wrong-secret\n") }
	duringLoad.Store(&rotate)
	e.writeConfig(t, strings.Replace(e.yaml, "name: audit-dev", "name: audit-renamed", 1))
	testutil.WaitFor(t, func() bool { return reloads() == 2 })
	if _, body := e.get(t, "/probe?target=media-prod", scrapeTimeoutHeader, "10"); !strings.Contains(body, `cloudquota_up{service="smh",target="media-prod"} 0`) {
		t.Errorf("the secret rotated during the first reload was not used:\n%s", body)
	}
}
