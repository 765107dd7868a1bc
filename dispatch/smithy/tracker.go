package smithy

import (
	"time"

	"github.com/stoneforge/dispatch_exporter/dispatch"
)

// Observation is what one status request, with all the requests before it,
// tells about a daemon: the evidence model's input and its decision.
type Observation struct {
	// Status is the decoded body; nil unless the daemon answered in the
	// contract (a health-less answer has one and is still unusable).
	Status *Status
	// Health is the loop as judged: from this answer when it was usable,
	// else from the last usable answer with "now" advanced on our monotonic
	// clock. Nil when nothing is known of the loop of the process serving
	// now. Its queue is known only on a usable answer.
	Health *dispatch.Health
	// Assessment is the decision every output shows.
	Assessment dispatch.Assessment
	// Restarted is true when this answer showed a new process (timestamps
	// vanished or moved backwards): a fresh grace period starts.
	Restarted bool
	// NewRun is true when this answer showed the loop started again after a
	// stop. It is not a new process: a cycle still in flight from before
	// keeps its age.
	NewRun bool
	// Notes name oddities of the answer worth one log line each.
	Notes []string
	// RestartWindowEnded is true when liveness had asked for a restart for
	// a whole restart window and the daemon still hangs.
	RestartWindowEnded bool
}

// Tracker follows one daemon across status requests: it classifies each
// outcome as evidence (see dispatch.Evidence), keeps what the last usable
// answer showed of the loop, notices new runs and new processes, and
// decides with dispatch.Decide. It does no I/O and is not safe for
// concurrent use. Every "at" is our clock, which must be monotonic.
type Tracker struct {
	threshold     time.Duration // override; zero: the daemon's, else the default
	restartWindow time.Duration

	base         *dispatch.Health // the last usable answer's loop, as judged
	baseAt       time.Time        // our clock when it arrived
	runningSince time.Time        // judging clock: the current run's grace anchor
	hungSince    time.Time        // our clock: start of the first unanswered request since the last answer or refusal
	interrupted  time.Time        // our clock: the last answer that was not the daemon's status
	last         Observation      // the last decision (when decided), for callers that stop waiting
	decided      bool

	// restartAsked is when liveness first answered 503 (RestartAnswered) in
	// the current restart window; zero outside one. askedSinceUsable: it
	// did, since the last usable answer.
	restartAsked     time.Time
	askedSinceUsable bool

	// The judging clock: when each timestamp was first seen (our clock),
	// the daemon's offset from our clock (computedAt − our time) at the
	// last answer that had computedAt, and when that offset last jumped (a
	// step of either clock).
	seenStarted, seenCompleted sighting
	offset                     time.Duration
	hasOffset                  bool
	stepAt                     time.Time
}

// clockStepTolerance is how far the daemon's clock may drift against ours
// between two answers before it counts as a step (NTP, a resumed VM): more
// than a request's duration and network jitter, less than any threshold.
const clockStepTolerance = 10 * time.Second

// DefaultRestartWindow is the default of a Tracker's restart window: the
// failureThreshold × periodSeconds (4 × 15s) of the documented livenessProbe.
const DefaultRestartWindow = 60 * time.Second

// NewTracker returns a Tracker; a positive threshold overrides the daemon's.
//
// restartWindow (zero: DefaultRestartWindow) is how long liveness goes on
// asking for the restart of a daemon that hangs: the kubelet restarts it
// within failureThreshold × periodSeconds of the first 503, which should
// equal it. After it, a hang that goes on may be the new process starting
// (no refusal need be seen between the two), and counts afresh, so the new
// process gets a threshold of start-up and is never shot in a loop.
func NewTracker(threshold, restartWindow time.Duration) *Tracker {
	if restartWindow <= 0 {
		restartWindow = DefaultRestartWindow
	}
	return &Tracker{threshold: threshold, restartWindow: restartWindow}
}

// Answer takes a decoded status answered at our time at: usable when it
// carries health or says the server has no daemon, unusable when health is
// missing (the daemon could not compute it).
func (t *Tracker) Answer(st *Status, at time.Time) Observation {
	t.hungSince = time.Time{}
	if !*st.Available {
		// No daemon at all: nothing runs, and a daemon appearing later is new.
		t.forgetProcess()
		h := dispatch.Health{Now: at, Interval: st.Interval(), Threshold: t.thresholdOf(st)}
		detail := "the server has no dispatch daemon"
		if st.Reason != "" {
			detail += ": " + st.Reason
		}
		return t.decide(Observation{Status: st, Health: &h}, dispatch.Look{Evidence: dispatch.EvidenceUsable, Health: &h, Detail: detail})
	}
	if st.Health == nil {
		// The daemon's own answer, without its health (computing it threw,
		// perhaps for the very reason the loop hangs): it says nothing of
		// the loop, but does not interrupt what the last usable answer said.
		l := t.look(dispatch.EvidenceUnusable, "health missing", at)
		obs := Observation{Status: st, Health: l.Health,
			Notes: []string{"health missing (the daemon could not compute it): staleness and queue not judged"}}
		return t.decide(obs, l)
	}
	t.restartAsked, t.askedSinceUsable = time.Time{}, false // a usable answer: whatever liveness asked is judged afresh

	h, notes := t.health(st, at)
	obs := Observation{Status: st, Notes: notes}
	prev := t.base
	obs.Restarted = restarted(prev, h)
	if obs.Restarted && st.Health.ComputedAt == nil && t.hasOffset {
		// A new process that does not say its time: the old one's clock
		// offset says nothing of it.
		t.forgetClock()
		h, notes = t.health(st, at)
		obs.Notes = notes
	}
	obs.NewRun = !obs.Restarted && prev != nil && !prev.Running && h.Running
	switch {
	case !h.Running:
		t.runningSince = time.Time{}
	case obs.Restarted, obs.NewRun:
		t.runningSince = runStart(prev, h)
	case t.runningSince.IsZero() && h.LastStarted.IsZero() && h.LastCompleted.IsZero():
		// Running and no cycle yet: the grace counts from first sight.
		t.runningSince = h.Now
	}
	h.RunningSince = t.runningSince
	base := h
	base.QueueKnown = false // the queue moves per request; unknown once this answer ages
	t.base, t.baseAt = &base, at
	obs.Health = &h
	return t.decide(obs, dispatch.Look{Evidence: dispatch.EvidenceUsable, Health: &h})
}

// Fail takes a request that produced no decodable status: refused (nothing
// listens), hung (no answer within the target's timeout) or unusable (an
// HTTP error, a body that is not a status, a TLS failure, ...). start and
// end are our clock when the request began and ended; detail says what
// failed.
func (t *Tracker) Fail(e dispatch.Evidence, detail string, start, end time.Time) Observation {
	switch e {
	case dispatch.EvidenceRefused:
		// Nothing listens: whatever was known is about a process that no
		// longer serves, and the next one to answer is new.
		t.forgetProcess()
		t.hungSince = time.Time{}
	case dispatch.EvidenceHung:
		if t.hungSince.IsZero() {
			t.hungSince = start
		}
	default:
		e = dispatch.EvidenceUnusable
		t.hungSince, t.interrupted = time.Time{}, end
	}
	l := t.look(e, detail, end)
	if e != dispatch.EvidenceHung {
		return t.decide(Observation{Health: l.Health}, l)
	}
	windowEnded := false
	if next := t.restartAsked.Add(t.restartWindow); !t.restartAsked.IsZero() && end.After(next) {
		// Liveness asked for a restart a restart window ago and the daemon
		// still hangs: whatever hangs now may be the process that restart
		// started, so its hang counts afresh from here (it gets a
		// threshold of start-up before liveness fails again).
		if next.After(t.hungSince) {
			t.hungSince = next
		}
		t.restartAsked, windowEnded = time.Time{}, true
	}
	l.HungFor = end.Sub(t.hungSince)
	return t.decide(Observation{Health: l.Health, RestartWindowEnded: windowEnded}, l)
}

// look is what is known of the loop for a decision at our time at on
// evidence other than a usable answer.
func (t *Tracker) look(e dispatch.Evidence, detail string, at time.Time) dispatch.Look {
	return dispatch.Look{Evidence: e, Health: t.extrapolated(at), WasStale: t.carriesWedge(at), Detail: detail,
		Interrupted: t.interrupted.After(t.baseAt) || t.askedSinceUsable}
}

// carriesWedge: a wedge judged before goes on through answers that say
// nothing of the loop, for at most a threshold since the last usable answer
// (a long run of 401s is more likely a new process than the old wedge), and
// not once liveness has asked for a restart, for then the process that
// answers may be the new one.
func (t *Tracker) carriesWedge(at time.Time) bool {
	if !t.last.Assessment.Stale || t.askedSinceUsable || t.base == nil {
		return false
	}
	return at.Sub(t.baseAt) <= t.base.StaleThreshold()
}

// forgetProcess drops what was known of a process that no longer serves:
// the next one to answer is new.
func (t *Tracker) forgetProcess() {
	t.base, t.runningSince = nil, time.Time{}
	t.restartAsked, t.askedSinceUsable = time.Time{}, false
	t.forgetClock()
}

// forgetClock drops what is known of the daemon's clock: a process that
// serves next may keep another.
func (t *Tracker) forgetClock() {
	t.offset, t.hasOffset, t.stepAt = 0, false, time.Time{}
	t.seenStarted, t.seenCompleted = sighting{}, sighting{}
}

// RestartAnswered records that the liveness endpoint answered 503 at our
// time at. From the first such answer since the last usable one, the
// restart window runs, and a wedge is no longer carried through hangs and
// unusable answers: the process behind them may be the one the restart
// started.
func (t *Tracker) RestartAnswered(at time.Time) {
	if t.restartAsked.IsZero() {
		t.restartAsked = at
	}
	t.askedSinceUsable = true
}

// Last is the latest decision, unchanged, for a caller that stopped waiting
// before the request in flight ended: no new evidence, so no new verdict. It
// is down (the caller read nothing) unless the loop was judged wedged.
func (t *Tracker) Last(detail string) Observation {
	if !t.decided {
		a := dispatch.Decide(dispatch.Look{})
		a.Reason = "not read yet: " + detail
		return Observation{Assessment: a}
	}
	obs := t.last
	obs.Status, obs.Restarted, obs.NewRun, obs.Notes = nil, false, false, nil
	a := &obs.Assessment
	if a.Up {
		a.Up = false
		if !a.Stale {
			a.State = dispatch.StateDown
		}
		a.Reason = detail + "; last read: " + a.Reason
	}
	return obs
}

func (t *Tracker) decide(obs Observation, l dispatch.Look) Observation {
	obs.Assessment = dispatch.Decide(l)
	t.last, t.decided = obs, true
	return obs
}

// extrapolated is the last usable answer's loop with "now" advanced by the
// time elapsed since on our monotonic clock, so a daemon that stops
// answering still turns stale; nil when none is known.
func (t *Tracker) extrapolated(at time.Time) *dispatch.Health {
	if t.base == nil {
		return nil
	}
	h := *t.base
	h.Now = h.Now.Add(at.Sub(t.baseAt))
	return &h
}

// restarted reports a new process: a timestamp vanished or moved backwards.
func restarted(prev *dispatch.Health, h dispatch.Health) bool {
	if prev == nil {
		return false
	}
	ps, pc := prev.Reported()
	hs, hc := h.Reported()
	return hs.Before(ps) || hc.Before(pc)
}

// runStart is the earliest moment known of a run that started between the
// previous observation and h: its first cycle's start when that is a new
// cycle begun no earlier than the previous look (so of the new run; the
// JSON's millisecond stamps can make the two equal), else h itself.
func runStart(prev *dispatch.Health, h dispatch.Health) time.Time {
	ps, _ := prev.Reported()
	hs, _ := h.Reported()
	if hs.After(ps) && !h.LastStarted.Before(prev.Now) {
		return h.LastStarted
	}
	return h.Now
}

func (t *Tracker) thresholdOf(st *Status) time.Duration {
	if t.threshold > 0 {
		return t.threshold
	}
	return st.Threshold()
}

// health converts a status with health into a dispatch.Health on one
// judging clock. That is the daemon's (health.computedAt, or our clock
// plus the offset it had at the last answer that carried computedAt), so
// that clock skew can neither cause nor hide a verdict; but our own, each
// timestamp placed at the moment we first saw it, when the daemon never
// reported computedAt, or when its clock stepped against ours and a
// timestamp it reports was stamped before the step.
func (t *Tracker) health(st *Status, at time.Time) (dispatch.Health, []string) {
	r := st.Health
	h := dispatch.Health{
		Running:   *st.IsRunning,
		Interval:  st.Interval(),
		Threshold: t.thresholdOf(st),
		Observed:  true,
	}
	var started, completed time.Time
	if r.LastPollStartedAt != nil {
		started = r.LastPollStartedAt.Time()
	}
	if r.LastPollCompletedAt != nil {
		completed = r.LastPollCompletedAt.Time()
	}
	seenStarted, seenCompleted := t.seenStarted.see(started, at), t.seenCompleted.see(completed, at)

	var notes []string
	if r.ComputedAt != nil {
		offset := r.ComputedAt.Time().Sub(at)
		if t.hasOffset && (offset-t.offset > clockStepTolerance || t.offset-offset > clockStepTolerance) {
			t.stepAt = at
			notes = append(notes, "the daemon's clock stepped against ours: ages measured from first sight until new cycles run")
		}
		t.offset, t.hasOffset = offset, true
	} else if t.hasOffset {
		notes = append(notes, "health.computedAt missing: the daemon's clock taken from the last answer that had it")
	} else {
		notes = append(notes, "health.computedAt missing: ages measured from when each timestamp was first seen")
	}
	afterStep := func(seen time.Time) bool { return seen.IsZero() || seen.After(t.stepAt) }
	if !t.hasOffset || (!t.stepAt.IsZero() && (!afterStep(seenStarted) || !afterStep(seenCompleted))) {
		h.Now = at
		h.LastStarted, h.LastCompleted = seenStarted, seenCompleted
		if started.After(completed) && !completed.IsZero() && !h.LastStarted.After(h.LastCompleted) {
			h.LastCompleted = h.LastStarted.Add(-time.Nanosecond) // keep the cycle in flight
		}
	} else {
		h.Now = at.Add(t.offset)
		if r.ComputedAt != nil {
			h.Now = r.ComputedAt.Time()
		}
		if started.After(h.Now) {
			notes, started = append(notes, "health.lastPollStartedAt is after computedAt: ignored"), time.Time{}
		}
		if completed.After(h.Now) {
			notes, completed = append(notes, "health.lastPollCompletedAt is after computedAt: ignored"), time.Time{}
		}
		h.LastStarted, h.LastCompleted = started, completed
	}
	h.ReportedStarted, h.ReportedCompleted = started, completed
	if r.ReadyUnassignedTasks != nil && r.AvailableWorkers != nil {
		h.QueueKnown = true
		h.ReadyUnassignedTasks, h.AvailableWorkers = *r.ReadyUnassignedTasks, *r.AvailableWorkers
	}
	return h, notes
}

// sighting remembers when a timestamp's current value was first seen.
type sighting struct{ value, at time.Time }

// see returns when v was first seen (at, when it is new); zero for zero.
func (s *sighting) see(v, at time.Time) time.Time {
	if v.IsZero() {
		*s = sighting{}
		return time.Time{}
	}
	if !v.Equal(s.value) {
		s.value, s.at = v, at
	}
	return s.at
}
