package dispatch

import "time"

// Health is one observation of a dispatch loop, whatever its source: every
// field of smithy's health object (see dispatch/smithy/testdata/STATUS.md)
// plus what the loop itself knows (running, since when, phase, interval,
// threshold).
//
// Now, LastStarted, LastCompleted and RunningSince are on one judging clock,
// so that their differences are true ages: the daemon's own clock when it
// reports "now" (smithy's health.computedAt), else a monotonic one (our
// clock at first sight of each timestamp, or the in-process loop's
// monotonic readings). ReportedStarted and ReportedCompleted are the same
// instants as the source stamped them, for export.
//
// A zero time means "not reported": before the first cycle there is no
// LastStarted, and a loop that never completed a cycle has no LastCompleted.
type Health struct {
	// Now is "now" on the judging clock. Every duration in a Verdict is
	// measured against it, so clock skew between the daemon and whoever
	// judges it, or a step of the wall clock, cannot cause or hide a verdict.
	Now time.Time
	// LastStarted is when the latest cycle started, before any of its work.
	LastStarted time.Time
	// LastCompleted is when the latest cycle finished, successfully or not.
	LastCompleted time.Time
	// ReportedStarted and ReportedCompleted are LastStarted and
	// LastCompleted as the source stamped them (the daemon's or the wall
	// clock), for export. Zero: the same as the judging fields.
	ReportedStarted, ReportedCompleted time.Time

	// Running is true while the loop is started (smithy's isRunning).
	Running bool
	// RunningSince is when the current run was started or, for a remote
	// daemon, first seen running after a restart. Zero when unknown. The
	// staleness clock never counts from before it, so a fresh run gets a
	// full threshold of grace and the previous run's timestamps never feed
	// its verdict.
	RunningSince time.Time
	// Phase is what the cycle in flight reported last ("inbox", ...); empty
	// when no cycle is in flight or the source does not report phases.
	Phase string

	// Interval is the configured poll interval; zero when unknown.
	Interval time.Duration
	// Threshold overrides the staleness threshold; zero selects
	// DefaultStaleThreshold(Interval).
	Threshold time.Duration

	// Observed is false when the loop's progress could not be observed at
	// all (smithy omits its health object when computing it threw). Then
	// only Running, Interval and Threshold mean anything, and no verdict on
	// staleness or the queue is drawn.
	Observed bool
	// QueueKnown is true when ReadyUnassignedTasks and AvailableWorkers hold
	// the daemon's report in this observation: a usable answer that had
	// both, or an in-process loop that set them. The one place that says
	// whether the queue is known: a Health extrapolated from an older
	// answer never has it (the queue moves per request).
	QueueKnown bool
	// ReadyUnassignedTasks counts ready tasks with no assignee.
	ReadyUnassignedTasks int
	// AvailableWorkers counts workers registered, enabled and not
	// terminated (busy ones count).
	AvailableWorkers int
}

// InFlight reports whether a cycle has started and not yet completed: it
// started and either never completed or started after the last completion.
// A cycle wedged on an await stays in flight forever.
func (h Health) InFlight() bool {
	return !h.LastStarted.IsZero() &&
		(h.LastCompleted.IsZero() || h.LastStarted.After(h.LastCompleted))
}

// Reported returns the latest start and completion as the source stamped
// them, for export.
func (h Health) Reported() (started, completed time.Time) {
	started, completed = h.ReportedStarted, h.ReportedCompleted
	if started.IsZero() {
		started = h.LastStarted
	}
	if completed.IsZero() {
		completed = h.LastCompleted
	}
	return started, completed
}

// Stuck reports a stuck queue: ready tasks wait and no worker can take them.
func (h Health) Stuck() bool {
	return h.Observed && h.QueueKnown && h.ReadyUnassignedTasks > 0 && h.AvailableWorkers == 0
}

// StaleThreshold is the threshold in force: Threshold when set, else the
// default rule for Interval.
func (h Health) StaleThreshold() time.Duration {
	if h.Threshold > 0 {
		return h.Threshold
	}
	return DefaultStaleThreshold(h.Interval)
}

// MinStaleThreshold is the floor of the default staleness threshold.
const MinStaleThreshold = 60 * time.Second

// DefaultStaleThreshold is smithy's default rule: max(60s, 10 × interval).
func DefaultStaleThreshold(interval time.Duration) time.Duration {
	return max(MinStaleThreshold, 10*interval)
}
