// Package logging builds the exporter's go-kit logger from --log.level and
// --log.format, and the same logger as a *slog.Logger for exporter-toolkit.
package logging

import (
	"fmt"
	"io"
	"log/slog"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	slgk "github.com/tjhop/slog-gokit"
)

// logLevels maps --log.level to go-kit's filter and to the slog level that
// the bridge for exporter-toolkit reports as enabled.
var logLevels = map[string]struct {
	option level.Option
	slog   slog.Level
}{
	"debug": {level.AllowDebug(), slog.LevelDebug},
	"info":  {level.AllowInfo(), slog.LevelInfo},
	"warn":  {level.AllowWarn(), slog.LevelWarn},
	"error": {level.AllowError(), slog.LevelError},
}

// New returns the go-kit logger used throughout, and the same logger as a
// *slog.Logger for exporter-toolkit, which demands one.
func New(w io.Writer, lvl, format string) (log.Logger, *slog.Logger, error) {
	l, ok := logLevels[lvl]
	if !ok {
		return nil, nil, fmt.Errorf("unknown log level %q", lvl)
	}
	var logger log.Logger
	switch format {
	case "logfmt":
		logger = log.NewLogfmtLogger(log.NewSyncWriter(w))
	case "json":
		logger = log.NewJSONLogger(log.NewSyncWriter(w))
	default:
		return nil, nil, fmt.Errorf("unknown log format %q", format)
	}
	logger = level.NewFilter(logger, l.option)
	// The bridge adds its own time and caller, so it gets the logger
	// before ours are added; its time key is renamed so that every line
	// has its timestamp under the same key.
	bridge := slog.New(slgk.NewGoKitHandler(renameKey{next: logger, from: "time", to: timestampKey}, l.slog))
	logger = log.With(logger, timestampKey, log.DefaultTimestampUTC, "caller", log.DefaultCaller)
	return logger, bridge, nil
}

// timestampKey is where every line has its time, as in go-kit's own
// examples and the Prometheus exporters built on it.
const timestampKey = "ts"

// renameKey is a logger that writes the key from as to.
type renameKey struct {
	next     log.Logger
	from, to string
}

// Log renames the key and passes the line on.
func (r renameKey) Log(keyvals ...any) error {
	out := append([]any(nil), keyvals...)
	for i := 0; i < len(out); i += 2 {
		if out[i] == r.from {
			out[i] = r.to
		}
	}
	return r.next.Log(out...)
}
