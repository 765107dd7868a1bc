// Package server is the dispatch_exporter program below main: its flags,
// its logger, the handlers it mounts (the in-process demo or the sidecar's
// targets) and serving them with exporter-toolkit. main calls Run.
package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/coreos/go-systemd/v22/activation"
	"github.com/go-kit/log/level"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/version"
	"github.com/prometheus/exporter-toolkit/web"

	"github.com/stoneforge/dispatch_exporter/collector/family"
)

const program = "dispatch_exporter"

// The HTTP server's limits beside the flags' (README: "Limits").
const (
	// readHeaderTimeout bounds a client that sends its headers slowly.
	readHeaderTimeout = 10 * time.Second
	// writeTimeout bounds a request from its headers to its last byte
	// written, and readTimeout from its first byte to its last byte read
	// (net/http cancels a request's context at readTimeout, so it is no
	// shorter). Every handler ends well inside: a scrape within
	// min(target timeout, scrape timeout − offset), the target timeout
	// being at most config.MaxTargetTimeout (1m); the landing page within
	// --target.timeout; pprof's CPU profile, which the landing page links
	// for 60s, refuses a duration at or over writeTimeout.
	writeTimeout = 2 * time.Minute
	readTimeout  = writeTimeout
	// maxHeaderBytes bounds the headers read per request (net/http adds
	// 4 KiB): Prometheus and the kubelet send under 1 KiB, a basic-auth
	// header or a proxy's cookies a few more; 1 MiB (net/http's default)
	// let 50 clients with 900 KB headers add 75 MiB before any login was
	// checked. Over it: 431 Request Header Fields Too Large.
	maxHeaderBytes = 32 << 10
)

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
	conns := newConnLimit(maxConnections(f.maxConns, openFileLimit(), logs), prometheus.NewCounter(prometheus.CounterOpts{
		Name: family.ShedConnectionsMetric,
		Help: "Client connections closed to stay within --web.max-connections: the oldest one serving no request, or a new one when every one is serving a request.",
	}))
	mux, stop, code := handlers(ctx, f, conns.shed, logs.logger)
	if mux == nil {
		return code
	}
	defer stop()
	return serve(ctx, newServer(mux, f.idleTimeout, conns, logs), conns, f.web, logs)
}

// maxConnections is --web.max-connections, lowered to half the open file
// limit (nofile, 0 when unknown) when that is less: the other half is for
// status requests (at most one per target at a time), files and the
// listeners, so that accept never fails for want of a descriptor.
func maxConnections(flag int, nofile uint64, logs loggers) int {
	if nofile == 0 || uint64(flag) <= nofile/2 {
		return flag
	}
	lowered := max(int(nofile/2), 1)
	level.Warn(logs.logger).Log("msg", "--web.max-connections lowered to half the open file limit", "max_connections", lowered,
		"flag", flag, "open_file_limit", nofile)
	return lowered
}

// newServer is the exporter's HTTP server with its limits: timeouts, a
// header size and conns' connection tracking.
func newServer(handler http.Handler, idleTimeout time.Duration, conns *connLimit, logs loggers) *http.Server {
	return &http.Server{
		Handler:           conns.serving(handler),
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ConnState:         conns.connState,
		ConnContext:       conns.connContext,
		ErrorLog:          httpErrorLog(logs.bridge),
	}
}

// serve serves server on the addresses (or systemd's sockets) and with the
// TLS and auth of webFlags, each listener within conns, until ctx ends
// (exit code 0) or the server fails (1).
func serve(ctx context.Context, server *http.Server, conns *connLimit, webFlags *web.FlagConfig, logs loggers) int {
	listeners, err := listen(webFlags)
	if err != nil {
		level.Error(logs.logger).Log("msg", "server failed", "err", err)
		return 1
	}
	for i, l := range listeners {
		listeners[i] = conns.listener(l)
	}
	errc := make(chan error, 1)
	go func() { errc <- web.ServeMultiple(listeners, server, webFlags, logs.slog) }()
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

// listen opens what exporter-toolkit's ListenAndServe would (systemd's
// sockets, else each --web.listen-address), so that serve can wrap them.
func listen(webFlags *web.FlagConfig) ([]net.Listener, error) {
	if webFlags.WebSystemdSocket != nil && *webFlags.WebSystemdSocket {
		listeners, err := activation.Listeners()
		if err != nil {
			return nil, fmt.Errorf("systemd socket activation: %w", err)
		}
		if len(listeners) == 0 {
			return nil, errors.New("no socket activation file descriptors found")
		}
		return listeners, nil
	}
	listeners := make([]net.Listener, 0, len(*webFlags.WebListenAddresses))
	for _, addr := range *webFlags.WebListenAddresses {
		l, err := net.Listen("tcp", addr)
		if err != nil {
			for _, open := range listeners {
				_ = open.Close()
			}
			return nil, fmt.Errorf("listen: %w", err)
		}
		listeners = append(listeners, l)
	}
	return listeners, nil
}
