package smithy

import (
	"time"

	"github.com/stoneforge/dispatch_exporter/dispatch"
)

// Observation is what one status request tells about a daemon.
type Observation struct {
	// Up is true when the request succeeded and its body parsed.
	Up bool
	// Status is the decoded body; nil when Up is false.
	Status *Status
	// Health is the loop as observed or, while the status cannot be read,
	// as last observed with "now" advanced by the time elapsed since. Nil
	// when nothing is known of the loop.
	Health *dispatch.Health
	// Restarted is true when this response showed a restart (timestamps
	// vanished or moved backwards, or the loop was seen running again) and
	// so started a fresh grace period.
	Restarted bool
	// Refused is true when the latest failure was a refused connection:
	// nothing is listening, so the daemon is starting or gone.
	Refused bool
	// Unresponsive is how long the daemon has neither answered nor refused;
	// zero while it answers.
	Unresponsive time.Duration
	// Notes name oddities of the response worth one log line each.
	Notes []string
}

// Restartable reports whether restarting the daemon's process is the fix for
// verdict v, the question a liveness probe asks. A stale loop qualifies when
// the daemon's own answers show it, or when the daemon has been unresponsive
// for longer than the threshold. A daemon that refuses connections (starting
// or gone) or has hung for less than the threshold (perhaps a slow start-up)
// does not: restarting it again could only restart it in a loop.
func (o Observation) Restartable(v dispatch.Verdict) bool {
	switch {
	case !v.Stale:
		return false
	case o.Up:
		return true
	case o.Refused:
		return false
	default:
		return o.Unresponsive > v.Threshold
	}
}

// Tracker follows one daemon across status requests: it judges staleness on
// the daemon's own clock, notices restarts, and keeps judging from the last
// good response while the daemon cannot be read. It is not safe for
// concurrent use.
type Tracker struct {
	threshold time.Duration // override; zero: the daemon's, else the default

	base         *dispatch.Health // the last good observation, as received
	baseAt       time.Time        // our clock when it was received
	runningSince time.Time        // daemon clock: the current run's grace anchor
	contactAt    time.Time        // our clock: last answer or refusal
}

// NewTracker returns a Tracker; a positive threshold overrides the daemon's.
func NewTracker(threshold time.Duration) *Tracker {
	return &Tracker{threshold: threshold}
}

// Observe takes a decoded response received at our time at.
func (t *Tracker) Observe(st *Status, at time.Time) Observation {
	t.contactAt = at
	h, notes := t.health(st, at)
	obs := Observation{Up: true, Status: st, Health: &h, Notes: notes}
	if !*st.Available {
		// No daemon at all: nothing runs, and a daemon appearing later is new.
		t.base, t.runningSince = nil, time.Time{}
		return obs
	}

	obs.Restarted = t.restarted(h)
	switch {
	case !h.Running:
		t.runningSince = time.Time{}
	case obs.Restarted:
		t.runningSince = runStart(t.base, h)
	case t.runningSince.IsZero() && h.Observed && h.LastStarted.IsZero() && h.LastCompleted.IsZero():
		// Running and no cycle yet: the grace counts from first sight.
		t.runningSince = h.Now
	}
	h.RunningSince = t.runningSince
	base := h
	t.base, t.baseAt = &base, at
	return obs
}

// Fail takes a failed request at our time at. While a last good response is
// known, its timestamps stay and "now" advances by the time elapsed on our
// monotonic clock since it arrived, so a daemon whose whole HTTP server
// hangs still turns stale once the threshold has passed.
func (t *Tracker) Fail(refused bool, at time.Time) Observation {
	if refused {
		t.contactAt = at
	}
	obs := Observation{Refused: refused}
	if !t.contactAt.IsZero() {
		obs.Unresponsive = at.Sub(t.contactAt)
	}
	if t.base == nil {
		return obs
	}
	h := *t.base
	h.Now = h.Now.Add(at.Sub(t.baseAt))
	h.QueueKnown = false // the queue moves per request; unknown now
	obs.Health = &h
	return obs
}

// runStart is the earliest moment known of a run that started between the
// previous observation and h: its first cycle's start when that is a new
// cycle begun no earlier than the previous look (so of the new run; the
// JSON's millisecond stamps can make the two equal), else h itself.
func runStart(prev *dispatch.Health, h dispatch.Health) time.Time {
	if prev != nil && h.LastStarted.After(prev.LastStarted) && !h.LastStarted.Before(prev.Now) {
		return h.LastStarted
	}
	return h.Now
}

// restarted compares an observation with the previous good one.
func (t *Tracker) restarted(h dispatch.Health) bool {
	p := t.base
	if p == nil {
		return false
	}
	if !p.Running && h.Running {
		return true
	}
	return p.Observed && h.Observed &&
		(h.LastStarted.Before(p.LastStarted) || h.LastCompleted.Before(p.LastCompleted))
}

// health converts a status into a dispatch.Health on the daemon's clock.
func (t *Tracker) health(st *Status, at time.Time) (dispatch.Health, []string) {
	h := dispatch.Health{
		Now:       at,
		Running:   *st.IsRunning && *st.Available,
		Interval:  st.Interval(),
		Threshold: t.threshold,
	}
	if h.Threshold <= 0 {
		h.Threshold = st.Threshold()
	}
	r := st.Health
	if !*st.Available {
		return h, nil
	}
	if r == nil {
		return h, []string{"health missing (the daemon could not compute it): staleness and queue not judged"}
	}
	var notes []string
	h.Observed = true
	if r.ComputedAt != nil {
		h.Now = r.ComputedAt.Time()
	} else {
		notes = append(notes, "health.computedAt missing: judging on the exporter's clock")
	}
	for _, ts := range []struct {
		name string
		in   *Timestamp
		out  *time.Time
	}{
		{"lastPollStartedAt", r.LastPollStartedAt, &h.LastStarted},
		{"lastPollCompletedAt", r.LastPollCompletedAt, &h.LastCompleted},
	} {
		switch {
		case ts.in == nil:
		case ts.in.Time().After(h.Now):
			notes = append(notes, "health."+ts.name+" is after computedAt: ignored")
		default:
			*ts.out = ts.in.Time()
		}
	}
	if r.ReadyUnassignedTasks != nil && r.AvailableWorkers != nil {
		h.QueueKnown = true
		h.ReadyUnassignedTasks, h.AvailableWorkers = *r.ReadyUnassignedTasks, *r.AvailableWorkers
	}
	return h, notes
}
