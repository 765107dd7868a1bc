package server

import (
	"io"
	stdlog "log"
	"log/slog"
	"strings"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	slgk "github.com/tjhop/slog-gokit"
)

// loggers are the exporter's one log stream, in one format, every line
// starting ts, caller, level: go-kit for our code, and the same stream for
// exporter-toolkit's slog logger and net/http's error log.
type loggers struct {
	logger log.Logger   // ours: with a caller
	bridge log.Logger   // for sources that bring their own caller
	slog   *slog.Logger // exporter-toolkit's, through bridge
}

// newLogger is the exporter's logging at the given level and format,
// writing to w.
func newLogger(w io.Writer, lvl, format string) loggers {
	logger, bridge := newLoggers(w, lvl, format)
	return loggers{logger: logger, bridge: bridge, slog: slog.New(slgk.NewGoKitHandler(bridge, slogLevel(lvl)))}
}

// newLoggers returns a go-kit logger at the given level and format, with
// UTC timestamps and callers, and the same stream without a caller for
// sources that bring their own (the slog bridge, net/http's error log),
// which also drops slog's "time" for our "ts".
func newLoggers(w io.Writer, lvl, format string) (logger, bridge log.Logger) {
	var out log.Logger
	if format == "json" {
		out = log.NewJSONLogger(log.NewSyncWriter(w))
	} else {
		out = log.NewLogfmtLogger(log.NewSyncWriter(w))
	}
	base := level.NewFilter(inOrder(out), level.Allow(level.ParseDefault(lvl, level.InfoValue())))
	bridged := log.With(base, "ts", log.DefaultTimestampUTC)
	bridge = log.LoggerFunc(func(kv ...any) error {
		for i := 0; i+1 < len(kv); i += 2 {
			if kv[i] == "time" {
				kv = append(kv[:i:i], kv[i+2:]...)
				break
			}
		}
		return bridged.Log(kv...)
	})
	return log.With(base, "ts", log.DefaultTimestampUTC, "caller", log.DefaultCaller), bridge
}

// inOrder puts ts, caller and level first on every line, in this order, as
// Prometheus' own logs do (the first of each, should one come twice), then
// the rest in the order given: our go-kit lines add "level" first
// (level.Info prepends it), exporter-toolkit's slog lines put their time
// first; both come out the same.
func inOrder(next log.Logger) log.Logger {
	headKeys := [...]string{"ts", "caller", "level"}
	return log.LoggerFunc(func(kv ...any) error {
		out := make([]any, 0, len(kv)+1)
		var taken [len(headKeys)]bool
		for h, key := range headKeys {
			for i := 0; i+1 < len(kv); i += 2 {
				if kv[i] == key {
					out = append(out, kv[i], kv[i+1])
					taken[h] = true
					break
				}
			}
		}
	rest:
		for i := 0; i+1 < len(kv); i += 2 {
			for h, key := range headKeys {
				if taken[h] && kv[i] == key {
					continue rest
				}
			}
			out = append(out, kv[i], kv[i+1])
		}
		if len(kv)%2 == 1 {
			out = append(out, kv[len(kv)-1])
		}
		return next.Log(out...)
	})
}

// httpErrorLog is an http.Server's ErrorLog writing to logger (one without
// a caller of its own): each net/http line ("http: TLS handshake error
// from ...") becomes one warning, net/http's file:line under "caller" and
// its text under "msg". go-kit's StdlibAdapter would read everything up to
// the last ":NNN: " as the caller, a client's address included.
func httpErrorLog(logger log.Logger) *stdlog.Logger {
	return stdlog.New(stdlibWriter{level.Warn(logger)}, "", stdlog.Lshortfile)
}

type stdlibWriter struct{ logger log.Logger }

func (w stdlibWriter) Write(p []byte) (int, error) {
	line := strings.TrimRight(string(p), "\n")
	kv := []any{"msg", line}
	// Lshortfile: "server.go:3512: http: TLS handshake error from ..."
	if caller, msg, ok := strings.Cut(line, ": "); ok && !strings.ContainsAny(caller, " /") && strings.Contains(caller, ".go:") {
		kv = []any{"caller", caller, "msg", msg}
	}
	return len(p), w.logger.Log(kv...)
}

func slogLevel(lvl string) slog.Level {
	var l slog.Level
	_ = l.UnmarshalText([]byte(lvl))
	return l
}
