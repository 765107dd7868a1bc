// Package collector exports dispatch loops that run in this process: a Go
// daemon registers a LoopCollector on its Prometheus registry and gets the
// same dispatch_* families a sidecar exports for smithy (package
// collector/sidecar), so the bundled dashboards and alerts serve either. It
// holds none of the sidecar's config or HTTP-client code.
//
// What to register: NewLoopCollector with each loop's monitor, either a
// *dispatch.Monitor (a loop the daemon runs itself, marking each cycle's
// Begin and End) or a *dispatch.Loop (which runs the daemon's cycle on one):
//
//	mon, err := dispatch.NewMonitor(dispatch.Options{Name: "dispatch", Interval: 5 * time.Second})
//	...
//	c, err := collector.NewLoopCollector(mon) // several loops: NewLoopCollector(a, b)
//	...
//	prometheus.MustRegister(c)
//
// dispatch_poll_stale turns 1 at scrape time, even while the loop's
// goroutine is blocked in a cycle that never ends.
package collector

import (
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/stoneforge/dispatch_exporter/collector/family"
	"github.com/stoneforge/dispatch_exporter/dispatch"
)

// Monitored is a loop a LoopCollector reads: a *dispatch.Monitor, or a
// *dispatch.Loop (through the monitor it runs on).
type Monitored interface {
	Monitor() *dispatch.Monitor
}

// LoopCollector exports dispatch loops running in this process. It reads
// each loop's monitor at scrape time, so dispatch_poll_stale turns 1 while
// the loop's goroutine is blocked in a wedged cycle. It exports the same
// decision the monitor's watchdog logs and its Liveness answers.
type LoopCollector struct {
	set    *family.Set
	loops  []*dispatch.Monitor
	labels []*family.Labels // per loop, built once
}

// NewLoopCollector collects the given loops, which must have distinct names.
func NewLoopCollector(loops ...Monitored) (*LoopCollector, error) {
	mons := make([]*dispatch.Monitor, len(loops))
	labels := make([]*family.Labels, len(loops))
	seen := map[string]bool{}
	for i, l := range loops {
		m := l.Monitor()
		// The loop label is the name with invalid UTF-8 replaced: two names
		// that differ only there would export the same series.
		mons[i], labels[i] = m, family.NewLabels(m.Name())
		label := labels[i].Loop()
		if seen[label] {
			return nil, fmt.Errorf("two dispatch loops named %q: give each a distinct Options.Name", label)
		}
		seen[label] = true
	}
	return &LoopCollector{set: family.NewSet(), loops: mons, labels: labels}, nil
}

// Describe implements prometheus.Collector.
func (c *LoopCollector) Describe(ch chan<- *prometheus.Desc) { c.set.Describe(ch, false) }

// Collect implements prometheus.Collector.
func (c *LoopCollector) Collect(ch chan<- prometheus.Metric) {
	for i, l := range c.loops {
		h, a := l.Assess()
		stats := l.Stats()
		c.set.Collect(ch, family.Sample{Labels: c.labels[i], Health: &h, Assessment: a, Stats: &stats})
	}
}

// States describes each loop in words, for the landing page and the
// liveness endpoint: the same decision Collect exports.
func (c *LoopCollector) States() []family.LoopState {
	out := make([]family.LoopState, 0, len(c.loops))
	for _, l := range c.loops {
		h, a := l.Assess()
		s := family.NewLoopState(l.Name(), &h, a, nil, time.Time{})
		if s.State == dispatch.StateStuck {
			s.StuckSince = l.StuckSince()
		}
		out = append(out, s)
	}
	return out
}
