package dispatch

import (
	"fmt"
	"time"
)

// Observation is what one look at a daemon's status endpoint, with all the
// looks before it, tells about the daemon: the evidence model's decision
// and what the restart policy and the logs need besides.
type Observation struct {
	// Health is the loop as judged: from this answer when it was usable,
	// else from the last usable answer with "now" advanced on our monotonic
	// clock. Nil when nothing is known of the loop of the process serving
	// now. Its queue is known only on a usable answer.
	Health *Health
	// Assessment is the decision every output shows.
	Assessment Assessment
	// Restarted is true when this answer showed a new process (timestamps
	// vanished or moved backwards, or a new cycle started over one seen in
	// flight that never completed): a fresh grace period starts.
	Restarted bool
	// NewRun is true when this answer showed the loop started again after
	// a stop (not a new process).
	NewRun bool
	// Progress is true when this usable answer shows a cycle completed
	// since the last usable answer, or shows the first completion known of
	// the process that serves now and the loop is not judged stale.
	Progress bool
	// Completions counts the usable answers, since the tracker began, that
	// showed Progress: a consumer that reads only some observations (the
	// restart policy reads liveness's, a scrape may see the cycle first)
	// compares it with the count it saw last.
	Completions uint64
	// HungSince is when the daemon began hanging (our clock): the start of
	// the first unanswered request since its last answer or refusal. Zero
	// unless the evidence is a hang.
	HungSince time.Time
	// GoneAt is when (our clock) a request last found the daemon's process
	// gone: refused, or a connection it had accepted cut before an answer
	// (Tracker.ConnectionLost). Whichever request saw it, the restart
	// policy reads it: a new process could first have started then.
	GoneAt time.Time
	// NewProcessAt is when (our clock) a request last saw a new process by
	// its timestamps (Restarted), whichever request it was.
	NewProcessAt time.Time
	// Pending is true for a decision taken for a caller that stopped
	// waiting (Tracker.Pending).
	Pending bool
	// RestartSaidAt is when (our clock) a decision last said restart is
	// the fix, as long as the wedge it showed has not ended since (zero
	// otherwise): answers that say nothing of the loop, and callers that
	// stop waiting, keep it. The restart policy decides whether it is
	// still about the process that serves.
	RestartSaidAt time.Time
	// Notes name oddities of the answer worth one log line each.
	Notes []string
	// Oddities are the answer's fields outside what a daemon can mean that
	// were dropped or clamped (the answer stays usable); a consumer logs
	// each field once.
	Oddities []Oddity
	// Implausible is the field that made this answer unusable: a loop
	// timestamp outside what a daemon can mean, or health.computedAt at
	// odds with our clock or with the daemon's own cycle timestamps. Nil
	// otherwise. The decision is the unusable row's: it neither starts
	// nor ends a wedge.
	Implausible *Oddity
}

// Tracker follows one daemon across status requests: it takes each outcome
// as evidence (see Evidence), keeps what the last usable answer showed of
// the loop, notices new runs and new processes, and decides with Decide.
// Only the daemon's answers, and their absence, move it: nothing a
// consumer of its decisions does (a liveness answer, a restart asked for)
// feeds back. It does no I/O and is not safe for concurrent use. Every "at"
// is our clock, which must be monotonic.
type Tracker struct {
	threshold time.Duration // override; zero: the daemon's, else the default

	base   *Health   // the last usable answer's loop, as judged
	baseAt time.Time // our clock when it arrived
	// runAt is the current run's grace anchor on our clock (zero: none):
	// the judging clock may change under it (computedAt appearing, a step),
	// so it is placed on the judging clock afresh at each answer.
	runAt     time.Time
	hungSince time.Time // our clock: start of the first unanswered request since the last answer or refusal
	stale     bool      // the last decision judged the loop wedged
	decided   bool      // a request has ended: there is evidence
	restartAt time.Time // our clock: the last decision that said restart, while the wedge holds
	// restartOnHang: that decision rested on a hang.
	restartOnHang bool
	completions   uint64    // usable answers that showed Progress
	goneAt        time.Time // our clock: the last refusal or connection lost
	newAt         time.Time // our clock: the last answer that showed a new process

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

// NewTracker returns a Tracker; a positive threshold overrides the daemon's.
func NewTracker(threshold time.Duration) *Tracker {
	return &Tracker{threshold: threshold}
}

// SetThreshold changes the threshold override (a reload that changed it):
// everything known of the daemon is kept.
func (t *Tracker) SetThreshold(threshold time.Duration) { t.threshold = threshold }

// Answer takes a decoded status answered at our time at: usable when it
// carries health or says the server has no daemon, unusable when health is
// missing (the daemon could not compute it).
func (t *Tracker) Answer(r Report, at time.Time) Observation {
	t.hungSince = time.Time{}
	if !r.Available {
		// No daemon at all: nothing runs, and a daemon appearing later is new.
		t.forgetProcess()
		h := Health{Now: at, Interval: r.Interval, Threshold: t.thresholdOf(r)}
		detail := "the server has no dispatch daemon"
		if r.Reason != "" {
			detail += ": " + r.Reason
		}
		return t.decide(Observation{Health: &h}, Look{Evidence: EvidenceUsable, NoDaemon: true, Detail: detail}, at)
	}
	if !r.HealthKnown {
		// The daemon's own answer, without its health (computing it threw,
		// perhaps for the very reason the loop hangs): it says nothing of
		// the loop, but does not interrupt what the last usable answer said.
		l := t.look(EvidenceUnusable, "health missing", at)
		obs := Observation{Health: l.Health,
			Notes: []string{"health missing (the daemon could not compute it): staleness and queue not judged"}}
		return t.decide(obs, l, at)
	}

	if odd := t.contradiction(r, at); odd != nil {
		// A field no daemon can mean, or a clock at odds with its own
		// stamps: nothing of this answer is evidence, and nothing of it is
		// kept (the clock, the sightings, the base stay the last usable
		// answer's).
		l := t.look(EvidenceUnusable, odd.String(), at)
		return t.decide(Observation{Health: l.Health, Implausible: odd, Oddities: r.Oddities}, l, at)
	}
	h, notes := t.health(r, at)
	obs := Observation{Notes: notes, Oddities: r.Oddities}
	prev := t.base
	obs.Restarted = restarted(prev, h)
	if obs.Restarted {
		t.newAt = at
	}
	if obs.Restarted && r.ComputedAt.IsZero() && t.hasOffset {
		// A new process that does not say its time: the old one's clock
		// offset says nothing of it.
		t.forgetClock()
		h, notes = t.health(r, at)
		obs.Notes = notes
	}
	obs.NewRun = !obs.Restarted && prev != nil && !prev.Running && h.Running
	switch {
	case !h.Running:
		t.runAt = time.Time{}
	case obs.Restarted, obs.NewRun:
		t.runAt = at.Add(runStart(prev, h).Sub(h.Now))
	case t.runAt.IsZero() && h.LastStarted.IsZero() && h.LastCompleted.IsZero():
		// Running and no cycle yet: the grace counts from first sight.
		t.runAt = at
	}
	if !t.runAt.IsZero() {
		h.RunningSince = h.Now.Add(t.runAt.Sub(at))
	}
	completed := !h.LastCompleted.IsZero() &&
		(prev == nil || obs.Restarted || h.LastCompleted.After(prev.LastCompleted))
	base := h
	base.QueueKnown = false // the queue moves per request; unknown once this answer ages
	t.base, t.baseAt = &base, at
	obs.Health = &h
	// A newer completion of the process known is progress, however late it
	// is seen; the first one known of a process (after a refusal, a new
	// process) only when it is recent, since it may be the same old one.
	obs.Progress = completed && (prev != nil && !obs.Restarted || !Judge(h).Stale)
	if obs.Progress {
		t.completions++
	}
	return t.decide(obs, Look{Evidence: EvidenceUsable, Health: &h}, at)
}

// Fail takes a request that produced no decodable status: refused (nothing
// listens), hung (no answer within the target's timeout) or unusable (an
// HTTP error, a body that is not a status, a TLS failure, ...). start and
// end are our clock when the request began and ended; detail says what
// failed.
func (t *Tracker) Fail(e Evidence, detail string, start, end time.Time) Observation {
	switch e {
	case EvidenceRefused:
		// Nothing listens: whatever was known is about a process that no
		// longer serves, and the next one to answer is new.
		t.forgetProcess()
		t.hungSince, t.goneAt = time.Time{}, end
	case EvidenceHung:
		if t.hungSince.IsZero() {
			t.hungSince = start
		}
	default:
		e = EvidenceUnusable
		t.hungSince = time.Time{}
	}
	l := t.look(e, detail, end)
	obs := Observation{Health: l.Health}
	if e == EvidenceHung {
		l.HungFor, obs.HungSince = end.Sub(t.hungSince), t.hungSince
	}
	return t.decide(obs, l, end)
}

// Pending decides for a caller that stopped waiting at our time at for a
// request begun at start that has not ended: the evidence is that request,
// unanswered so far. It changes nothing (the request decides when it
// ends). Only a hang already under way goes on counting: one unanswered
// request alone, shorter than the target's timeout, is no evidence of a
// hang, so it decides like an unusable answer: its Assessment never asks
// for a restart (the restart policy may still act on RestartSaidAt, an
// earlier request's decision about the same process).
func (t *Tracker) Pending(detail string, start, at time.Time) Observation {
	obs := t.carried(Observation{Pending: true})
	if !t.decided {
		obs.Assessment = Decide(Look{})
		obs.Assessment.Reason += ": " + detail
		return obs
	}
	if t.hungSince.IsZero() || t.hungSince.After(start) {
		l := t.look(EvidenceUnusable, detail, at)
		obs.Health, obs.Assessment = l.Health, Decide(l)
		return obs
	}
	l := t.look(EvidenceHung, detail, at)
	l.HungFor = at.Sub(t.hungSince)
	obs.Health, obs.Assessment, obs.HungSince = l.Health, Decide(l), t.hungSince
	return obs
}

// ConnectionLost records that a connection the daemon had accepted was
// reset or closed before it answered, at our time at: the process holding
// it may have died. It changes no verdict (a proxy may cut connections
// too); the restart policy reads it (Observation.GoneAt). Call it before
// Fail for that request.
func (t *Tracker) ConnectionLost(at time.Time) { t.goneAt = at }

// look is what is known of the loop for a decision at our time at on
// evidence other than a usable answer.
func (t *Tracker) look(e Evidence, detail string, at time.Time) Look {
	return Look{Evidence: e, Health: t.extrapolated(at), WasStale: t.carriesWedge(), Detail: detail}
}

// carriesWedge: a wedge judged before goes on through hangs and through
// answers that say nothing of the loop (401, 500, HTML, health missing,
// 503) for as long as they last: neither shows that the loop recovered,
// and dispatch is not happening whichever process hangs. Only evidence
// ends it: a usable answer, a refusal, a new process.
func (t *Tracker) carriesWedge() bool { return t.stale && t.base != nil }

// forgetProcess drops what was known of a process that no longer serves:
// the next one to answer is new.
func (t *Tracker) forgetProcess() {
	t.base, t.runAt = nil, time.Time{}
	t.forgetClock()
}

// forgetClock drops what is known of the daemon's clock: a process that
// serves next may keep another.
func (t *Tracker) forgetClock() {
	t.offset, t.hasOffset, t.stepAt = 0, false, time.Time{}
	t.seenStarted, t.seenCompleted = sighting{}, sighting{}
}

func (t *Tracker) decide(obs Observation, l Look, at time.Time) Observation {
	if l.Evidence == EvidenceRefused || obs.Restarted {
		t.restartAt = time.Time{} // what it said was about a process gone
	}
	obs.Assessment = Decide(l)
	t.stale, t.decided = obs.Assessment.Stale, true
	switch {
	case obs.Assessment.Restart:
		t.restartAt, t.restartOnHang = at, l.Evidence == EvidenceHung
	case !obs.Assessment.Stale,
		t.restartOnHang && l.Evidence == EvidenceUnusable:
		// The wedge ended; or a restart said on a hang, and now the daemon
		// answers (or a connection was cut): that hang is over, whatever
		// serves now.
		t.restartAt = time.Time{}
	}
	return t.carried(obs)
}

// carried is obs with what the restart policy reads of every request so
// far, whichever request saw it: decisions and Pending alike carry it.
func (t *Tracker) carried(obs Observation) Observation {
	obs.Completions, obs.RestartSaidAt, obs.GoneAt, obs.NewProcessAt = t.completions, t.restartAt, t.goneAt, t.newAt
	return obs
}

// extrapolated is the last usable answer's loop with "now" advanced by the
// time elapsed since on our monotonic clock, so a daemon that stops
// answering still turns stale; nil when none is known.
func (t *Tracker) extrapolated(at time.Time) *Health {
	if t.base == nil {
		return nil
	}
	h := *t.base
	h.Now = h.Now.Add(at.Sub(t.baseAt))
	return &h
}

// restarted reports a new process: a timestamp vanished or moved
// backwards; or a new cycle started while the one seen in flight never
// completed, which one process cannot do (its loop runs one cycle at a
// time: smithy's polling guard).
func restarted(prev *Health, h Health) bool {
	if prev == nil {
		return false
	}
	ps, pc := prev.Reported()
	hs, hc := h.Reported()
	inFlight := !ps.IsZero() && ps.After(pc)
	return hs.Before(ps) || hc.Before(pc) || inFlight && hs.After(ps) && !hc.After(ps)
}

// runStart is the earliest moment known of a run that started between the
// previous observation and h: its first cycle's start when that is a new
// cycle begun no earlier than the previous look (so of the new run; the
// JSON's millisecond stamps can make the two equal), else h itself.
func runStart(prev *Health, h Health) time.Time {
	ps, _ := prev.Reported()
	hs, _ := h.Reported()
	if hs.After(ps) && !h.LastStarted.Before(prev.Now) {
		return h.LastStarted
	}
	return h.Now
}

// contradiction is the field of r that is no evidence at our time at: a
// loop timestamp outside what a daemon can mean (implausible); a cycle
// stamp later than computedAt by more than clockStepTolerance, on an answer
// judged on the daemon's clock (the stamp was made after the daemon
// computed the answer, or computedAt lags the clock its stamps keep); or a
// cycle stamp moved forward since the last usable answer that the daemon's
// clock, unstepped since, places before that answer. Either way computedAt
// or the stamp is false (a computedAt that jumped, back or forward, while
// the stamps kept the old clock). A real step of the daemon's clock moves
// computedAt and the stamps together; the answer that shows it, and any
// stamp made before it, is judged by first sightings (see health), and the
// check resumes from the next. Nil when r is consistent. It changes
// nothing.
func (t *Tracker) contradiction(r Report, at time.Time) *Oddity {
	if odd := implausible(r, at); odd != nil {
		return odd
	}
	if r.ComputedAt.IsZero() || !t.hasOffset {
		// No clock known yet: one behind its stamps may have stepped back
		// before we first looked, and is judged by first sightings.
		return nil
	}
	offset := r.ComputedAt.Sub(at)
	if offset-t.offset > clockStepTolerance || t.offset-offset > clockStepTolerance {
		return nil // a step: judged by first sightings
	}
	stamps := []struct {
		field string
		v     time.Time
		seen  sighting
	}{{"health.lastPollStartedAt", r.LastStarted, t.seenStarted}, {"health.lastPollCompletedAt", r.LastCompleted, t.seenCompleted}}
	if !t.stepAt.IsZero() {
		for _, s := range stamps {
			if !s.v.IsZero() && s.v.Equal(s.seen.value) && !s.seen.at.After(t.stepAt) {
				return nil // stamped before the daemon's clock stepped: judged by first sightings
			}
		}
	}
	for _, s := range stamps {
		if d := s.v.Sub(r.ComputedAt); d > clockStepTolerance {
			return &Oddity{Field: "health.computedAt", Note: fmt.Sprintf(
				"%s is %s before %s %s: a stamp later than the answer it is in; no evidence of the loop",
				stampOf(r.ComputedAt), skewWords(d), s.field, stampOf(s.v))}
		}
	}
	if t.base == nil {
		return nil
	}
	// The daemon's "now" at the last usable answer, on its own clock.
	prevNow := t.baseAt.Add(t.offset)
	for _, s := range stamps {
		// Only a stamp that moved forward: one that moved back shows a new
		// process (restarted), whatever its clock.
		if s.seen.value.IsZero() || !s.v.After(s.seen.value) || !s.v.Before(prevNow.Add(-clockStepTolerance)) {
			continue
		}
		return &Oddity{Field: "health.computedAt", Note: fmt.Sprintf(
			"%s contradicts %s %s: that stamp is new since the last answer, yet %s before it on the daemon's clock; no evidence of the loop",
			stampOf(r.ComputedAt), s.field, stampOf(s.v), roundAge(prevNow.Sub(s.v)))}
	}
	return nil
}

func (t *Tracker) thresholdOf(r Report) time.Duration {
	if t.threshold > 0 {
		return t.threshold
	}
	return r.Threshold
}

// health converts a report with health into a Health on one judging clock.
// That is the daemon's (computedAt, or our clock plus the offset it had at
// the last answer that carried computedAt), so that clock skew can neither
// cause nor hide a verdict; but our own, each timestamp placed at the
// moment we first saw it, when the daemon never reported computedAt, or
// when its clock stepped against ours and a timestamp it reports was
// stamped before the step.
func (t *Tracker) health(r Report, at time.Time) (Health, []string) {
	h := Health{Running: r.Running, Interval: r.Interval, Threshold: t.thresholdOf(r), Observed: true}
	started, completed := r.LastStarted, r.LastCompleted
	// A stamp is placed on our clock when first seen: through the daemon's
	// offset then in force, so that its age survives a later step of
	// either clock; at the moment it was seen when no offset is known, or
	// when this very answer shows a step (the stamp may be from either
	// side of it).
	placeOffset, placeKnown := t.offset, t.hasOffset
	var notes []string
	if !r.ComputedAt.IsZero() {
		offset := r.ComputedAt.Sub(at)
		placeOffset, placeKnown = offset, true
		if t.hasOffset && (offset-t.offset > clockStepTolerance || t.offset-offset > clockStepTolerance) {
			t.stepAt, placeKnown = at, false
			notes = append(notes, "the daemon's clock stepped against ours: stamps from before the step keep the age they had, new ones count from when they are first seen, until new cycles run")
		}
		if !t.hasOffset && (started.Sub(r.ComputedAt) > clockStepTolerance || completed.Sub(r.ComputedAt) > clockStepTolerance) {
			// The first clock known, behind its own stamps: it may have
			// stepped back before we first looked (contradiction refuses
			// this from the next answer on, unless a step shows).
			t.stepAt, placeKnown = at, false
			notes = append(notes, "health.computedAt is behind the cycle stamps at first sight: the daemon's clock may have stepped back; stamps count from when they are first seen, until new cycles run")
		}
		t.offset, t.hasOffset = offset, true
	} else if t.hasOffset {
		notes = append(notes, "health.computedAt missing: the daemon's clock taken from the last answer that had it")
	} else {
		notes = append(notes, "health.computedAt missing: ages measured from when each timestamp was first seen")
	}
	seenStarted, placedStarted := t.seenStarted.see(started, at, placeOffset, placeKnown)
	seenCompleted, placedCompleted := t.seenCompleted.see(completed, at, placeOffset, placeKnown)
	afterStep := func(seen time.Time) bool { return seen.IsZero() || seen.After(t.stepAt) }
	if !t.hasOffset || (!t.stepAt.IsZero() && (!afterStep(seenStarted) || !afterStep(seenCompleted))) {
		h.Now = at
		h.LastStarted, h.LastCompleted = placedStarted, placedCompleted
		if started.After(completed) && !completed.IsZero() && !h.LastStarted.After(h.LastCompleted) {
			h.LastCompleted = h.LastStarted.Add(-time.Nanosecond) // keep the cycle in flight
		}
	} else {
		h.Now = at.Add(t.offset)
		if !r.ComputedAt.IsZero() {
			h.Now = r.ComputedAt
		}
		h.LastStarted, h.LastCompleted = started, completed
		if !r.ComputedAt.IsZero() {
			// Later than computedAt by no more than clockStepTolerance
			// (contradiction refuses more): a cycle that ran while the
			// daemon computed its answer. Progress all the same, made now;
			// ignoring it would show no cycle at all, and a loop that
			// cycles would turn stale.
			if started.After(h.Now) {
				notes, h.LastStarted = append(notes, "health.lastPollStartedAt is after computedAt: taken as computedAt"), h.Now
			}
			if completed.After(h.Now) {
				notes, h.LastCompleted = append(notes, "health.lastPollCompletedAt is after computedAt: taken as computedAt"), h.Now
			}
		} else {
			if started.After(h.Now) {
				notes, started = append(notes, "health.lastPollStartedAt is after computedAt: ignored"), time.Time{}
			}
			if completed.After(h.Now) {
				notes, completed = append(notes, "health.lastPollCompletedAt is after computedAt: ignored"), time.Time{}
			}
			h.LastStarted, h.LastCompleted = started, completed
		}
	}
	h.ReportedStarted, h.ReportedCompleted = started, completed
	if r.QueueKnown {
		h.QueueKnown = true
		h.ReadyUnassignedTasks, h.AvailableWorkers = r.Ready, r.Workers
	}
	return h, notes
}

// sighting remembers when a timestamp's current value was first seen, and
// where that placed it on our clock.
type sighting struct{ value, at, placed time.Time }

// see returns when v was first seen (at, when it is new) and its place on
// our clock: v less the daemon's offset when that is known (never later
// than the sight), else the sight itself; zeros for zero.
func (s *sighting) see(v, at time.Time, offset time.Duration, known bool) (seen, placed time.Time) {
	if v.IsZero() {
		*s = sighting{}
		return time.Time{}, time.Time{}
	}
	if !v.Equal(s.value) {
		s.value, s.at, s.placed = v, at, at
		if p := v.Add(-offset); known && p.Before(at) {
			s.placed = p
		}
	}
	return s.at, s.placed
}
