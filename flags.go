package main

import (
	"errors"
	"fmt"
	"path"
	"strings"
	"time"

	"github.com/alecthomas/units"

	"github.com/stoneforge/dispatch_exporter/collector"
)

// flagValues are the parsed flags that validate checks beyond what kingpin
// parses: ranges, paths and combinations.
type flagValues struct {
	metricsPath    string
	targetURL      string
	targetURLSet   bool // given on the command line, not the default
	targetTimeout  time.Duration
	timeoutOffset  time.Duration
	maxBody        units.Base2Bytes
	configFile     string
	livenessWait   time.Duration
	restartWindow  time.Duration
	staleThreshold time.Duration
	demo           bool
	demoInterval   time.Duration
}

// validate returns the first bad value, naming its flag; the exporter then
// ends with that one line, before it serves anything.
func (f flagValues) validate() error {
	checks := []struct {
		bad  bool
		flag string
		val  any
		why  string
	}{
		{f.targetTimeout <= 0, "target.timeout", f.targetTimeout, "must be positive"},
		{f.timeoutOffset < 0, "target.timeout-offset", f.timeoutOffset, "must not be negative"},
		{f.maxBody <= 0, "target.max-body-bytes", f.maxBody, "must be positive"},
		{f.livenessWait <= 0, "liveness.timeout", f.livenessWait, "must be positive"},
		{f.restartWindow <= 0, "liveness.restart-window", f.restartWindow, "must be positive: the livenessProbe's failureThreshold × periodSeconds"},
		{f.staleThreshold < 0, "poll.stale-threshold", f.staleThreshold, "must not be negative (0: the daemon's, else max(60s, 10 × poll interval))"},
		{f.demoInterval <= 0, "demo.poll-interval", f.demoInterval, "must be positive"},
		{f.targetURLSet && f.configFile != "", "target.url", collector.RedactURL(f.targetURL), "conflicts with --config.file, whose targets replace it; give one or the other"},
		{f.targetURLSet && f.demo, "target.url", collector.RedactURL(f.targetURL), "conflicts with --demo, which exports its own simulated daemon"},
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
	if err := collector.ValidateTargetURL(f.targetURL); err != nil {
		return fmt.Errorf("--target.url=%s: %w", collector.RedactURL(f.targetURL), err)
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
