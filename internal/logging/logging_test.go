package logging

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/go-kit/log/level"
)

func TestLoggerLevelAndFormat(t *testing.T) {
	var buf bytes.Buffer
	logger, slogger, err := New(&buf, "warn", "json")
	if err != nil {
		t.Fatal(err)
	}
	level.Info(logger).Log("msg", "hidden")
	level.Warn(logger).Log("msg", "shown", "target", "x")
	slogger.Info("hidden too")
	slogger.Error("bridged")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("want the warn and error lines only, got:\n%s", buf.String())
	}
	var entry map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &entry); err != nil {
		t.Fatalf("not JSON: %s", lines[0])
	}
	if entry["msg"] != "shown" || entry["level"] != "warn" || entry["target"] != "x" || entry["ts"] == nil {
		t.Errorf("unexpected entry %v", entry)
	}
	if !strings.Contains(lines[1], "bridged") {
		t.Errorf("slog bridge line missing: %s", lines[1])
	}
	// One timestamp key on every line, the bridge's (exporter-toolkit's)
	// included, in both formats.
	var bridged map[string]any
	if err := json.Unmarshal([]byte(lines[1]), &bridged); err != nil {
		t.Fatalf("not JSON: %s", lines[1])
	}
	if bridged["ts"] == nil || bridged["time"] != nil {
		t.Errorf("bridged line's timestamp not under ts: %v", bridged)
	}
	var text bytes.Buffer
	_, slogText, _ := New(&text, "info", "logfmt")
	slogText.Info("Listening on", "address", ":9784")
	if line := text.String(); !strings.HasPrefix(line, "level=info") || !strings.Contains(line, " ts=") || strings.Contains(line, "time=") {
		t.Errorf("bridged logfmt line: %s", line)
	}
	if _, _, err := New(&buf, "loud", "logfmt"); err == nil {
		t.Error("unknown level accepted")
	}
	if _, _, err := New(&buf, "info", "xml"); err == nil {
		t.Error("unknown format accepted")
	}
}
