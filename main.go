// Command dispatch_exporter exports the health of a dispatch daemon's poll
// loop to Prometheus: as a sidecar reading a smithy-compatible status
// endpoint, or (--demo) for a simulated daemon running in process.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	stdlog "log"
	"log/slog"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	versioncollector "github.com/prometheus/client_golang/prometheus/collectors/version"
	"github.com/prometheus/common/version"
	"github.com/prometheus/exporter-toolkit/web"
	webflag "github.com/prometheus/exporter-toolkit/web/kingpinflag"
	slgk "github.com/tjhop/slog-gokit"

	"github.com/stoneforge/dispatch_exporter/collector"
	"github.com/stoneforge/dispatch_exporter/collector/handler"
	"github.com/stoneforge/dispatch_exporter/dispatch/demo"
)

const program = "dispatch_exporter"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// run is the whole program; it returns the exit code once ctx ends or the
// server fails.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	// Flags.
	app := kingpin.New(program, "Prometheus exporter for a dispatch daemon's poll loop: is it wedged, is its queue stuck.")
	app.Version(version.Print(program)).HelpFlag.Short('h')
	app.UsageWriter(stdout).ErrorWriter(stderr)
	var (
		webFlags    = webflag.AddFlags(app, ":9847")
		metricsPath = app.Flag("web.telemetry-path", "Path under which to expose metrics.").Default("/metrics").String()
		noSelf      = app.Flag("web.disable-exporter-metrics", "Exclude metrics about the exporter itself (go_*, process_*) from /metrics.").Bool()
		logLevel    = app.Flag("log.level", "Only log messages with the given severity or above.").Default("info").Enum("debug", "info", "warn", "error")
		logFormat   = app.Flag("log.format", "Output format of log messages.").Default("logfmt").Enum("logfmt", "json")

		targetURL     = app.Flag("target.url", "Status endpoint of the daemon to watch (sidecar mode, without --config.file).").Default("http://localhost:3457/api/daemon/status").URL()
		targetTimeout = app.Flag("target.timeout", "Timeout of each status request; a Prometheus scrape timeout bounds it further.").Default("5s").Duration()
		timeoutOffset = app.Flag("target.timeout-offset", "Subtracted from Prometheus' scrape timeout to leave time to answer.").Default("0.5s").Duration()
		maxBody       = app.Flag("target.max-body-bytes", "Largest status body accepted.").Default("1MiB").Bytes()
		configFile    = app.Flag("config.file", "YAML file of named targets with HTTP client options, served on /probe?target=NAME. Reloaded on SIGHUP and POST /-/reload.").String()
		configCheck   = app.Flag("config.check", "Validate --config.file and exit.").Bool()
		livenessMode  = app.Flag("liveness.mode", "enforce: /-/target/healthy answers 503 when the daemon should be restarted; shadow: answers 200 and logs 'would restart'.").Default("enforce").Enum("enforce", "shadow")
		livenessWait  = app.Flag("liveness.timeout", "Longest /-/target/healthy waits for the daemon before answering from its last good status. Keep it under the probe's timeoutSeconds.").Default("2s").Duration()

		staleThreshold = app.Flag("poll.stale-threshold", "Staleness threshold; default: the daemon's, else max(60s, 10 × poll interval).").Default("0s").Duration()
		stackDir       = app.Flag("watchdog.stack-dump-dir", "Directory for goroutine dumps taken when an in-process loop wedges; default: the log.").String()

		demoMode     = app.Flag("demo", "Run a simulated dispatch daemon in process and export it, with fault injection under /demo/.").Bool()
		demoInterval = app.Flag("demo.poll-interval", "Poll interval of the simulated daemon.").Default("5s").Duration()
	)

	// Parse.
	if _, err := app.Parse(args); err != nil {
		fmt.Fprintf(stderr, "%s: %s; try --help\n", program, err)
		return 2
	}

	// Logger: go-kit for our code; exporter-toolkit's slog logger writes
	// through it, so there is one stream in one format.
	logger, bridge := newLoggers(stderr, *logLevel, *logFormat)
	slogger := slog.New(slgk.NewGoKitHandler(bridge, slogLevel(*logLevel)))

	if *configCheck {
		return checkConfig(*configFile, stdout, logger)
	}
	level.Info(logger).Log("msg", "starting "+program, "version", version.Info(), "build_context", version.BuildContext())

	// Handlers.
	reg := prometheus.NewRegistry()
	reg.MustRegister(versioncollector.NewCollector(program))
	if !*noSelf {
		reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	mux := http.NewServeMux()
	landing := web.LandingConfig{
		Name:        program,
		Description: "Prometheus exporter for a dispatch daemon's poll loop",
		Version:     version.Info(),
		Links:       []web.LandingLinks{{Address: *metricsPath, Text: "Metrics"}},
	}
	var states func() []collector.LoopState
	if *demoMode {
		d, err := demo.New(demo.Options{Interval: *demoInterval, StaleThreshold: *staleThreshold, Logger: logger, StackDumpDir: *stackDir})
		if err != nil {
			level.Error(logger).Log("msg", "cannot start the demo", "err", err)
			return 2
		}
		lc, err := collector.NewLoopCollector(d.Loop())
		if err != nil {
			level.Error(logger).Log("msg", "cannot export the demo", "err", err)
			return 2
		}
		reg.MustRegister(lc)
		mux.Handle(*metricsPath, handler.Exposition(reg, logger, true))
		d.Routes(mux)
		landing.Links = append(landing.Links, web.LandingLinks{Address: demo.StatusPath, Text: "Status", Description: "the demo daemon in smithy's JSON shape"})
		landing.ExtraHTML = demoHelp
		states = lc.States
		if err := d.Start(ctx); err != nil {
			level.Error(logger).Log("msg", "cannot start the demo", "err", err)
			return 1
		}
		defer func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = d.Shutdown(ctx)
		}()
		level.Info(logger).Log("msg", "demo daemon running", "poll_interval", *demoInterval)
	} else {
		targets := collector.NewTargets(collector.TargetDefaults{
			Timeout: *targetTimeout, StaleThreshold: *staleThreshold, MaxBodyBytes: int64(*maxBody), Logger: logger,
			DisableKeepAlives: *configFile != "", // many targets: hold no idle connections
		})
		reloader := collector.NewReloader(*configFile, targets, reg, logger)
		side := &handler.Sidecar{Targets: targets, Self: reg, TimeoutOffset: *timeoutOffset,
			LivenessShadow: *livenessMode == "shadow", LivenessTimeout: *livenessWait, Logger: logger}
		if *configFile == "" {
			side.Default = collector.DefaultTargetName
			if err := targets.Apply(collector.SingleTarget((*targetURL).String())); err != nil {
				level.Error(logger).Log("msg", "bad --target.url", "err", err)
				return 2
			}
			level.Info(logger).Log("msg", "watching one daemon", "url", (*targetURL).String())
		}
		if err := reloader.Reload(); err != nil {
			return 1 // logged by Reload
		}
		mux.HandleFunc(*metricsPath, side.Metrics)
		mux.HandleFunc("/probe", side.Probe)
		mux.HandleFunc("/-/target/healthy", side.TargetHealthy)
		mux.Handle("/-/reload", handler.Reload(reloader.Reload))
		landing.Links = append(landing.Links,
			web.LandingLinks{Address: "-/target/healthy", Text: "Target health", Description: "liveness probe for the daemon's container"})
		landing.Form = web.LandingForm{Action: "/probe", Inputs: []web.LandingFormInput{{Label: "Target", Type: "text", Name: "target", Placeholder: "name", Value: collector.DefaultTargetName}}}
		states = targets.States
		go reloadOnSIGHUP(ctx, reloader)
	}
	mux.HandleFunc("/debug/pprof/", pprof.Index) // the landing page links heap and CPU profiles
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.Handle("/-/healthy", handler.Text("Healthy"))
	mux.Handle("/-/ready", handler.Text("Ready"))
	if *metricsPath != "/" {
		mux.Handle("/", handler.Landing(landing, states))
	}

	// Serve.
	server := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second,
		ErrorLog: stdlog.New(log.NewStdlibAdapter(level.Warn(logger)), "", 0)}
	errc := make(chan error, 1)
	go func() { errc <- web.ListenAndServe(server, webFlags, slogger) }()
	select {
	case err := <-errc:
		level.Error(logger).Log("msg", "server failed", "err", err)
		return 1
	case <-ctx.Done():
		level.Info(logger).Log("msg", "shutting down")
		shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := server.Shutdown(shutdownCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
			level.Warn(logger).Log("msg", "shutdown", "err", err)
		}
		return 0
	}
}

const demoHelp = `<h3>Fault injection</h3><ul>
<li><code>curl -XPOST localhost:9847/demo/wedge</code>: the next cycle hangs (optionally <code>?phase=inbox</code>) until <code>/demo/unwedge</code></li>
<li><code>curl -XPOST 'localhost:9847/demo/workers?n=0'</code>: no workers, so ready tasks are stuck; <code>/demo/tasks?n=3</code> adds tasks</li>
<li><code>curl -XPOST localhost:9847/demo/stop</code> and <code>/demo/start</code>: stop and start the loop</li></ul>`

// newLoggers returns a go-kit logger at the given level and format, with
// UTC timestamps and callers, and the same stream for the slog bridge, which
// brings its own caller and whose "time" is dropped for our "ts".
func newLoggers(w io.Writer, lvl, format string) (logger, bridge log.Logger) {
	var base log.Logger
	if format == "json" {
		base = log.NewJSONLogger(log.NewSyncWriter(w))
	} else {
		base = log.NewLogfmtLogger(log.NewSyncWriter(w))
	}
	base = level.NewFilter(base, level.Allow(level.ParseDefault(lvl, level.InfoValue())))
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

func slogLevel(lvl string) slog.Level {
	var l slog.Level
	_ = l.UnmarshalText([]byte(lvl))
	return l
}

// checkConfig is --config.check: load the file and build every target's
// HTTP client, as a reload would.
func checkConfig(path string, stdout io.Writer, logger log.Logger) int {
	if path == "" {
		level.Error(logger).Log("msg", "--config.check needs --config.file")
		return 2
	}
	cfg, err := collector.LoadConfig(path)
	if err == nil {
		err = collector.NewTargets(collector.TargetDefaults{}).Apply(cfg)
	}
	if err != nil {
		level.Error(logger).Log("msg", "config is invalid", "file", path, "err", err)
		return 1
	}
	fmt.Fprintf(stdout, "%s: config OK, %d target(s)\n", path, len(cfg.Targets))
	return 0
}

func reloadOnSIGHUP(ctx context.Context, r *collector.Reloader) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			_ = r.Reload() // logged by Reload
		}
	}
}
