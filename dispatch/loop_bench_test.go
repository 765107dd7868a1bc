package dispatch

import (
	"context"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkCycleFloor is the least any loop must do around a cycle: read the
// clock twice and publish two timestamps.
func BenchmarkCycleFloor(b *testing.B) {
	var started, completed atomic.Int64
	nop := func(context.Context) error { return nil }
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		started.Store(time.Now().UnixNano())
		_ = nop(ctx)
		completed.Store(time.Now().UnixNano())
	}
}

// BenchmarkCycleOverhead is what Loop adds around one cycle: the floor plus
// phase reset, panic recovery, result counter and duration histogram. Goal:
// at most 1.5 × BenchmarkCycleFloor, and no allocations.
func BenchmarkCycleOverhead(b *testing.B) {
	l, err := NewLoop(func(context.Context) error { return nil }, Options{Interval: time.Second})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		l.runCycle(ctx, 1)
	}
}

// BenchmarkJudge is the cost of one verdict (a scrape makes one per loop).
func BenchmarkJudge(b *testing.B) {
	l, err := NewLoop(func(context.Context) error { return nil }, Options{Interval: time.Second})
	if err != nil {
		b.Fatal(err)
	}
	l.runCycle(context.Background(), 1)
	b.ReportAllocs()
	for b.Loop() {
		_ = Judge(l.Health())
	}
}

// BenchmarkMonitorBeginEnd is what a daemon that keeps its own loop pays
// per cycle: Begin (which reads the calling goroutine's id for the stack
// dump) and End. Goal: no allocations.
func BenchmarkMonitorBeginEnd(b *testing.B) {
	m, err := NewMonitor(Options{Interval: time.Second})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		m.Begin()
		m.End(nil)
	}
}
