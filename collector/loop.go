// Package collector exports dispatch loops that run in this process: a Go
// daemon registers a LoopCollector (NewLoopCollector) on its Prometheus
// registry and gets the same dispatch_* families a sidecar exports for
// smithy (package collector/sidecar), so the bundled dashboards and alerts
// serve either. It holds none of the sidecar's config or HTTP-client code.
package collector

import (
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/stoneforge/dispatch_exporter/collector/family"
	"github.com/stoneforge/dispatch_exporter/dispatch"
)

// LoopCollector exports dispatch.Loops running in this process. It reads
// each loop at scrape time, so dispatch_poll_stale turns 1 while the loop
// goroutine is blocked in a wedged cycle.
type LoopCollector struct {
	set    *family.Set
	loops  []*dispatch.Loop
	labels []*family.Labels // per loop, built once
}

// NewLoopCollector collects the given loops, which must have distinct names.
func NewLoopCollector(loops ...*dispatch.Loop) (*LoopCollector, error) {
	seen := map[string]bool{}
	for _, l := range loops {
		if seen[l.Name()] {
			return nil, fmt.Errorf("two dispatch loops named %q: give each a distinct Options.Name", l.Name())
		}
		seen[l.Name()] = true
	}
	labels := make([]*family.Labels, len(loops))
	for i, l := range loops {
		labels[i] = family.NewLabels(l.Name())
	}
	return &LoopCollector{set: family.NewSet(), loops: loops, labels: labels}, nil
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
