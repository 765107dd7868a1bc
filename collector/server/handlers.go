package server

import (
	"context"
	"errors"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	versioncollector "github.com/prometheus/client_golang/prometheus/collectors/version"
	"github.com/prometheus/common/version"
	"github.com/prometheus/exporter-toolkit/web"

	"github.com/stoneforge/dispatch_exporter/collector"
	"github.com/stoneforge/dispatch_exporter/collector/config"
	"github.com/stoneforge/dispatch_exporter/collector/family"
	"github.com/stoneforge/dispatch_exporter/collector/handler"
	"github.com/stoneforge/dispatch_exporter/collector/sidecar"
	"github.com/stoneforge/dispatch_exporter/dispatch/demo"
)

// handlers mounts the exporter's endpoints: the demo's (--demo) or the
// sidecar's, then those both have; /metrics includes own, the server's
// metrics. stop ends what they started (the demo daemon; the SIGHUP
// reloader ends with ctx). On a failure it logs one line and returns a nil
// mux and the exit code.
func handlers(ctx context.Context, f *flags, own prometheus.Collector, logger log.Logger) (mux *http.ServeMux, stop func(), code int) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(versioncollector.NewCollector(program), own)
	if !f.noSelf {
		reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	mux = http.NewServeMux()
	landing := web.LandingConfig{
		Name:        program,
		Description: "Prometheus exporter for a dispatch daemon's poll loop",
		Version:     version.Info(),
		Links:       []web.LandingLinks{{Address: f.metricsPath, Text: "Metrics"}},
		Profiling:   strconv.FormatBool(f.pprof), // links only what is served
	}
	var states func(context.Context) []family.LoopState
	if f.demo {
		states, stop, code = mountDemo(ctx, f, reg, mux, &landing, logger)
	} else {
		states, code = mountSidecar(ctx, f, reg, mux, &landing, logger)
		stop = func() {}
	}
	if code != 0 {
		return nil, nil, code
	}
	if f.pprof {
		mux.HandleFunc("/debug/pprof/", pprof.Index) // the landing page links heap and CPU profiles
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	}
	mux.Handle("/-/healthy", handler.Text("Healthy"))
	mux.Handle("/-/ready", handler.Text("Ready"))
	mux.Handle("/", handler.Landing(landing, states))
	return mux, stop, 0
}

// mountDemo starts the simulated daemon and mounts its /metrics and its
// fault injection; stop shuts the daemon down.
func mountDemo(ctx context.Context, f *flags, reg *prometheus.Registry, mux *http.ServeMux, landing *web.LandingConfig,
	logger log.Logger) (states func(context.Context) []family.LoopState, stop func(), code int) {
	d, err := demo.New(demo.Options{Interval: f.demoInterval, StaleThreshold: f.staleThreshold, Logger: logger, StackDumpDir: f.stackDir})
	if err != nil {
		level.Error(logger).Log("msg", "cannot start the demo", "err", err)
		return nil, nil, 2
	}
	lc, err := collector.NewLoopCollector(d.Loop())
	if err != nil {
		level.Error(logger).Log("msg", "cannot export the demo", "err", err)
		return nil, nil, 2
	}
	reg.MustRegister(lc)
	mux.Handle(f.metricsPath, handler.Exposition(reg, logger, true))
	d.Routes(mux)
	landing.Links = append(landing.Links, web.LandingLinks{Address: demo.StatusPath, Text: "Status", Description: "the demo daemon in smithy's JSON shape"})
	landing.ExtraHTML = demoHelp((*f.web.WebListenAddresses)[0])
	if err := d.Start(ctx); err != nil {
		level.Error(logger).Log("msg", "cannot start the demo", "err", err)
		return nil, nil, 1
	}
	level.Info(logger).Log("msg", "demo daemon running", "poll_interval", f.demoInterval)
	stop = func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = d.Shutdown(ctx)
	}
	return func(context.Context) []family.LoopState { return lc.States() }, stop, 0
}

// mountSidecar loads the targets (--target.url, or --config.file reloaded
// on SIGHUP and POST /-/reload) and mounts /metrics, /probe,
// /-/target/healthy and /-/reload.
func mountSidecar(ctx context.Context, f *flags, reg *prometheus.Registry, mux *http.ServeMux, landing *web.LandingConfig,
	logger log.Logger) (states func(context.Context) []family.LoopState, code int) {
	targets := sidecar.NewTargets(sidecar.TargetDefaults{
		Timeout: f.targetTimeout, StaleThreshold: f.staleThreshold, MaxBodyBytes: int64(f.maxBody), Logger: logger,
		FailureThreshold:  f.failureThreshold,
		TerminationGrace:  f.terminationGrace,
		RestartBudget:     f.restartBudget,
		DisableKeepAlives: f.configFile != "", // many targets: hold no idle connections
	})
	reloader := sidecar.NewReloader(f.configFile, targets, reg, logger)
	unknown := prometheus.NewCounter(prometheus.CounterOpts{
		Name: family.UnknownTargetRequestsMetric,
		Help: "Requests to /probe and /-/target/healthy for a target that is not configured (or none, without a default target).",
	})
	reg.MustRegister(unknown)
	side := &handler.Sidecar{Targets: targets, Self: reg, TimeoutOffset: f.timeoutOffset,
		LivenessShadow: f.livenessMode == "shadow", LivenessTimeout: f.livenessWait, Logger: logger, UnknownTargets: unknown}
	if f.configFile == "" {
		side.Default = sidecar.DefaultTargetName
		if err := targets.Apply(sidecar.SingleTarget(f.targetURL)); err != nil {
			level.Error(logger).Log("msg", "bad --target.url", "err", err)
			return nil, 2
		}
		level.Info(logger).Log("msg", "watching one daemon", "url", config.RedactURL(f.targetURL))
	}
	if err := reloader.Load(); err != nil {
		level.Error(logger).Log("msg", "cannot load --config.file", "file", f.configFile, "err", err)
		return nil, 1
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
	// Subscribe before serving: a SIGHUP that came before the subscription
	// would end the process (the signal's default action).
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	go reloadOnSIGHUP(ctx, hup, reloader, logger)
	// The landing page reads a target nothing has read for a
	// minute, within its timeout.
	return func(ctx context.Context) []family.LoopState {
		ctx, cancel := context.WithTimeout(ctx, f.targetTimeout)
		defer cancel()
		return targets.FreshStates(ctx, time.Minute)
	}, 0
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

// reloadOnSIGHUP reloads the config file on each signal on hup until ctx
// ends, then stops hup's subscription.
func reloadOnSIGHUP(ctx context.Context, hup chan os.Signal, r *sidecar.Reloader, logger log.Logger) {
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
