package dispatch

import (
	"sync/atomic"
	"time"
)

// Result is the outcome of one poll cycle.
type Result int

// The outcomes of a cycle.
const (
	ResultOK Result = iota
	ResultError
	ResultPanic
	numResults
)

// String is the result as the metric label value.
func (r Result) String() string {
	switch r {
	case ResultOK:
		return "ok"
	case ResultError:
		return "error"
	case ResultPanic:
		return "panic"
	}
	return "unknown"
}

// Results lists every Result, for collectors that pre-initialise counters.
func Results() []Result { return []Result{ResultOK, ResultError, ResultPanic} }

// CycleDurationBuckets returns the upper bounds, in seconds, of the cycle
// duration histogram: from 1 ms (an idle smithy cycle takes a few) to a
// minute (the default staleness threshold).
func CycleDurationBuckets() []float64 {
	return []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}
}

// cycleStats counts cycles by result and their durations, lock-free: the
// loop goroutine writes, scrapes read.
type cycleStats struct {
	bounds  []time.Duration // upper bounds, ascending
	buckets []atomic.Uint64 // len(bounds)+1; the last one is +Inf
	results [numResults]atomic.Uint64
	sumNs   atomic.Int64
}

func newCycleStats() *cycleStats {
	secs := CycleDurationBuckets()
	s := &cycleStats{
		bounds:  make([]time.Duration, len(secs)),
		buckets: make([]atomic.Uint64, len(secs)+1),
	}
	for i, b := range secs {
		s.bounds[i] = time.Duration(b * float64(time.Second))
	}
	return s
}

// observe records one cycle. It must not allocate: it runs on every cycle.
func (s *cycleStats) observe(r Result, d time.Duration) {
	i := 0
	for i < len(s.bounds) && d > s.bounds[i] {
		i++
	}
	s.buckets[i].Add(1)
	s.sumNs.Add(int64(d))
	s.results[r].Add(1)
}

// CycleStats is a snapshot of a loop's cycle counters.
type CycleStats struct {
	// Results counts finished cycles by outcome, indexed by Result.
	Results [numResults]uint64
	// Count is the number of cycles in the histogram.
	Count uint64
	// SumSeconds is the total duration of those cycles.
	SumSeconds float64
	// Buckets maps each upper bound (seconds) to the cumulative count of
	// cycles that took at most that long, as Prometheus histograms want.
	Buckets map[float64]uint64
}

func (s *cycleStats) snapshot() CycleStats {
	out := CycleStats{Buckets: make(map[float64]uint64, len(s.bounds))}
	var cum uint64
	for i, b := range s.bounds {
		cum += s.buckets[i].Load()
		out.Buckets[b.Seconds()] = cum
	}
	out.Count = cum + s.buckets[len(s.bounds)].Load()
	out.SumSeconds = time.Duration(s.sumNs.Load()).Seconds()
	for r := range out.Results {
		out.Results[r] = s.results[r].Load()
	}
	return out
}
