// Command dispatch_exporter exports the health of a dispatch daemon's poll
// loop to Prometheus: as a sidecar reading a smithy-compatible status
// endpoint, or (--demo) for a simulated daemon running in process.
package main

import (
	"context"
	"errors"
	"fmt"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/common/version"
	"github.com/prometheus/exporter-toolkit/web"
	webflag "github.com/prometheus/exporter-toolkit/web/kingpinflag"
	slgk "github.com/tjhop/slog-gokit"

	"github.com/stoneforge/dispatch_exporter/collector"
	"github.com/stoneforge/dispatch_exporter/collector/config"
	"github.com/stoneforge/dispatch_exporter/collector/family"
	"github.com/stoneforge/dispatch_exporter/collector/handler"
	"github.com/stoneforge/dispatch_exporter/collector/sidecar"
	"github.com/stoneforge/dispatch_exporter/dispatch/demo"
)

const program = "dispatch_exporter"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// run is the whole program; it returns the exit code once ctx ends or the
// server fails. A bad flag or file ends it before it serves anything, with
// one line that names the flag or file and a non-zero code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	build := readBuildInfo()

	// Flags.
	app := kingpin.New(program, "Prometheus exporter for a dispatch daemon's poll loop: is it wedged, is its queue stuck.")
	app.Version(build.Print(program)).HelpFlag.Short('h')
	app.UsageWriter(stdout).ErrorWriter(stderr)
	exited := -1 // --help and --version end run, not the process
	app.Terminate(func(code int) { exited = code })
	var f flagValues
	webFlags := webflag.AddFlags(app, ":9847")
	app.Flag("web.telemetry-path", "Path under which to expose metrics; not / and no other endpoint's.").Default("/metrics").StringVar(&f.metricsPath)
	noSelf := app.Flag("web.disable-exporter-metrics", "Exclude metrics about the exporter itself (go_*, process_*) from /metrics.").Bool()
	app.Flag("log.level", "Only log messages with the given severity or above: one of debug, info, warn, error.").Default("info").StringVar(&f.logLevel)
	app.Flag("log.format", "Output format of log messages: logfmt or json.").Default("logfmt").StringVar(&f.logFormat)

	app.Flag("target.url", "Status endpoint of the daemon to watch, http or https (sidecar mode, without --config.file).").
		Default("http://localhost:3457/api/daemon/status").IsSetByUser(&f.targetURLSet).StringVar(&f.targetURL)
	app.Flag("target.timeout", "Timeout of each status request; a Prometheus scrape timeout bounds it further.").Default("5s").DurationVar(&f.targetTimeout)
	app.Flag("target.timeout-offset", "Subtracted from Prometheus' scrape timeout to leave time to answer.").Default("0.5s").DurationVar(&f.timeoutOffset)
	app.Flag("target.max-body-bytes", "Largest status body accepted (e.g. 64KiB, 1MiB).").Default("1MiB").StringVar(&f.maxBodyText)
	app.Flag("config.file", "YAML file of named targets with HTTP client options, served on /probe?target=NAME. Reloaded on SIGHUP and POST /-/reload.").StringVar(&f.configFile)
	configCheck := app.Flag("config.check", "Validate --config.file and exit.").Bool()
	app.Flag("liveness.mode", "enforce: /-/target/healthy answers 503 when the daemon should be restarted; shadow: answers 200 and logs 'would restart'.").Default("enforce").StringVar(&f.livenessMode)
	app.Flag("liveness.failure-threshold", "The daemon's livenessProbe's failureThreshold: one restart request answers 503 to this many probes in a row (fewer when evidence ends it), so the kubelet restarts the daemon once per request.").Default("4").IntVar(&f.failureThreshold)
	app.Flag("liveness.restart-budget", "Restart requests /-/target/healthy makes for one hang (each after a longer grace) before it stops asking, answers 200 and dispatch_liveness_restart_budget_spent pages a person; restored when a cycle completes.").Default("3").IntVar(&f.restartBudget)
	app.Flag("liveness.termination-grace", "The daemon pod's terminationGracePeriodSeconds: how long a process the kubelet kills may go on serving. The process after a restart gets its grace from then on.").Default("30s").DurationVar(&f.terminationGrace)
	app.Flag("liveness.timeout", "Longest /-/target/healthy waits for the daemon. Past it the answer rests on the request still unanswered: a hang under way goes on counting; anything else answers 200. Keep it under the probe's timeoutSeconds.").Default("2s").DurationVar(&f.livenessWait)

	app.Flag("poll.stale-threshold", "Staleness threshold; default (0s): the daemon's, else max(60s, 10 × poll interval).").Default("0s").DurationVar(&f.staleThreshold)
	app.Flag("watchdog.stack-dump-dir", "Directory for goroutine dumps taken when an in-process loop wedges; default: dispatch-stacks-UID under the system's temporary directory.").StringVar(&f.stackDir)

	app.Flag("demo", "Run a simulated dispatch daemon in process and export it, with fault injection under /demo/.").BoolVar(&f.demo)
	app.Flag("demo.poll-interval", "Poll interval of the simulated daemon.").Default("5s").DurationVar(&f.demoInterval)

	// Parse and check.
	_, err := app.Parse(args)
	if exited >= 0 {
		return exited
	}
	if err == nil {
		f.listen = *webFlags.WebListenAddresses
		err = f.validate()
	}
	if err != nil {
		fmt.Fprintf(stderr, "%s: %s; try --help\n", program, err)
		return 2
	}

	// Logger: go-kit for our code; exporter-toolkit's slog logger and
	// net/http's error log write through it, so there is one stream in one
	// format, every line starting ts, caller, level.
	logger, bridge := newLoggers(stderr, f.logLevel, f.logFormat)
	slogger := slog.New(slgk.NewGoKitHandler(bridge, slogLevel(f.logLevel)))

	if *configCheck {
		return checkConfig(f.configFile, stdout, logger)
	}
	if err := web.Validate(*webFlags.WebConfigFile); err != nil {
		level.Error(logger).Log("msg", "bad --web.config.file", "file", *webFlags.WebConfigFile, "err", err)
		return 1
	}
	level.Info(logger).Log("msg", "starting "+program, "version", build.String(), "go", version.GoVersion, "platform", version.GoOS+"/"+version.GoArch)

	// Handlers.
	reg := prometheus.NewRegistry()
	reg.MustRegister(build.Collector(program))
	if !*noSelf {
		reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	mux := http.NewServeMux()
	landing := web.LandingConfig{
		Name:        program,
		Description: "Prometheus exporter for a dispatch daemon's poll loop",
		Version:     build.String(),
		Links:       []web.LandingLinks{{Address: f.metricsPath, Text: "Metrics"}},
	}
	var states func(context.Context) []family.LoopState
	if f.demo {
		d, err := demo.New(demo.Options{Interval: f.demoInterval, StaleThreshold: f.staleThreshold, Logger: logger, StackDumpDir: f.stackDir})
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
		mux.Handle(f.metricsPath, handler.Exposition(reg, logger, true))
		d.Routes(mux)
		landing.Links = append(landing.Links, web.LandingLinks{Address: demo.StatusPath, Text: "Status", Description: "the demo daemon in smithy's JSON shape"})
		landing.ExtraHTML = demoHelp((*webFlags.WebListenAddresses)[0])
		states = func(context.Context) []family.LoopState { return lc.States() }
		if err := d.Start(ctx); err != nil {
			level.Error(logger).Log("msg", "cannot start the demo", "err", err)
			return 1
		}
		defer func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = d.Shutdown(ctx)
		}()
		level.Info(logger).Log("msg", "demo daemon running", "poll_interval", f.demoInterval)
	} else {
		targets := sidecar.NewTargets(sidecar.TargetDefaults{
			Timeout: f.targetTimeout, StaleThreshold: f.staleThreshold, MaxBodyBytes: int64(f.maxBody), Logger: logger,
			FailureThreshold:  f.failureThreshold,
			TerminationGrace:  f.terminationGrace,
			RestartBudget:     f.restartBudget,
			DisableKeepAlives: f.configFile != "", // many targets: hold no idle connections
		})
		reloader := sidecar.NewReloader(f.configFile, targets, reg, logger)
		side := &handler.Sidecar{Targets: targets, Self: reg, TimeoutOffset: f.timeoutOffset,
			LivenessShadow: f.livenessMode == "shadow", LivenessTimeout: f.livenessWait, Logger: logger}
		if f.configFile == "" {
			side.Default = sidecar.DefaultTargetName
			if err := targets.Apply(sidecar.SingleTarget(f.targetURL)); err != nil {
				level.Error(logger).Log("msg", "bad --target.url", "err", err)
				return 2
			}
			level.Info(logger).Log("msg", "watching one daemon", "url", config.RedactURL(f.targetURL))
		}
		if err := reloader.Load(); err != nil {
			level.Error(logger).Log("msg", "cannot load --config.file", "file", f.configFile, "err", err)
			return 1
		}
		mux.HandleFunc(f.metricsPath, side.Metrics)
		mux.HandleFunc("/probe", side.Probe)
		mux.HandleFunc("/-/target/healthy", side.TargetHealthy)
		mux.Handle("/-/reload", handler.Reload(reloader.Reload))
		// Flag mode: the one target is "default", and /-/target/healthy
		// needs no ?target=. With a config file there is no default: the
		// form starts empty, and the link would only answer 400.
		probeForm := web.LandingFormInput{Label: "Target", Type: "text", Name: "target", Placeholder: "name"}
		if f.configFile == "" {
			probeForm.Value = sidecar.DefaultTargetName
			landing.Links = append(landing.Links,
				web.LandingLinks{Address: "-/target/healthy", Text: "Target health", Description: "liveness probe for the daemon's container"})
		}
		landing.Form = web.LandingForm{Action: "/probe", Inputs: []web.LandingFormInput{probeForm}}
		// The landing page reads a target nothing has read for a
		// minute, within its timeout.
		states = func(ctx context.Context) []family.LoopState {
			ctx, cancel := context.WithTimeout(ctx, f.targetTimeout)
			defer cancel()
			return targets.FreshStates(ctx, time.Minute)
		}
		go reloadOnSIGHUP(ctx, reloader, logger)
	}
	mux.HandleFunc("/debug/pprof/", pprof.Index) // the landing page links heap and CPU profiles
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.Handle("/-/healthy", handler.Text("Healthy"))
	mux.Handle("/-/ready", handler.Text("Ready"))
	mux.Handle("/", handler.Landing(landing, states))

	// Serve.
	server := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ErrorLog: httpErrorLog(bridge)}
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

// demoHelp is the landing page's fault-injection help, with the address
// the exporter listens on (":9847" is reached as localhost:9847).
func demoHelp(listen string) string {
	addr := html.EscapeString(listen)
	if strings.HasPrefix(listen, ":") {
		addr = "localhost" + addr
	}
	return `<h3>Fault injection</h3><ul>
<li><code>curl -XPOST ` + addr + `/demo/wedge</code>: the next cycle hangs (optionally <code>?phase=inbox</code>) until <code>/demo/unwedge</code></li>
<li><code>curl -XPOST '` + addr + `/demo/workers?n=0'</code>: no workers, so ready tasks are stuck; <code>/demo/tasks?n=3</code> adds tasks</li>
<li><code>curl -XPOST ` + addr + `/demo/stop</code> and <code>/demo/start</code>: stop and start the loop</li></ul>`
}

// checkConfig is --config.check: load the file and build every target's
// HTTP client, as a reload would.
func checkConfig(path string, stdout io.Writer, logger log.Logger) int {
	if path == "" {
		level.Error(logger).Log("msg", "--config.check needs --config.file")
		return 2
	}
	cfg, err := config.LoadConfig(path)
	if err == nil {
		err = sidecar.NewTargets(sidecar.TargetDefaults{}).Apply(cfg)
	}
	if err != nil {
		level.Error(logger).Log("msg", "config is invalid", "file", path, "err", err)
		return 1
	}
	fmt.Fprintf(stdout, "%s: config OK, %d target(s)\n", path, len(cfg.Targets))
	return 0
}

// reloadOnSIGHUP reloads the config file on each SIGHUP until ctx ends.
func reloadOnSIGHUP(ctx context.Context, r *sidecar.Reloader, logger log.Logger) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			if err := r.Reload(); errors.Is(err, sidecar.ErrNoConfigFile) {
				level.Info(logger).Log("msg", "SIGHUP ignored", "reason", err)
			} // other errors are logged by Reload

		}
	}
}
