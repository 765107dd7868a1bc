package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptrace"
	"strings"
	"sync"
	"syscall"
	"time"
)

// How a process behaves while it starts up.
const (
	startRefuse  = iota // nothing listens yet
	startHang           // accepts, never answers
	start503            // answers 503 "starting"
	startNoCycle        // answers "running", no cycle yet
)

var startNames = [...]string{"refusing", "hanging", "answering 503", "running, no cycle yet"}

// How often health.computedAt is in the daemon's answers.
const (
	computedAlways = iota
	computedNever
	computedSometimes
)

// process is one process of a daemon's container.
type process struct {
	id        int
	spawn     time.Time // the container started it (it is down before)
	startMode int
	startEnd  time.Time // serving from then on
	firstTick time.Duration
	serving   bool
	running   bool
	started   time.Time // latest cycle start, true time
	completed time.Time
	stampS    time.Time // the same, on the daemon's clock when stamped
	stampC    time.Time
	inFlight  bool // the latest cycle wedged on an await forever
	wedgeNext bool
	blocked   bool // the event loop is blocked: every request hangs, no cycles
	blockFrom time.Time
	blockTill time.Time // zero: forever
	nextTick  time.Time
	// ref is when this process last made progress: its spawn, its latest
	// completed cycle, the start of the cycle in flight, or a start of its
	// loop through the API; zero while its loop is stopped with nothing in
	// flight (nothing is expected of it).
	ref       time.Time
	usable    time.Time // when it first served a usable status; zero: never
	predHung  bool      // the process it replaced had hung a threshold, or its requests hung, when killed
	predKill  time.Time // when that one was killed
	unrestart bool      // counted as an unrestarted hang already
	lastHung  time.Time // the latest moment it had been hung for a threshold
	// firstStarted is when its first cycle started.
	firstStarted time.Time
	// shownCycle: a usable answer of it carried a cycle's stamp.
	shownCycle bool
	// predNoCycle: the process it replaced never showed a cycle in a
	// usable answer.
	predNoCycle bool
}

// ownHung: the process itself has made no progress for longer than the
// threshold while it should (start-up included).
func (p *process) ownHung(now time.Time, thr time.Duration) bool {
	return !p.ref.IsZero() && now.Sub(p.ref) > thr
}

// hungVisibly: ownHung, not counting a start-up spent refusing connections
// or answering 503 "starting": a process doing that is starting, not hung,
// and the kubelet restarts a dead one by itself.
func (p *process) hungVisibly(now time.Time, thr time.Duration) bool {
	from := p.ref
	if p.startMode == startRefuse || p.startMode == start503 {
		if !p.serving {
			return false
		}
		from = later(from, p.startEnd)
	}
	return !from.IsZero() && now.Sub(from) > thr
}

// blockedStopped: the event loop blocked for longer than the threshold
// while the loop was stopped with nothing in flight.
func (p *process) blockedStopped(now time.Time, thr time.Duration) bool {
	return p.serving && p.blocked && !p.running && !p.inFlight && now.Sub(p.blockFrom) > thr
}

// daemon is one simulated smithy server: its container's processes, its
// status endpoint (an http.RoundTripper), its clock, and the ground truth
// of whether dispatch happens.
type daemon struct {
	name       string
	log        *eventLog
	rng        *rand.Rand // the driver's: events, kills
	req        *rand.Rand // the server's: per-request flips
	interval   time.Duration
	threshold  time.Duration
	computedAt int
	truth      *truth

	mu       sync.Mutex
	changed  chan struct{} // closed when a hang may have ended
	proc     *process      // the container's process (maybe not spawned yet)
	term     *process      // the previous one, hanging through its termination grace
	termEnd  time.Time
	procs    int
	skew     time.Duration // the daemon's clock minus ours
	fault    bool          // answers flip per request (401, 500, HTML, no health)
	faultEnd time.Time
	stuck    bool
	// ref is when dispatch on this daemon last made progress, across its
	// processes (a new process inherits it); zero: nothing is expected.
	ref time.Time
	// lastNonHang is when a request last got anything but a hang.
	lastNonHang time.Time
	// slowStarts: every process after a restart hangs in a long start-up.
	slowStarts bool
	// poisonUntil: processes spawned before it wedge their first cycle.
	poisonUntil time.Time
	// steppedAt is every time the daemon's clock stepped, in order: a
	// check judging a moment reads the last one by then (lastStepBy), not
	// a step that came after it.
	steppedAt []time.Time
	// inverted lists the starts of wedged cycles stamped before the last
	// completion (a clock stepped back between them).
	inverted []time.Time
	// episode is the latest completed cycle a usable answer showed, in any
	// process: the key of a restart episode (restarts that bring no
	// completed cycle back, as far as anyone can see).
	episode time.Time
	// all lists every process, in spawn order; refusals, when requests
	// were refused.
	all      []*process
	refusals []time.Time
	// lastLost is when a request's accepted connection was last cut (its
	// process died under it).
	lastLost time.Time
	// lastRefused is when a request was last refused.
	lastRefused time.Time
	// usableAt lists when the daemon answered with its health;
	// unusableAt, when it answered without (401, 500, HTML, no health: a
	// fault period).
	usableAt []time.Time
	// usableRunning: that answer showed the loop running or a cycle in
	// flight (a start-up's "running, no cycle yet" says running too).
	usableRunning []bool
	unusableAt    []time.Time
	// seenFrom is when the daemon last became visible: a request would
	// be accepted and either hang or get the daemon's status (not be
	// refused, not get 503 "starting"); zero while it is not.
	seenFrom time.Time
}

// visible: a request now would reach a process that either hangs or
// answers with its status. A refusal or a 503 "starting" is a daemon
// down or starting, which the product reports as DOWN
// (DispatchStatusDown, DispatchStatusDownLong), never as a wedge: the
// wedge page is owed only for time the daemon is visible.
//
// A process that has hung since it started, before it ever answered with
// its status, is no wedge the exporter can see either: nothing is known of
// its loop, and it is indistinguishable from one still starting (DOWN).
func (d *daemon) visible(now time.Time) bool {
	b := d.behaviour(now)
	switch {
	case b.kind == refuse:
		return false
	case b.kind == hang && b.proc.usable.IsZero():
		return false
	case b.kind == answer && !b.proc.serving && b.proc.startMode == start503:
		return false
	}
	return true
}

func newDaemon(name string, rng *rand.Rand, log *eventLog, interval, thr time.Duration) *daemon {
	d := &daemon{name: name, log: log, rng: rng, req: rand.New(rand.NewPCG(rng.Uint64(), rng.Uint64())),
		interval: interval, threshold: thr, changed: make(chan struct{}), truth: newTruth()}
	d.skew = []time.Duration{0, 0, 10 * time.Second, -10 * time.Second, 2 * time.Hour, -2 * time.Hour}[rng.IntN(6)]
	d.computedAt = []int{computedAlways, computedAlways, computedAlways, computedNever, computedSometimes}[rng.IntN(5)]
	now := time.Now()
	if rng.IntN(8) == 0 {
		// A poisoned daemon: every process's first cycle wedges (a
		// dependency down), until a fix that may never come within the
		// history. Restarts do not help; the budget and the back-off must.
		d.poisonUntil = now.Add(time.Duration(10+rng.IntN(40)) * time.Minute)
	}
	d.ref, d.seenFrom = now, now
	d.proc = d.newProcess(now, true)
	return d
}

// newProcess makes the container's next process, spawned at spawn.
func (d *daemon) newProcess(spawn time.Time, first bool) *process {
	d.procs++
	p := &process{id: d.procs, spawn: spawn, startMode: d.rng.IntN(4), ref: spawn,
		firstTick: time.Duration(d.rng.Int64N(int64(d.interval) + 1))}
	var up time.Duration
	switch r := d.rng.Float64(); {
	case first && r < 0.7, r < 0.4:
		up = 0
	case r < 0.75:
		up = time.Duration(d.rng.Float64() * 0.5 * float64(d.threshold))
	case r < 0.9:
		up = time.Duration((0.5 + d.rng.Float64()) * float64(d.threshold))
	default:
		up = time.Duration((1.5 + 1.5*d.rng.Float64()) * float64(d.threshold))
	}
	if d.slowStarts && !first {
		// A slow-starting daemon: every process after a restart answers
		// "running, no cycle yet" through a start-up of two to three
		// thresholds (as 9s start-ups at a 3s threshold, at a larger
		// scale: 40 s to three minutes). Restarts must back off to let one
		// finish.
		p.startMode, up = startNoCycle, time.Duration((2+d.rng.Float64())*float64(d.threshold))
	}
	p.startEnd = spawn.Add(up)
	d.all = append(d.all, p)
	if spawn.Before(d.poisonUntil) {
		p.wedgeNext = true
		d.log.add(d.name, "process %d is poisoned: its first cycle will wedge", d.procs)
	}
	d.log.add(d.name, "process %d spawns at %s, start-up %s (%s)", p.id, d.at(spawn), up.Round(time.Second), startNames[p.startMode])
	return p
}

func (d *daemon) at(t time.Time) string { return fmt.Sprintf("%.1fs", t.Sub(d.log.start).Seconds()) }

func (d *daemon) setRef(p *process, t time.Time) { p.ref, d.ref = t, t }

func (d *daemon) wake() {
	close(d.changed)
	d.changed = make(chan struct{})
}

// advance brings the daemon to now. Called with d.mu held.
func (d *daemon) advance(now time.Time) {
	changed := false
	if d.term != nil && !now.Before(d.termEnd) {
		d.log.add(d.name, "process %d gone", d.term.id)
		d.term, changed = nil, true
	}
	p := d.proc
	if !now.Before(p.spawn) && !p.serving && !now.Before(p.startEnd) {
		p.serving, p.running = true, true
		p.nextTick = p.startEnd.Add(p.firstTick)
		changed = true
		d.log.add(d.name, "process %d serving, loop running", p.id)
	}
	if p.serving {
		if p.blocked && !p.blockTill.IsZero() && !now.Before(p.blockTill) {
			p.blocked, changed = false, true
			p.nextTick = later(p.nextTick, p.blockTill)
			d.log.add(d.name, "event loop unblocked")
		}
		if !p.blocked {
			for p.running && !p.inFlight && !p.nextTick.After(now) {
				p.started, p.stampS = p.nextTick, p.nextTick.Add(d.skew)
				if p.firstStarted.IsZero() {
					p.firstStarted = p.started
				}
				if p.wedgeNext {
					p.inFlight, p.wedgeNext = true, false
					if p.stampS.Before(p.stampC) {
						// The clock stepped back between the last completion
						// and this start: the daemon's own stamps say no cycle
						// is in flight.
						d.inverted = append(d.inverted, p.started)
					}
					d.setRef(p, p.started)
					d.log.add(d.name, "cycle started at %s wedges on an await", d.at(p.started))
				} else {
					p.completed, p.stampC = p.nextTick, p.nextTick.Add(d.skew)
					d.setRef(p, p.completed)
				}
				p.nextTick = p.nextTick.Add(d.interval)
			}
			if !p.running || p.inFlight {
				p.nextTick = later(p.nextTick, now)
			}
		}
	}
	if d.fault && !now.Before(d.faultEnd) {
		d.fault = false
		d.log.add(d.name, "answers normally again")
	}
	if changed {
		d.wake()
	}
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// events draws the daemon's random events of one step of the driver.
// Called with d.mu held.
func (d *daemon) events(now time.Time, step time.Duration) {
	p, r := d.proc, d.rng.Float64
	per := func(mean time.Duration) bool { return r() < float64(step)/float64(mean) }
	if per(40 * time.Minute) {
		d.kill(now, "killed from outside (deploy, OOM)", 30*time.Second)
		return
	}
	if per(60 * time.Minute) {
		step := time.Duration(30+d.rng.IntN(3570)) * time.Second
		if d.rng.IntN(2) == 0 {
			step = -step
		}
		d.skew += step
		d.log.add(d.name, "the daemon's clock steps by %s", step)
		d.steppedAt = append(d.steppedAt, now)
	}
	if !p.serving || p.blocked {
		return // nothing but a kill reaches a blocked process or one starting up
	}
	switch {
	case per(15*time.Minute) && !p.inFlight && !p.wedgeNext:
		p.wedgeNext = true
	case per(25 * time.Minute):
		p.blocked, p.blockFrom, p.blockTill = true, now, time.Time{}
		if d.rng.IntN(2) == 0 {
			p.blockTill = now.Add(time.Duration(5+d.rng.IntN(int(3*d.threshold/time.Second))) * time.Second)
		}
		d.log.add(d.name, "event loop blocks until %s", d.until(p.blockTill))
	case per(10*time.Minute) && p.running:
		p.running = false
		if !p.inFlight {
			d.setRef(p, time.Time{})
		}
		d.log.add(d.name, "loop stopped through the API")
	case per(time.Minute) && !p.running:
		p.running = true
		if !p.inFlight {
			d.setRef(p, now)
		}
		d.log.add(d.name, "loop started through the API")
	case per(10*time.Minute) && !d.fault:
		d.fault, d.faultEnd = true, now.Add(time.Duration(10+d.rng.IntN(190))*time.Second)
		d.log.add(d.name, "answers flip per request (401, 500, HTML, no health) until %s", d.until(d.faultEnd))
	case per(5 * time.Minute):
		d.stuck = !d.stuck
	}
}

func (d *daemon) until(t time.Time) string {
	if t.IsZero() {
		return "forever"
	}
	return d.at(t)
}

// kill ends the container's process: one that hangs keeps accepting
// connections and hanging through a termination grace of up to graceMax,
// then nothing listens for a moment, then the next process starts.
// Called with d.mu held.
func (d *daemon) kill(now time.Time, why string, graceMax time.Duration) *process {
	old := d.proc
	hangs := old.serving && old.blocked || !old.serving && old.startMode == startHang && !now.Before(old.spawn)
	grace := time.Duration(0)
	if hangs && graceMax > 0 {
		grace = time.Duration(d.rng.Int64N(int64(graceMax)))
	}
	if !now.Before(old.spawn) {
		d.term, d.termEnd = old, now.Add(grace)
	}
	down := time.Duration(300+d.rng.IntN(4700)) * time.Millisecond
	if d.ref.IsZero() {
		d.ref = now // the new process's loop runs: dispatch is expected again
	}
	d.log.add(d.name, "process %d %s: hangs %s more, then down %s", old.id, why, grace.Round(time.Second), down.Round(100*time.Millisecond))
	p := d.newProcess(now.Add(grace+down), false)
	p.predHung, p.predKill = old.ownHung(now, d.threshold) || hangs, now
	p.predNoCycle = !old.shownCycle
	d.proc = p
	d.wake()
	return old
}

// drive runs the daemon's own clock: its events and the ground truth,
// every step until ctx ends.
func (d *daemon) drive(ctx context.Context, step time.Duration, enforce bool, k *kubeletConfig) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(step):
		}
		d.mu.Lock()
		now := time.Now()
		d.advance(now)
		d.events(now, step)
		d.advance(now)
		d.truth.observe(d, now, enforce, k)
		d.mu.Unlock()
	}
}

// behaviour is what the daemon does with a request now.
type behaviour struct {
	kind int
	proc *process
}

const (
	refuse = iota
	hang
	answer
)

func (d *daemon) behaviour(now time.Time) behaviour {
	if d.term != nil {
		return behaviour{hang, d.term}
	}
	p := d.proc
	switch {
	case now.Before(p.spawn):
		return behaviour{refuse, nil}
	case !p.serving && p.startMode == startRefuse:
		return behaviour{refuse, p}
	case !p.serving && p.startMode == startHang, p.serving && p.blocked:
		return behaviour{hang, p}
	}
	return behaviour{answer, p}
}

// RoundTrip is the daemon's HTTP server as the exporter's client meets it.
func (d *daemon) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	var accepted *process
	for {
		d.mu.Lock()
		now := time.Now()
		d.advance(now)
		b := d.behaviour(now)
		if accepted != nil && b.proc != accepted {
			d.lastNonHang, d.lastLost = now, now
			d.mu.Unlock()
			return nil, &net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}
		}
		switch b.kind {
		case refuse:
			d.lastNonHang, d.lastRefused = now, now
			d.refusals = append(d.refusals, now)
			d.mu.Unlock()
			return nil, &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
		case hang:
			if accepted == nil {
				accepted = b.proc
				connected(req)
			}
			ch := d.changed
			d.mu.Unlock()
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-ch:
			}
			continue
		}
		if accepted == nil {
			connected(req)
		}
		d.lastNonHang = now
		resp := d.answer(req, now, b.proc)
		d.mu.Unlock()
		return resp, nil
	}
}

// connected calls the request's ConnectDone hook: the daemon accepted it.
func connected(req *http.Request) {
	if trace := httptrace.ContextClientTrace(req.Context()); trace != nil && trace.ConnectDone != nil {
		trace.ConnectDone("tcp", "daemon.sim:3457", nil)
	}
}

// answer is what a process that answers says. Called with d.mu held.
func (d *daemon) answer(req *http.Request, now time.Time, p *process) *http.Response {
	if !p.serving && p.startMode == start503 {
		return respond(req, 503, `{"error":"starting"}`)
	}
	noHealth := false
	if d.fault {
		d.unusableAt = append(d.unusableAt, now)
		switch d.req.IntN(6) {
		case 0:
			return respond(req, 401, `{"error":"unauthorized"}`)
		case 1:
			return respond(req, 500, `{"error":"internal"}`)
		case 2:
			return respond(req, 200, `<html><body>sign in</body></html>`)
		case 3:
			noHealth = true
		}
	}
	if !noHealth { // a fault period's answer without health is listed above
		d.usableAt, d.usableRunning = append(d.usableAt, now), append(d.usableRunning, p.running || !p.serving || p.inFlight)
		if !p.started.IsZero() {
			p.shownCycle = true
		}
		if p.completed.After(d.episode) {
			d.episode = p.completed // a completion the exporter can see ends the episode
		}
		if p.usable.IsZero() {
			p.usable = now
		}
		if p.inFlight && now.Sub(p.started) > d.threshold {
			d.truth.usableWedge = true
		}
	}
	return respond(req, 200, d.body(now, p, noHealth))
}

func respond(req *http.Request, code int, body string) *http.Response {
	return &http.Response{StatusCode: code, Status: fmt.Sprintf("%d %s", code, http.StatusText(code)),
		Header: http.Header{"Content-Type": {"application/json"}}, Body: io.NopCloser(strings.NewReader(body)), Request: req}
}

// body is a smithy status (dispatch/smithy/testdata/STATUS.md).
func (d *daemon) body(now time.Time, p *process, noHealth bool) string {
	ts := func(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }
	running := p.running || !p.serving // starting up "running, no cycle yet"
	var b bytes.Buffer
	fmt.Fprintf(&b, `{"isRunning":%v,"available":true,"config":{"pollIntervalMs":%d}`, running, d.interval.Milliseconds())
	if noHealth {
		return b.String() + "}"
	}
	ready, workers := 0, 1
	if d.stuck {
		ready, workers = 2, 0
	}
	fmt.Fprintf(&b, `,"health":{"readyUnassignedTasks":%d,"availableWorkers":%d`, ready, workers)
	if d.computedAt == computedAlways || d.computedAt == computedSometimes && d.req.IntN(3) > 0 {
		fmt.Fprintf(&b, `,"computedAt":%q`, ts(now.Add(d.skew)))
	}
	if !p.started.IsZero() {
		fmt.Fprintf(&b, `,"lastPollStartedAt":%q`, ts(p.stampS))
	}
	if !p.completed.IsZero() {
		fmt.Fprintf(&b, `,"lastPollCompletedAt":%q`, ts(p.stampC))
	}
	return b.String() + "}}"
}

// agesFromFirstSight: the exporter judges the daemon's stamps from when it
// first saw them, not from the stamps, for a hang that followed the
// completion at lastDone: computedAt is never reported, or the daemon's
// clock stepped and no completion has been seen since (the exporter takes
// every stamp from first sight until a cycle completes after a step).
//
// The exporter notices a step at the first usable answer after it; a
// completion it first saw no later than that answer is taken for one
// stamped before the step. Only steps by the moment judged count: one
// that came later excuses nothing before it.
func (d *daemon) agesFromFirstSight(lastDone, by time.Time) bool {
	if d.computedAt == computedNever {
		return true
	}
	step := lastTimeBy(d.steppedAt, by)
	if step.IsZero() {
		return false
	}
	noticed, ok := d.firstUsable(step)
	if !ok {
		return true
	}
	seen, ok := d.firstUsable(lastDone)
	return !ok || !seen.After(noticed)
}

// identicalAt: at ts the serving process had started no cycle, like the
// one it replaced, and no request was refused since that one was killed:
// the two answer word for word alike ("running, no cycle yet"), and the
// evidence cannot tell when the new one started.
func (d *daemon) identicalAt(ts time.Time) bool {
	var p *process
	for _, q := range d.all {
		if !q.spawn.After(ts) {
			p = q
		}
	}
	if p == nil || !p.predNoCycle || !(p.firstStarted.IsZero() || p.firstStarted.After(ts)) {
		return false
	}
	for _, r := range d.refusals {
		if !r.Before(p.predKill) && !r.After(ts) {
			return false
		}
	}
	return true
}
