package e2e

import (
	"fmt"
	"time"

	"github.com/stoneforge/dispatch_exporter/dispatch"
)

// span is an interval of fake time; end zero while it lasts.
type span struct {
	from, end time.Time
	ref       time.Time // hangs: when dispatch last made progress
	seen      time.Time // hangs: the later of ref and when the daemon last became visible
	// idleBlock: hangs that began as a block of an idle loop (no cycle in
	// flight): when the block began. Until the block itself outlasts a
	// threshold the evidence cannot tell it from a process starting.
	idleBlock time.Time
	// lastDone: hangs: the daemon's last completed cycle when it began.
	lastDone time.Time
	// noCycle: hangs of a process that has started no cycle: its answers
	// ("running, no cycle yet") carry no stamp of when it started, so the
	// evidence ages them from the first usable one.
	noCycle bool
	cause   string
}

// truth is the ground truth of one daemon, in the user's words: when
// dispatch was not happening, and what the kubelet killed.
type truth struct {
	// hangs: dispatch not happening while the daemon is visible (a page is
	// owed), from a threshold after the later of its last progress and
	// when it became visible, until progress again or it is not visible.
	hangs []span
	// stalls: dispatch not happening at all, visible or not, from a
	// threshold after the daemon's last progress until progress again: a
	// page then is no false page.
	stalls []span
	// blockedStopped: an event loop blocked for longer than a threshold
	// while the loop was stopped (for the exception of that name).
	blockedStopped []span
	kills          []kill
	// killsByRef counts the kubelet's kills in one episode, keyed by the
	// daemon's last completed cycle (daemon.episode): restarts that bring
	// no completed cycle back belong to one episode, whatever processes
	// come and go.
	killsByRef map[time.Time]int
	// startupKills counts the kills in a row, in the episode keyed as
	// killsByRef, of processes in their start-up; startupKilledAgain lists
	// the third and later of them.
	startupKills       map[time.Time]int // start-up kills in a row
	startupKilledAgain []kill
	// startupKilledIdentical counts those excused as word-for-word alike.
	startupKilledIdentical int
	// lastKillByRef is the latest of those kills.
	lastKillByRef map[time.Time]time.Time
	// requests counts the restart requests (runs of 503 answers the
	// kubelet got) in one episode, keyed as killsByRef; last503 is when the
	// latest 503 was answered, in503 whether the latest answer was one.
	requests map[time.Time]int
	last503  time.Time
	in503    bool
	// unrestarted are hangs the exporter could see that the kubelet did
	// not restart in time (enforce mode only).
	unrestarted []string
	// unrestartedStartedUnseen counts the hangs not restarted because the
	// loop was started and blocked between two requests.
	unrestartedStartedUnseen int
	usableWedge              bool // a usable answer showed a wedged cycle
}

// kill is one kill by the kubelet, judged when it happened.
type kill struct {
	at        time.Time
	proc      int
	needless  bool
	exception string // why a needless kill is excused, if it is
	ref       time.Time
}

func newTruth() *truth {
	return &truth{killsByRef: map[time.Time]int{}, lastKillByRef: map[time.Time]time.Time{}, requests: map[time.Time]int{},
		startupKills: map[time.Time]int{}}
}

func (t *truth) hungAt(from, to time.Time) bool {
	for _, s := range t.hangs {
		if s.from.Before(to) && (s.end.IsZero() || s.end.After(from)) {
			return true
		}
	}
	return false
}

// stalledAt: dispatch was not happening at some time in [from, to).
func (t *truth) stalledAt(from, to time.Time) bool {
	for _, s := range t.stalls {
		if s.from.Before(to) && (s.end.IsZero() || s.end.After(from)) {
			return true
		}
	}
	return false
}

func (t *truth) blockedStoppedAt(from, to time.Time) bool {
	for _, s := range t.blockedStopped {
		if s.from.Before(to) && (s.end.IsZero() || s.end.After(from)) {
			return true
		}
	}
	return false
}

// spanAt is the hang that holds at ts, if any.
func (t *truth) spanAt(ts time.Time) *span {
	for i, s := range t.hangs {
		if !s.from.After(ts) && (s.end.IsZero() || s.end.After(ts)) {
			return &t.hangs[i]
		}
	}
	return nil
}

func open(spans []span) *span {
	if n := len(spans); n > 0 && spans[n-1].end.IsZero() {
		return &spans[n-1]
	}
	return nil
}

// cause says what the daemon is doing while dispatch does not happen.
func (d *daemon) cause(now time.Time) string {
	p := d.proc
	switch {
	case d.term != nil || now.Before(p.spawn):
		return "restarting"
	case !p.serving:
		return "start-up " + startNames[p.startMode]
	case p.inFlight:
		return "wedged cycle"
	case p.blocked:
		return "event loop blocked"
	case p.completed.IsZero():
		return "no cycle yet"
	}
	return "no cycle since the loop started"
}

// observe records the truth at now. Called with d.mu held, each step of
// the daemon's driver.
func (t *truth) observe(d *daemon, now time.Time, enforce bool, k *kubeletConfig) {
	if d.proc.hungVisibly(now, d.threshold) {
		d.proc.lastHung = now
	}
	switch vis := d.visible(now); {
	case !vis:
		d.seenFrom = time.Time{}
	case d.seenFrom.IsZero():
		d.seenFrom = now
	}
	stalled := !d.ref.IsZero() && now.Sub(d.ref) > d.threshold
	if s := open(t.stalls); s != nil && (!stalled || !s.ref.Equal(d.ref)) {
		s.end = now
	}
	if stalled && open(t.stalls) == nil {
		t.stalls = append(t.stalls, span{from: d.ref.Add(d.threshold), ref: d.ref})
	}
	// A hang, as a page owes it: no progress for a threshold, counted
	// from when the daemon became visible (a hang or its status), or from
	// when the process that serves started, if later: a new process gets a
	// threshold of grace, as the product gives it.
	seen := later(later(d.ref, d.seenFrom), d.proc.spawn)
	hung := !d.ref.IsZero() && !d.seenFrom.IsZero() && now.Sub(seen) > d.threshold
	if s := open(t.hangs); s != nil && (!hung || !s.seen.Equal(seen)) {
		s.end = now
		if d.seenFrom.IsZero() {
			d.log.add(d.name, "truth: the daemon is down or starting (refused, 503): DOWN, no wedge owed")
		} else {
			d.log.add(d.name, "truth: dispatch happens again")
		}
	}
	if hung && open(t.hangs) == nil {
		c := d.cause(now)
		sp := span{from: seen.Add(d.threshold), ref: d.ref, seen: seen, cause: c, lastDone: d.episode}
		if p := d.proc; p.serving && p.blocked && (!p.inFlight || !d.usableBetween(d.ref, p.blockFrom)) {
			// The block began with no cycle in flight, or with one that
			// no usable answer ever showed (it started while the daemon
			// answered without its loop's state).
			sp.idleBlock = p.blockFrom
		}
		sp.noCycle = d.ref.Before(d.proc.spawn)
		t.hangs = append(t.hangs, sp)
		d.log.add(d.name, "truth: no progress since %s, visible since %s: dispatch not happening (%s)", d.at(d.ref), d.at(seen), c)
	}
	p := d.proc
	bs := p.blockedStopped(now, d.threshold)
	if s := open(t.blockedStopped); s != nil && !bs {
		s.end = now
	}
	if bs && open(t.blockedStopped) == nil {
		t.blockedStopped = append(t.blockedStopped, span{from: p.blockFrom.Add(d.threshold)})
	}
	if !enforce || k == nil || p.unrestart || p.usable.IsZero() || !p.ownHung(now, d.threshold) || t.requests[d.episode] >= restartBudget {
		return
	}
	// A hang the exporter could see (it read a usable status of this
	// process), budget not spent: the kubelet restarts it within the
	// threshold, its failureThreshold × period, two periods more, its
	// timeout and a scrape's slack, from the hang's start or from the
	// first usable answer (nothing before it shows a loop that hangs: a
	// start-up answers nothing usable), or after its startupProbe window.
	act := k.failureThreshold*k.period + 2*k.period + k.timeout + scrapeSlack
	deadline := later(later(p.ref, p.usable).Add(d.threshold+act), p.spawn.Add(k.startupWindow+act))
	if d.agesFromFirstSight(d.episode, now) {
		// Without computedAt, a timestamp ages from when it was first
		// seen: the hang's age runs from the first usable answer after it.
		u, ok := d.firstUsable(p.ref)
		if !ok {
			return
		}
		deadline = later(deadline, u.Add(d.threshold+act))
	}
	e := later(p.ref, p.usable).Add(d.threshold)
	if d.agesFromFirstSight(d.episode, now) {
		if u, ok := d.firstUsable(p.ref); ok {
			e = later(e, u.Add(d.threshold))
		}
	}
	if d.lastUnusableBy(now).After(e) {
		// Answers without the loop's state came once the hang could be
		// judged: the evidence shows it from the first usable answer after
		// them, and a restart is owed from then.
		u, ok := d.firstUsable(e)
		if !ok {
			return
		}
		deadline = later(deadline, u.Add(act))
	}
	if n := t.requests[d.episode]; n > 0 {
		// The documented back-off: after the n-th restart request of an
		// episode, the process that serves gets threshold × 2^n of grace,
		// from when it could first have started: the request's last 503
		// and the killed process's termination grace, or a later request
		// refused (nothing listened yet) or cut.
		from := later(later(t.last503.Add(dispatch.DefaultTerminationGrace), d.lastRefused), d.lastLost)
		if p.serving && !p.blockFrom.IsZero() && p.blockFrom.After(from) {
			// A hang that began after the grace started must itself last
			// the grace.
			from = p.blockFrom
		}
		deadline = later(deadline, from.Add(d.threshold<<n+act))
	}
	if !p.blockFrom.IsZero() && !p.blockFrom.Before(p.ref) {
		// Once every request hangs, the evidence cannot tell this process
		// from one that replaced it unseen and is starting, until the hang
		// itself outlasts a threshold (or the process answers again): no
		// restart is owed before that.
		seen := p.blockFrom.Add(d.threshold)
		if !p.blocked && p.blockTill.Before(seen) {
			seen = p.blockTill
		}
		deadline = later(deadline, seen.Add(act))
	}
	if now.After(deadline) && d.startedUnseen(p.ref, now) {
		// The last usable answer showed the loop stopped, and the start
		// and the block that followed fell between two requests: every
		// answer since is what a stopped loop's blocked server gives.
		p.unrestart = true
		t.unrestartedStartedUnseen++
		return
	}
	if now.After(deadline) {
		p.unrestart = true
		t.unrestarted = append(t.unrestarted, fmt.Sprintf("process %d hung since %s (%s), not restarted by %s",
			p.id, d.at(p.ref), d.cause(now), d.at(deadline)))
		d.log.add(d.name, "HARM unrestarted hang: %s", t.unrestarted[len(t.unrestarted)-1])
	}
}

// answered records one liveness answer the kubelet got: a 503 after
// anything else begins a restart request. Called with d.mu held.
func (t *truth) answered(d *daemon, restart bool, now time.Time) {
	if restart && !t.in503 {
		t.requests[d.episode]++
	}
	if restart {
		t.last503 = now
	}
	t.in503 = restart
}

// judgeKill records a kill by the kubelet of d.proc. Called with d.mu held,
// before the kill.
//
// A kill is needless when the process had not itself been hung for a
// threshold at any moment of the kubelet's run of failures that led to it
// (failureThreshold × period and a timeout): a process that recovers in the
// last moments of that run, while no request could show it, was still
// killed for a hang that was real when the run began.
func (t *truth) judgeKill(d *daemon, now time.Time, run time.Duration) kill {
	p := d.proc
	hung := p.hungVisibly(now, d.threshold) || !p.lastHung.IsZero() && now.Sub(p.lastHung) <= run
	k := kill{at: now, proc: p.id, ref: d.ref, needless: !hung}
	switch {
	case !k.needless:
	case p.blockedStopped(now, d.threshold):
		// The loop was stopped and its event loop then blocked: had it been
		// started through the API just before the block (no request could
		// see that), it would be hung now, and every answer the same.
		k.exception = "blocked while stopped"
	case p.predHung && d.lastNonHang.Before(p.predKill):
		// The process replaced a hung one and no request has seen anything
		// but hangs since: the swap (a termination grace, a moment of
		// refusal no request hit, a start-up that hangs) is invisible, and
		// the answers are those of the old process going on hanging.
		k.exception = "replaced unseen"
	case p.predNoCycle && p.started.IsZero() && d.lastRefused.Before(p.predKill):
		// The process replaced one that had no cycle yet either, and no
		// request was refused since: both answer "running, no cycle yet"
		// (or hang) alike, so the evidence places this one's start at the
		// other's.
		k.exception = "replaced identical"
	}
	t.killsByRef[d.episode]++
	t.lastKillByRef[d.episode] = now
	starting := !p.serving
	if !starting {
		t.startupKills[d.episode] = 0
	} else {
		t.startupKills[d.episode]++
	}
	if starting && t.startupKills[d.episode] >= 3 {
		if p.predNoCycle && p.started.IsZero() && d.lastRefused.Before(p.predKill) {
			// Word-for-word the answers of the start-up before it, and no
			// refusal seen between: the evidence places its start at the
			// other's, whose grace it shares.
			t.startupKilledIdentical++
		} else {
			t.startupKilledAgain = append(t.startupKilledAgain, k)
		}
	}
	t.in503 = false // a new container: its next 503 begins another request
	t.kills = append(t.kills, k)
	return k
}
