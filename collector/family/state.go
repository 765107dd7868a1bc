package family

import (
	"time"

	"github.com/stoneforge/dispatch_exporter/dispatch"
)

// LoopState is one loop's (or target's) decision in words, for the landing
// page and the health endpoints: the same decision the metrics carry.
type LoopState struct {
	// Name is the loop's or the target's name.
	Name string
	// Up is true when the loop's state could be read.
	Up bool
	// State is the decision in one word.
	State dispatch.State
	// Evidence is what the decision rests on.
	Evidence dispatch.Evidence
	// Since is when the loop turned wedged; zero in other states.
	Since time.Time
	// SinceCompleted is how long no cycle has completed; zero when unknown.
	SinceCompleted time.Duration
	// Queue is known when Ready and Workers hold the latest usable answer.
	QueueKnown bool
	// Ready and Workers are ready tasks with no assignee and available
	// workers.
	Ready, Workers int
	// StuckSince is when the queue turned stuck (the daemon's clock when it
	// reports one); zero when it is not stuck or that was not seen.
	StuckSince time.Time
	// Reason is the decision's reason.
	Reason string
	// Error is the latest failure reading the status; empty while up.
	Error string
	// Restart: the evidence says restarting the daemon's process is the
	// fix (dispatch.Assessment.Restart); whether liveness asks for it is
	// the restart policy's (Liveness).
	Restart bool
	// Liveness is what the latest liveness answer said of restarts; empty
	// when it said nothing beyond the state.
	Liveness string
	// RestartRequests counts the restart requests made in the current
	// episode; RestartBudgetSpent is true once they were all spent.
	RestartRequests    int
	RestartBudgetSpent bool
	// ObservedAt is when the decision was taken, on our clock; zero when
	// it is taken as the state is read (in process) or never was.
	ObservedAt time.Time
}

// NewLoopState describes a decision in words, as the landing page and the
// liveness endpoint show it.
func NewLoopState(name string, h *dispatch.Health, a dispatch.Assessment, err error, at time.Time) LoopState {
	s := LoopState{Name: name, Up: a.Up, State: a.State, Evidence: a.Evidence, Reason: a.Reason,
		Restart: a.Restart, SinceCompleted: a.Verdict.SinceCompleted, ObservedAt: at}
	if a.Stale {
		s.Since = a.Verdict.StaleSince()
	}
	if h != nil && h.QueueKnown {
		s.QueueKnown, s.Ready, s.Workers = true, h.ReadyUnassignedTasks, h.AvailableWorkers
	}
	if err != nil {
		s.Error = err.Error()
	}
	return s
}
