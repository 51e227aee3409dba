//go:build unix

package config

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// loadPromptly runs Load with a deadline: a secret file that blocks the
// read would otherwise hang the test run rather than fail it.
func loadPromptly(t *testing.T, path string) error {
	t.Helper()
	done := make(chan error, 1)
	go func() {
		_, err := Load(path, false)
		done <- err
	}()
	select {
	case err := <-done:
		return err
	case <-time.After(5 * time.Second):
		t.Fatalf("Load(%q) still blocked after 5s", path)
		return nil
	}
}

// A *_file key must name a regular file. A FIFO, a device or a directory
// is a load error naming the key and the file, and never blocks (a FIFO
// with no writer would block an ordinary open or read forever).
func TestSecretFileMustBeRegular(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "secret.fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	sub := filepath.Join(dir, "secret.d")
	if err := os.Mkdir(sub, 0o700); err != nil {
		t.Fatal(err)
	}
	// A link to a FIFO is judged by what it points to.
	link := filepath.Join(dir, "link-to-fifo")
	if err := os.Symlink(fifo, link); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ path, what string }{
		{fifo, "a FIFO (named pipe)"},
		{link, "a FIFO (named pipe)"},
		{"/dev/null", "a device"},
		{sub, "a directory"},
	} {
		if _, err := os.Stat(tc.path); err != nil {
			t.Logf("%s: %v; skipped", tc.path, err)
			continue
		}
		cfg := filepath.Join(dir, "cloudquota.yml")
		body := fmt.Sprintf("credentials:\n  - name: media\n    type: tencent_smh\n    library_id: lib\n    library_secret_file: %q\n", tc.path)
		if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		err := loadPromptly(t, cfg)
		want := fmt.Sprintf(`credential "media": library_secret_file: cannot read %q: is %s`, tc.path, tc.what)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v\nwant an error with %s", tc.path, err, want)
		}
		if took := time.Since(start); took > time.Second {
			t.Errorf("%s: Load took %v", tc.path, took)
		}
	}
}

// A regular file behind a symbolic link (as Kubernetes mounts secrets) is
// read as before.
func TestSecretFileThroughSymlink(t *testing.T) {
	dir := t.TempDir()
	real := filepath.Join(dir, "..data-secret")
	if err := os.WriteFile(real, []byte("lib-secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "secret")
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "cloudquota.yml")
	body := "credentials:\n  - name: media\n    type: tencent_smh\n    library_id: lib\n    library_secret_file: secret\n"
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(cfg, false)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Credentials[0].LibrarySecret.Value(); got != "lib-secret" {
		t.Errorf("secret %q", got)
	}
}
