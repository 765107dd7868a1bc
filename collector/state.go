package collector

import (
	"time"

	"github.com/stoneforge/dispatch_exporter/dispatch"
)

// LoopState is one loop's (or target's) verdict in words, for the landing
// page and the health endpoints: the same verdict the metrics carry.
type LoopState struct {
	// Name is the loop's or the target's name.
	Name string
	// Up is true when the loop's state could be read.
	Up bool
	// State is the verdict in one word.
	State dispatch.State
	// Since is when the loop turned wedged; zero in other states.
	Since time.Time
	// SinceCompleted is how long no cycle has completed; zero when unknown.
	SinceCompleted time.Duration
	// Reason is the verdict's reason.
	Reason string
	// Error is the latest failure reading the status; empty while up.
	Error string
	// Restartable is the liveness verdict: restarting the daemon's process
	// is the fix (see smithy.Observation.Restartable).
	Restartable bool
}

func newLoopState(name string, up bool, h *dispatch.Health, v dispatch.Verdict, err error) LoopState {
	s := LoopState{Name: name, Up: up, State: v.State(up), Since: v.StaleSince(), SinceCompleted: v.SinceCompleted, Reason: v.Reason}
	if h == nil {
		s.Reason = "nothing known of the loop yet"
	}
	if err != nil {
		s.Error = err.Error()
	}
	return s
}
