package collector

import (
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/stoneforge/dispatch_exporter/dispatch"
)

// LoopCollector exports dispatch.Loops running in this process. It reads
// each loop at scrape time, so dispatch_poll_stale turns 1 while the loop
// goroutine is blocked in a wedged cycle.
type LoopCollector struct {
	descs  *descs
	loops  []*dispatch.Loop
	labels []*loopLabels // per loop, built once
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
	labels := make([]*loopLabels, len(loops))
	for i, l := range loops {
		labels[i] = newLoopLabels(l.Name())
	}
	return &LoopCollector{descs: newDescs(new(descNames)), loops: loops, labels: labels}, nil
}

// Describe implements prometheus.Collector.
func (c *LoopCollector) Describe(ch chan<- *prometheus.Desc) { c.descs.describe(ch) }

// Collect implements prometheus.Collector.
func (c *LoopCollector) Collect(ch chan<- prometheus.Metric) {
	for i, l := range c.loops {
		h, a := l.Assess()
		stats := l.Stats()
		c.descs.collect(ch, sample{loop: l.Name(), labels: c.labels[i], health: &h, assessment: a, stats: &stats})
	}
}

// States describes each loop in words, for the landing page and the
// liveness endpoint: the same decision Collect exports.
func (c *LoopCollector) States() []LoopState {
	out := make([]LoopState, 0, len(c.loops))
	for _, l := range c.loops {
		h, a := l.Assess()
		s := newLoopState(l.Name(), &h, a, nil, time.Time{})
		if s.State == dispatch.StateStuck {
			s.StuckSince = l.StuckSince()
		}
		out = append(out, s)
	}
	return out
}
