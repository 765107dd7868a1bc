// Package server is the dispatch_exporter program below main: its flags,
// its logger, the handlers it mounts (the in-process demo or the sidecar's
// targets) and serving them with exporter-toolkit. main calls Run.
package server

import (
	"context"
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/go-kit/log/level"
	"github.com/prometheus/common/version"
	"github.com/prometheus/exporter-toolkit/web"
)

const program = "dispatch_exporter"

// Run is the whole program: flags → parse → logger → handlers → serve. It
// returns the exit code once ctx ends or the server fails. A bad flag or
// file ends it before it serves anything, with one line that names the flag
// or file and a non-zero code. --version prints what
// github.com/prometheus/common/version holds, which main sets first.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	f := newFlags(stdout, stderr)
	if code, ok := f.parse(args, stderr); !ok {
		return code
	}
	logs := newLogger(stderr, f.logLevel, f.logFormat)
	if f.configCheck {
		return checkConfig(f.configFile, stdout, logs.logger)
	}
	if err := web.Validate(*f.web.WebConfigFile); err != nil {
		level.Error(logs.logger).Log("msg", "bad --web.config.file", "file", *f.web.WebConfigFile, "err", err)
		return 1
	}
	level.Info(logs.logger).Log("msg", "starting "+program, "version", version.Info(), "build_context", version.BuildContext())
	mux, stop, code := handlers(ctx, f, logs.logger)
	if mux == nil {
		return code
	}
	defer stop()
	return serve(ctx, mux, f.web, logs)
}

// serve serves handler on the addresses and with the TLS and auth of
// webFlags until ctx ends (exit code 0) or the server fails (1).
func serve(ctx context.Context, handler http.Handler, webFlags *web.FlagConfig, logs loggers) int {
	server := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second, ErrorLog: httpErrorLog(logs.bridge)}
	errc := make(chan error, 1)
	go func() { errc <- web.ListenAndServe(server, webFlags, logs.slog) }()
	select {
	case err := <-errc:
		level.Error(logs.logger).Log("msg", "server failed", "err", err)
		return 1
	case <-ctx.Done():
		level.Info(logs.logger).Log("msg", "shutting down")
		shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := server.Shutdown(shutdownCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
			level.Warn(logs.logger).Log("msg", "shutdown", "err", err)
		}
		return 0
	}
}
