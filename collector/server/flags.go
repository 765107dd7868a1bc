package server

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/alecthomas/units"
	"github.com/prometheus/common/version"
	"github.com/prometheus/exporter-toolkit/web"
	webflag "github.com/prometheus/exporter-toolkit/web/kingpinflag"

	"github.com/stoneforge/dispatch_exporter/collector/config"
)

// flags are the exporter's command line: what kingpin parses, then what
// validate checks beyond it (ranges, paths and combinations).
type flags struct {
	app    *kingpin.Application
	exited int // the code --help or --version ended with; -1 while they have not

	web         *web.FlagConfig
	noSelf      bool // --web.disable-exporter-metrics
	pprof       bool // --web.enable-pprof
	maxConns    int
	idleTimeout time.Duration
	configCheck bool

	metricsPath      string
	targetURL        string
	targetURLSet     bool // given on the command line, not the default
	targetTimeout    time.Duration
	timeoutOffset    time.Duration
	maxBody          units.Base2Bytes // parsed from maxBodyText by validate
	maxBodyText      string
	logLevel         string
	logFormat        string
	livenessMode     string
	stackDir         string
	configFile       string
	livenessWait     time.Duration
	failureThreshold int
	terminationGrace time.Duration
	restartBudget    int
	staleThreshold   time.Duration
	demo             bool
	demoInterval     time.Duration
}

// newFlags is the kingpin application with every flag of the exporter,
// writing usage to stdout and errors to stderr.
func newFlags(stdout, stderr io.Writer) *flags {
	app := kingpin.New(program, "Prometheus exporter for a dispatch daemon's poll loop: is it wedged, is its queue stuck.")
	app.Version(version.Print(program)).HelpFlag.Short('h')
	app.UsageWriter(stdout).ErrorWriter(stderr)
	f := &flags{app: app, exited: -1}
	app.Terminate(func(code int) { f.exited = code }) // --help and --version end Run, not the process
	f.web = webflag.AddFlags(app, ":9847")
	app.Flag("web.telemetry-path", "Path under which to expose metrics; not / and no other endpoint's.").Default("/metrics").StringVar(&f.metricsPath)
	app.Flag("web.disable-exporter-metrics", "Exclude metrics about the exporter itself (go_*, process_*) from /metrics.").BoolVar(&f.noSelf)
	app.Flag("web.enable-pprof", "Serve Go's profiles under /debug/pprof/ (behind --web.config.file's basic auth when it has users); --no-web.enable-pprof turns them off.").
		Default("true").BoolVar(&f.pprof)
	app.Flag("web.max-connections", "Most client connections open at once; at the limit a new one closes the oldest that serves no request. Lowered to half the open file limit when that is less.").
		Default("1024").IntVar(&f.maxConns)
	app.Flag("web.idle-timeout", "Close a keep-alive connection idle this long; above Prometheus' scrape interval, so it reuses its connection.").
		Default("2m").DurationVar(&f.idleTimeout)
	app.Flag("log.level", "Only log messages with the given severity or above: one of debug, info, warn, error.").Default("info").StringVar(&f.logLevel)
	app.Flag("log.format", "Output format of log messages: logfmt or json.").Default("logfmt").StringVar(&f.logFormat)

	app.Flag("target.url", "Status endpoint of the daemon to watch, http or https (sidecar mode, without --config.file).").
		Default("http://localhost:3457/api/daemon/status").IsSetByUser(&f.targetURLSet).StringVar(&f.targetURL)
	app.Flag("target.timeout", "Timeout of each status request; a Prometheus scrape timeout bounds it further.").Default("5s").DurationVar(&f.targetTimeout)
	app.Flag("target.timeout-offset", "Subtracted from Prometheus' scrape timeout to leave time to answer.").Default("0.5s").DurationVar(&f.timeoutOffset)
	app.Flag("target.max-body-bytes", "Largest status body accepted (e.g. 64KiB, 1MiB).").Default("1MiB").StringVar(&f.maxBodyText)
	app.Flag("config.file", "YAML file of named targets with HTTP client options, served on /probe?target=NAME. Reloaded on SIGHUP and POST /-/reload.").StringVar(&f.configFile)
	app.Flag("config.check", "Validate --config.file and exit.").BoolVar(&f.configCheck)
	app.Flag("liveness.mode", "enforce: /-/target/healthy answers 503 when the daemon should be restarted; shadow: answers 200 and logs 'would restart'.").Default("enforce").StringVar(&f.livenessMode)
	app.Flag("liveness.failure-threshold", "The daemon's livenessProbe's failureThreshold: one restart request answers 503 to this many probes in a row (fewer when evidence ends it), so the kubelet restarts the daemon once per request.").Default("4").IntVar(&f.failureThreshold)
	app.Flag("liveness.restart-budget", "Restart requests /-/target/healthy makes for one hang (each after a longer grace) before it stops asking, answers 200 and dispatch_liveness_restart_budget_spent pages a person; restored when a cycle completes.").Default("3").IntVar(&f.restartBudget)
	app.Flag("liveness.termination-grace", "The daemon pod's terminationGracePeriodSeconds: how long a process the kubelet kills may go on serving. The process after a restart gets its grace from then on.").Default("30s").DurationVar(&f.terminationGrace)
	app.Flag("liveness.timeout", "Longest /-/target/healthy waits for the daemon. Past it the answer rests on the request still unanswered: a hang under way goes on counting; anything else answers 200. Keep it under the probe's timeoutSeconds.").Default("2s").DurationVar(&f.livenessWait)

	app.Flag("poll.stale-threshold", "Staleness threshold; default (0s): the daemon's, else max(60s, 10 × poll interval).").Default("0s").DurationVar(&f.staleThreshold)
	app.Flag("watchdog.stack-dump-dir", "Directory for goroutine dumps taken when an in-process loop wedges; default: dispatch-stacks-UID under the system's temporary directory.").StringVar(&f.stackDir)

	app.Flag("demo", "Run a simulated dispatch daemon in process and export it, with fault injection under /demo/.").BoolVar(&f.demo)
	app.Flag("demo.poll-interval", "Poll interval of the simulated daemon.").Default("5s").DurationVar(&f.demoInterval)
	return f
}

// parse parses args and validates them. It returns false with the exit
// code when Run ends here: --help or --version (0), or a bad flag (2, after
// one line on stderr naming it).
func (f *flags) parse(args []string, stderr io.Writer) (code int, ok bool) {
	_, err := f.app.Parse(args)
	if f.exited >= 0 {
		return f.exited, false
	}
	if err == nil {
		err = f.validate()
	}
	if err != nil {
		fmt.Fprintf(stderr, "%s: %s; try --help\n", program, err)
		return 2, false
	}
	return 0, true
}

// validate returns the first bad value, naming its flag; the exporter then
// ends with that one line, before it serves anything. It also parses the
// flags kingpin would reject without naming them (enums, sizes).
func (f *flags) validate() error {
	for _, e := range []struct {
		flag, val string
		one       []string
	}{
		{"log.level", f.logLevel, []string{"debug", "info", "warn", "error"}},
		{"log.format", f.logFormat, []string{"logfmt", "json"}},
		{"liveness.mode", f.livenessMode, []string{"enforce", "shadow"}},
	} {
		if !slices.Contains(e.one, e.val) {
			return fmt.Errorf("--%s=%s: must be one of %s", e.flag, e.val, strings.Join(e.one, ", "))
		}
	}
	size, err := units.ParseBase2Bytes(f.maxBodyText)
	if err != nil || size <= 0 {
		return fmt.Errorf("--target.max-body-bytes=%s: must be a positive size such as 64KiB or 1MiB", f.maxBodyText)
	}
	f.maxBody = size
	for _, addr := range *f.web.WebListenAddresses {
		if err := validListenAddress(addr); err != nil {
			return fmt.Errorf("--web.listen-address=%s: %w", addr, err)
		}
	}
	if f.stackDir != "" {
		if err := writableDir(f.stackDir); err != nil {
			return fmt.Errorf("--watchdog.stack-dump-dir=%s: %w", f.stackDir, err)
		}
	}
	checks := []struct {
		bad  bool
		flag string
		val  any
		why  string
	}{
		{f.maxConns < 1, "web.max-connections", f.maxConns, "must be positive"},
		{f.idleTimeout <= 0, "web.idle-timeout", f.idleTimeout, "must be positive"},
		{f.targetTimeout <= 0 || f.targetTimeout > config.MaxTargetTimeout, "target.timeout", f.targetTimeout,
			fmt.Sprintf("must be positive and at most %s, within the server's %s write timeout", config.MaxTargetTimeout, writeTimeout)},
		{f.timeoutOffset < 0, "target.timeout-offset", f.timeoutOffset, "must not be negative"},
		{f.livenessWait <= 0 || f.livenessWait > config.MaxTargetTimeout, "liveness.timeout", f.livenessWait,
			fmt.Sprintf("must be positive and at most %s", config.MaxTargetTimeout)},
		{f.failureThreshold < 1 || f.failureThreshold > 100, "liveness.failure-threshold", f.failureThreshold, "must be from 1 to 100: the daemon's livenessProbe's failureThreshold"},
		{f.restartBudget < 1 || f.restartBudget > 20, "liveness.restart-budget", f.restartBudget, "must be from 1 to 20: the restart requests made for one hang before a person is paged"},
		{f.terminationGrace <= 0, "liveness.termination-grace", f.terminationGrace, "must be positive: the pod's terminationGracePeriodSeconds"},
		{f.staleThreshold < 0, "poll.stale-threshold", f.staleThreshold, "must not be negative (0: the daemon's, else max(60s, 10 × poll interval))"},
		{f.demoInterval <= 0, "demo.poll-interval", f.demoInterval, "must be positive"},
		{f.targetURLSet && f.configFile != "", "target.url", config.RedactURL(f.targetURL), "conflicts with --config.file, whose targets replace it; give one or the other"},
		{f.targetURLSet && f.demo, "target.url", config.RedactURL(f.targetURL), "conflicts with --demo, which exports its own simulated daemon"},
		{f.configFile != "" && f.demo, "config.file", f.configFile, "conflicts with --demo, which exports its own simulated daemon"},
	}
	for _, c := range checks {
		if c.bad {
			return fmt.Errorf("--%s=%v: %s", c.flag, c.val, c.why)
		}
	}
	if err := validTelemetryPath(f.metricsPath); err != nil {
		return fmt.Errorf("--web.telemetry-path=%s: %w", f.metricsPath, err)
	}
	if err := config.ValidateTargetURL(f.targetURL); err != nil {
		return fmt.Errorf("--target.url=%s: %w", config.RedactURL(f.targetURL), err)
	}
	return nil
}

// validTelemetryPath: an absolute, clean path, of URL path characters, that
// leaves the landing page at / and collides with no other endpoint (the
// server would otherwise panic on a duplicate route, or serve metrics on
// every path).
func validTelemetryPath(p string) error {
	switch {
	case !strings.HasPrefix(p, "/"):
		return errors.New(`must start with "/"`)
	case p == "/":
		return errors.New(`must not be "/", which serves the landing page`)
	case strings.HasSuffix(p, "/"):
		return errors.New(`must not end with "/", which would serve metrics on every path below it`)
	case strings.ContainsFunc(p, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-._~/", r))
	}):
		return errors.New("use letters, digits and - . _ ~ / only")
	case path.Clean(p) != strings.TrimSuffix(p, "/"):
		return errors.New("must be a clean path (no //, . or ..)")
	}
	trimmed := strings.TrimSuffix(p, "/")
	for _, reserved := range []string{"/probe", "/api/daemon/status"} {
		if trimmed == reserved {
			return fmt.Errorf("collides with the %s endpoint", reserved)
		}
	}
	for _, prefix := range []string{"/-/", "/debug/pprof", "/demo"} {
		if trimmed == strings.TrimSuffix(prefix, "/") || strings.HasPrefix(trimmed, strings.TrimSuffix(prefix, "/")+"/") {
			return fmt.Errorf("collides with the endpoints under %s", strings.TrimSuffix(prefix, "/")+"/")
		}
	}
	return nil
}

// validListenAddress accepts host:port with a port from 0 to 65535 (the
// host may be empty: every interface).
func validListenAddress(addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("want host:port or :port: %w", err)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("port %q is not a number from 0 to 65535", port)
	}
	return nil
}

// writableDir checks that dir exists, or can be made, and takes files.
func writableDir(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("cannot create it: %w", err)
	}
	f, err := os.CreateTemp(dir, ".dispatch_exporter-check-*")
	if err != nil {
		return fmt.Errorf("cannot write files in it: %w", err)
	}
	name := f.Name()
	_ = f.Close()
	return os.Remove(name)
}
