package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/alecthomas/units"

	"github.com/stoneforge/dispatch_exporter/collector/config"
)

// flagValues are the parsed flags that validate checks beyond what kingpin
// parses: ranges, paths and combinations.
type flagValues struct {
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
	listen           []string
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

// validate returns the first bad value, naming its flag; the exporter then
// ends with that one line, before it serves anything. It also parses the
// flags kingpin would reject without naming them (enums, sizes).
func (f *flagValues) validate() error {
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
	for _, addr := range f.listen {
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
		{f.targetTimeout <= 0, "target.timeout", f.targetTimeout, "must be positive"},
		{f.timeoutOffset < 0, "target.timeout-offset", f.timeoutOffset, "must not be negative"},
		{f.livenessWait <= 0, "liveness.timeout", f.livenessWait, "must be positive"},
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
