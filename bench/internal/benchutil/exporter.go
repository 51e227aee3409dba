package benchutil

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"github.com/cloudquota/cloudquota_exporter/internal/testutil"
)

// FreePort returns a loopback address, 127.0.0.1:port, that was free a
// moment ago.
func FreePort() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	addr := l.Addr().String()
	return addr, l.Close()
}

// Exporter is a running exporter process.
type Exporter struct {
	// Addr is the address it listens on, Base the URL of that address.
	Addr, Base string
	// Pid is its process id.
	Pid int

	cmd     *exec.Cmd
	log     *testutil.SyncBuffer // stdout and stderr
	exited  chan struct{}
	waitErr error // of cmd.Wait, once exited is closed
}

// logTailLines is how much of the log an error shows.
const logTailLines = 20

// Start runs bin with --web.listen-address=addr and args. Its output is
// kept for Log and, when logPath is not empty, also written to that file
// as it comes, so that it survives the harness.
func Start(bin, addr, logPath string, args ...string) (*Exporter, error) {
	e := &Exporter{Addr: addr, Base: "http://" + addr, log: &testutil.SyncBuffer{}, exited: make(chan struct{})}
	var out io.Writer = e.log
	var file *os.File
	if logPath != "" {
		var err error
		if file, err = os.Create(logPath); err != nil {
			return nil, err
		}
		out = io.MultiWriter(e.log, file)
	}
	e.cmd = exec.Command(bin, append([]string{"--web.listen-address=" + addr}, args...)...)
	e.cmd.Stdout, e.cmd.Stderr = out, out
	if err := e.cmd.Start(); err != nil {
		if file != nil {
			file.Close()
		}
		return nil, fmt.Errorf("starting the exporter: %w", err)
	}
	e.Pid = e.cmd.Process.Pid
	go func() {
		e.waitErr = e.cmd.Wait()
		if file != nil {
			file.Close()
		}
		close(e.exited)
	}()
	return e, nil
}

// WaitReady polls /-/ready every 50 ms until it answers 200. It fails when
// the exporter exits, ctx ends or timeout passes; the exporter is then
// stopped.
func (e *Exporter) WaitReady(ctx context.Context, timeout time.Duration) error {
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(timeout)
	for {
		select {
		case <-e.exited:
			return fmt.Errorf("exporter exited during start-up (%v); its log:\n%s", e.waitErr, e.LogTail(logTailLines))
		case <-ctx.Done():
			e.Stop(10 * time.Second) //nolint:errcheck // the start-up failed already
			return ctx.Err()
		default:
		}
		resp, err := client.Get(e.Base + "/-/ready")
		if err == nil {
			io.Copy(io.Discard, resp.Body) //nolint:errcheck // only the status matters
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) {
			e.Stop(10 * time.Second) //nolint:errcheck // the start-up failed already
			return fmt.Errorf("exporter not ready on %s after %v; its log:\n%s", e.Addr, timeout, e.LogTail(logTailLines))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Stop sends SIGTERM and waits for the exit. It returns the exit code, or
// an error when the exporter had exited already or did not exit within
// timeout (it is then killed).
func (e *Exporter) Stop(timeout time.Duration) (int, error) {
	if e.Alive() != nil {
		return e.cmd.ProcessState.ExitCode(), fmt.Errorf("exporter had already exited")
	}
	if err := e.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return -1, err
	}
	select {
	case <-e.exited:
		return e.cmd.ProcessState.ExitCode(), nil
	case <-time.After(timeout):
		e.cmd.Process.Kill() //nolint:errcheck // it may just have exited
		<-e.exited
		return -1, fmt.Errorf("no exit %v after SIGTERM; killed", timeout)
	}
}

// Signal sends sig to the exporter, for example SIGHUP to reload.
func (e *Exporter) Signal(sig os.Signal) error { return e.cmd.Process.Signal(sig) }

// Exited is closed when the exporter has exited.
func (e *Exporter) Exited() <-chan struct{} { return e.exited }

// Alive is nil while the exporter runs; after it exited, an error that
// says how, with the end of its log.
func (e *Exporter) Alive() error {
	select {
	case <-e.exited:
		return fmt.Errorf("exporter exited (%v); its log:\n%s", e.waitErr, e.LogTail(logTailLines))
	default:
		return nil
	}
}

// Log returns everything the exporter wrote so far.
func (e *Exporter) Log() string { return e.log.String() }

// LogTail returns the last n lines of the log.
func (e *Exporter) LogTail(n int) string {
	lines := strings.Split(strings.TrimRight(e.Log(), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
