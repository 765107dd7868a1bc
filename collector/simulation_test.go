package collector

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptrace"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/stoneforge/dispatch_exporter/dispatch"
)

// The simulation checks the evidence model against ground truth: a
// simulated smithy daemon (cycles, wedges, event-loop blocks, stops and
// starts, process restarts with slow start-ups, refusals, 401/500/503,
// HTML, health-less answers, clock skew, computedAt missing) is scraped and
// liveness-probed by a real Target through an in-memory transport, on a fake
// clock, with no sleeps. A kubelet restarts the daemon after three failed
// liveness probes in a row. The simulation knows at every moment whether
// the loop of the process that serves is hung and so whether a restart
// would fix it, and asserts over every history:
//
//   - no false wedge: dispatch_poll_stale 1 only while the truth is hung, or
//     while the daemon hangs and the evidence cannot tell otherwise (the
//     last usable answer showed a real wedge, or the hang began in a process
//     that really hung and was replaced with no request seeing the swap);
//   - no needless restart: liveness 503 only while a restart is the fix
//     (same exception);
//   - every real wedge judged stale within the threshold plus two scrape
//     intervals and a timeout of its onset (one scrape for the daemon to be
//     seen, one for a hang to be measured), when the exporter has read the
//     loop's process and nothing but usable answers or hangs came since;
//   - all outputs agree: the metrics (read the way the dashboard's state
//     tile reads them), the landing page's state and the probe's.
//
// Concurrent callers are not simulated here (their sharing is tested in
// status_test.go): one request at a time keeps every history repeatable.
//
// `go test -run TestSimulation` runs 200 histories; `make
// simulate` runs thousands. A failing seed prints its history; rerun it
// alone with -sim.seed.
var (
	simHistories = flag.Int("sim.histories", 200, "histories of the evidence-model simulation")
	simSeed      = flag.Uint64("sim.seed", 0, "run this one seed of the simulation (0: seeds 1..sim.histories)")
)

func TestSimulation(t *testing.T) {
	t.Parallel()
	seeds := make([]uint64, 0, *simHistories)
	if *simSeed != 0 {
		seeds = append(seeds, *simSeed)
	} else {
		for s := range *simHistories {
			seeds = append(seeds, uint64(s+1))
		}
	}
	failed := 0
	var seen simStats
	for _, seed := range seeds {
		if err := simulate(seed, 30*time.Minute, &seen); err != nil {
			failed++
			t.Errorf("seed %d: %v", seed, err)
			if failed >= 3 {
				t.Fatal("stopping after three failing seeds")
			}
		}
	}
	t.Logf("%d histories: %+v", len(seeds), seen)
	if len(seeds) >= 100 {
		// The histories must exercise what they check: every kind of
		// evidence, wedges judged from a hang, and kubelet restarts.
		for e, n := range seen.evidence {
			if n == 0 && dispatch.Evidence(e) != dispatch.EvidenceNone { // none is never decided on: it is before the first request
				t.Errorf("no decision on %s evidence in %d histories", dispatch.Evidence(e), len(seeds))
			}
		}
		if seen.hangWedges == 0 || seen.usableWedges == 0 || seen.kubeletRestarts == 0 {
			t.Errorf("the histories judged no wedge from a hang, or none from a usable answer, or restarted nothing: %+v", seen)
		}
	}
}

// simStats counts what the histories exercised.
type simStats struct {
	evidence                                  [5]int // decisions by dispatch.Evidence
	usableWedges, hangWedges, kubeletRestarts int
}

// simProcess is one process of the daemon.
type simProcess struct {
	id         int
	phase      int       // down, starting, serving
	phaseUntil time.Time // end of down / starting
	startMode  int       // while starting: refuse, hang, 503
	running    bool
	runStart   time.Time
	started    time.Time // latest cycle start (true time)
	completed  time.Time
	hung       bool // the latest cycle hangs forever
	hungSince  time.Time
	wedgeNext  bool
	blocked    bool // the event loop is blocked: requests hang, no cycles
	blockSince time.Time
	// lastAnswerable is the last moment the process could answer a
	// request: its port hangs from then on while it is blocked or hangs in
	// its start-up, as one hang, whatever the reason.
	lastAnswerable time.Time
	blockUntil     time.Time // zero: forever
	nextTick       time.Time
	clean          bool      // since its wedge or block began, the exporter saw only usable answers and hangs
	sawHungAt      time.Time // the first usable answer that showed the hung cycle
}

const (
	phaseDown = iota
	phaseStarting
	phaseServing
)

const (
	faultNone = iota
	fault401
	fault500
	fault503
	faultHTML
	faultNoHealth
)

type simulation struct {
	rng        *rand.Rand
	now        time.Time
	interval   time.Duration
	threshold  time.Duration
	timeout    time.Duration
	skew       time.Duration
	computedAt bool
	p          *simProcess
	procs      int
	fault      int
	faultUntil time.Time
	stuck      bool
	log        []string
	stats      *simStats

	// What the exporter has seen, for the exceptions and the detection rule.
	lastUsableHung   bool      // the truth when the last usable answer came
	lastUsableRun    bool      // the loop was running when the last usable answer came
	lastUsableFlight bool      // a cycle was in flight when the last usable answer came
	restartAnswered  bool      // liveness answered 503 since the last usable answer
	usableFromProc   int       // the process the last usable answer came from
	streakProc       int       // the process serving when the current hang streak began
	streakBlocked    bool      // that process was blocked (a real hang) then
	streakReplaced   bool      // that process was replaced during the streak
	streakBlockSince time.Time // when the block that began the streak began
	inStreak         bool      // the latest evidence was a hang
	episode          *simEpisode
	consecutive503   int
	lastEvidenceKind dispatch.Evidence
}

// simEpisode is one real wedge: from onset, while it lasts.
type simEpisode struct {
	onset time.Time
	proc  int
}

func (s *simulation) logf(format string, args ...any) {
	s.log = append(s.log, fmt.Sprintf("%8.1fs ", s.now.Sub(t0).Seconds())+fmt.Sprintf(format, args...))
}

func simulate(seed uint64, length time.Duration, stats *simStats) (err error) {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	s := &simulation{rng: rng, now: t0, timeout: 5 * time.Second, stats: stats}
	s.interval = time.Duration(1+rng.IntN(10)) * time.Second
	s.threshold = dispatch.DefaultStaleThreshold(s.interval)
	s.skew = []time.Duration{0, 10 * time.Second, -10 * time.Second, 2 * time.Hour, -2 * time.Hour}[rng.IntN(5)]
	s.computedAt = rng.IntN(10) < 7
	s.logf("history: interval %s, threshold %s, daemon clock skew %s, computedAt %v", s.interval, s.threshold, s.skew, s.computedAt)
	s.newProcess(0, 0)
	defer func() {
		if err != nil {
			lines := s.log
			if len(lines) > 80 {
				lines = append([]string{lines[0], fmt.Sprintf("   (%d lines before these)", len(lines)-80)}, lines[len(lines)-79:]...)
			}
			err = fmt.Errorf("%w\nhistory:\n%s", err, strings.Join(lines, "\n"))
		}
	}()

	tgt := NewTarget(TargetOptions{Name: "sim", URL: "http://daemon.sim/api/daemon/status", Timeout: s.timeout,
		RestartWindow: 30 * time.Second, // the kubelet below: 3 failures, 10s apart
		Client:        &http.Client{Transport: s}, Now: func() time.Time { return s.now }})
	nextScrape, nextLiveness := t0, t0.Add(3*time.Second)
	end := t0.Add(length)
	for s.now.Before(end) {
		s.step()
		s.events()
		if err := s.checkEpisode(); err != nil {
			return err
		}
		switch {
		case !s.now.Before(nextScrape):
			if err := s.scrape(tgt); err != nil {
				return err
			}
			nextScrape = s.now.Add(13*time.Second + time.Duration(rng.IntN(4000))*time.Millisecond)
		case !s.now.Before(nextLiveness):
			start := s.now
			if err := s.liveness(tgt); err != nil {
				return err
			}
			// The kubelet probes every periodSeconds from the start of the
			// last probe (timeoutSeconds aside), however long it took.
			nextLiveness = start.Add(10 * time.Second)
			if err := s.checkRestarted(); err != nil {
				return err
			}
		default:
			s.now = s.now.Add(500 * time.Millisecond)
		}
	}
	return nil
}

func (s *simulation) newProcess(down, startUp time.Duration) {
	s.procs++
	p := &simProcess{id: s.procs, phase: phaseDown, phaseUntil: s.now.Add(down), startMode: s.rng.IntN(3)}
	if down == 0 && startUp == 0 {
		p.phase, p.running, p.runStart, p.nextTick = phaseServing, true, s.now, s.now
	} else {
		p.nextTick = p.phaseUntil.Add(startUp) // reused as the end of start-up
	}
	s.p = p
}

// step advances the daemon to s.now.
func (s *simulation) step() {
	p := s.p
	if p.phase == phaseServing && !p.blocked || p.phase == phaseStarting && p.startMode == 2 {
		p.lastAnswerable = s.now
	}
	if p.phase == phaseDown && !s.now.Before(p.phaseUntil) {
		p.phase, p.phaseUntil, p.lastAnswerable = phaseStarting, p.nextTick, s.now
		s.logf("process %d listens, starting (%s)", p.id, []string{"refusing", "hanging", "answering 503"}[p.startMode])
	}
	if p.phase == phaseStarting && !s.now.Before(p.phaseUntil) {
		p.phase, p.running, p.runStart, p.nextTick = phaseServing, true, s.now, s.now
		s.logf("process %d serving, loop running", p.id)
	}
	if p.phase != phaseServing {
		return
	}
	if p.blocked && !p.blockUntil.IsZero() && !s.now.Before(p.blockUntil) {
		p.blocked = false
		p.nextTick = later(p.nextTick, s.now)
		s.logf("event loop unblocked")
	}
	if p.blocked {
		return
	}
	for p.running && !p.hung && !p.nextTick.After(s.now) {
		p.started = p.nextTick
		if p.wedgeNext {
			p.hung, p.hungSince, p.wedgeNext, p.clean = true, p.nextTick, false, true
			s.logf("cycle started at %.1fs hangs", p.started.Sub(t0).Seconds())
		} else {
			p.completed = p.nextTick // a cycle takes under a millisecond
		}
		p.nextTick = p.nextTick.Add(s.interval)
	}
	if !p.running {
		p.nextTick = later(p.nextTick, s.now)
	}
}

// events draws the history's random events for the next half second.
func (s *simulation) events() {
	p, r := s.p, s.rng.Float64
	if s.fault != faultNone && !s.now.Before(s.faultUntil) {
		s.fault = faultNone
		s.logf("answers normally again")
	}
	if p.phase != phaseServing {
		return
	}
	if p.blocked { // nothing but a kill reaches a blocked process
		if r() < 0.5/1500 {
			s.kill("killed while blocked (deploy, OOM)")
		}
		return
	}
	switch {
	case r() < 0.5/900 && !p.hung && !p.wedgeNext:
		p.wedgeNext = true
	case r() < 0.5/1500 && !p.blocked:
		p.blocked, p.blockSince, p.blockUntil = true, s.now, time.Time{}
		p.clean = p.clean || !p.hung
		if s.rng.IntN(2) == 0 {
			p.blockUntil = s.now.Add(time.Duration(5+s.rng.IntN(115)) * time.Second)
		}
		s.logf("event loop blocks (until %v)", untilText(p.blockUntil))
	case r() < 0.5/500 && p.running:
		p.running = false
		s.logf("loop stopped through the API")
	case r() < 0.5/60 && !p.running:
		p.running, p.runStart = true, s.now
		s.logf("loop started through the API")
	case r() < 0.5/1500:
		s.kill("killed (deploy, OOM)")
	case r() < 0.5/400 && s.fault == faultNone:
		s.fault, s.faultUntil = 1+s.rng.IntN(5), s.now.Add(time.Duration(10+s.rng.IntN(190))*time.Second)
		s.logf("status answers %s until %v", faultText(s.fault), untilText(s.faultUntil))
	case r() < 0.5/300:
		s.stuck = !s.stuck
	}
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func untilText(t time.Time) string {
	if t.IsZero() {
		return "forever"
	}
	return fmt.Sprintf("%.1fs", t.Sub(t0).Seconds())
}

func faultText(f int) string {
	return []string{"normally", "401", "500", "503", "HTML", "without health"}[f]
}

// truthHung: the loop of the process that serves is hung, so a restart of
// that process is the fix: a cycle in flight for longer than the threshold
// (whether the loop is running or stopped), or an event loop blocked for
// longer than the threshold while the loop should run.
func (s *simulation) truthHung() bool {
	p := s.p
	if p.phase != phaseServing {
		return false
	}
	if p.hung && s.now.Sub(p.hungSince) > s.threshold {
		return true
	}
	return p.blocked && (p.running || p.hung) && s.now.Sub(p.lastAnswerable) > s.threshold
}

func (s *simulation) onset() time.Time {
	p := s.p
	switch {
	case p.hung && (!p.blocked || p.hungSince.Before(p.blockSince)):
		return p.hungSince.Add(s.threshold)
	default:
		return p.lastAnswerable.Add(s.threshold)
	}
}

// checkEpisode follows real wedges as they begin and end.
func (s *simulation) checkEpisode() error {
	hung := s.truthHung()
	switch {
	case hung && s.episode == nil:
		s.episode = &simEpisode{onset: s.onset(), proc: s.p.id}
		s.logf("truth: hung (onset %.1fs)", s.episode.onset.Sub(t0).Seconds())
	case !hung && s.episode != nil:
		s.episode = nil
		s.logf("truth: no longer hung")
	}
	return nil
}

// RoundTrip is the daemon's HTTP server, as the exporter's client meets it.
func (s *simulation) RoundTrip(req *http.Request) (*http.Response, error) {
	s.step()
	p := s.p
	if p.phase == phaseDown || p.phase == phaseStarting && p.startMode == 0 {
		return nil, &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
	}
	// Anything else accepts the connection, as the exporter's request
	// trace sees it (a hang is told from an unreachable daemon by that).
	if trace := httptrace.ContextClientTrace(req.Context()); trace != nil && trace.ConnectDone != nil {
		trace.ConnectDone("tcp", "daemon.sim:80", nil)
	}
	switch {
	case p.phase == phaseStarting && p.startMode == 1, p.phase == phaseServing && p.blocked:
		// Accepted; answered when the hang ends, if within the timeout.
		ends := p.phaseUntil
		if p.phase == phaseServing {
			ends = p.blockUntil
		}
		if !ends.IsZero() && ends.Sub(s.now) <= s.timeout {
			s.now = ends
			return s.RoundTrip(req)
		}
		s.now = s.now.Add(s.timeout)
		s.step()
		return nil, fmt.Errorf("simulated hang: %w", context.DeadlineExceeded)
	case p.phase == phaseStarting:
		return respond(req, 503, `{"error":"starting"}`), nil
	}
	switch s.fault {
	case fault401:
		return respond(req, 401, `{"error":"unauthorized"}`), nil
	case fault500:
		return respond(req, 500, `{"error":"boom"}`), nil
	case fault503:
		return respond(req, 503, `{"error":"busy"}`), nil
	case faultHTML:
		return respond(req, 200, `<html><body>login</body></html>`), nil
	}
	return respond(req, 200, s.body()), nil
}

func respond(req *http.Request, code int, body string) *http.Response {
	return &http.Response{StatusCode: code, Status: fmt.Sprintf("%d %s", code, http.StatusText(code)),
		Header: http.Header{}, Body: io.NopCloser(strings.NewReader(body)), Request: req}
}

func (s *simulation) body() string {
	p := s.p
	ts := func(t time.Time) string { return t.Add(s.skew).UTC().Format("2006-01-02T15:04:05.000Z") }
	var b bytes.Buffer
	fmt.Fprintf(&b, `{"isRunning":%v,"available":true,"config":{"pollIntervalMs":%d}`, p.running, s.interval.Milliseconds())
	if s.fault == faultNoHealth {
		return b.String() + "}"
	}
	ready, workers := 0, 1
	if s.stuck {
		ready, workers = 2, 0
	}
	fmt.Fprintf(&b, `,"health":{"readyUnassignedTasks":%d,"availableWorkers":%d`, ready, workers)
	if s.computedAt {
		fmt.Fprintf(&b, `,"computedAt":%q`, ts(s.now))
	}
	if !p.started.IsZero() {
		fmt.Fprintf(&b, `,"lastPollStartedAt":%q`, ts(p.started))
	}
	if !p.completed.IsZero() {
		fmt.Fprintf(&b, `,"lastPollCompletedAt":%q`, ts(p.completed))
	}
	return b.String() + "}}"
}

// observe records what the exporter saw, for the exceptions and the stats.
func (s *simulation) observe(a dispatch.Assessment) {
	s.stats.evidence[a.Evidence]++
	if a.Stale && a.Evidence == dispatch.EvidenceHung {
		s.stats.hangWedges++
	}
	if a.Stale && a.Evidence == dispatch.EvidenceUsable {
		s.stats.usableWedges++
	}
	switch a.Evidence {
	case dispatch.EvidenceHung:
		if !s.inStreak {
			s.inStreak, s.streakProc, s.streakReplaced = true, s.p.id, false
			s.streakBlocked = s.p.phase == phaseServing && s.p.blocked
			s.streakBlockSince = s.p.blockSince
		}
		if s.p.id != s.streakProc || !s.p.blocked || !s.p.blockSince.Equal(s.streakBlockSince) {
			s.streakReplaced = true
		}
	case dispatch.EvidenceUsable:
		s.inStreak, s.lastUsableHung, s.usableFromProc, s.lastUsableRun = false, s.truthHung(), s.p.id, s.p.running
		s.restartAnswered = false
		if s.p.hung && s.p.sawHungAt.IsZero() {
			s.p.sawHungAt = s.now
		}
		s.lastUsableFlight = s.p.started.After(s.p.completed)
	default:
		s.inStreak = false
	}
	if a.Evidence != dispatch.EvidenceUsable && a.Evidence != dispatch.EvidenceHung {
		s.p.clean = false
	}
	s.lastEvidenceKind = a.Evidence
}

// excused: a wedge or a restart the evidence cannot tell from a real one.
func (s *simulation) excused(a dispatch.Assessment) bool {
	// A wedge carried on through answers that say nothing of the loop, when
	// the last usable answer showed a real one and no restart was asked
	// since: the process may have been replaced unseen.
	carried := (a.Evidence == dispatch.EvidenceHung || a.Evidence == dispatch.EvidenceUnusable) &&
		s.lastUsableHung && !s.restartAnswered
	if a.Evidence != dispatch.EvidenceHung {
		return carried
	}
	replacedUnseen := s.usableFromProc != s.p.id && !s.restartAnswered && (s.lastUsableFlight || s.streakBlocked)
	return carried || (s.streakBlocked && s.streakReplaced) || s.stoppedUnseen() || replacedUnseen
}

// checkRestarted: a real wedge the exporter could see is restarted by the
// kubelet in time: judged within the detection bound, a hang measured for
// a threshold, then three 503s ten seconds apart.
func (s *simulation) checkRestarted() error {
	e := s.episode
	readable := s.usableFromProc == s.p.id && (s.lastUsableRun || s.lastUsableFlight) && s.p.clean
	if e == nil || !readable || s.p.id != e.proc {
		return nil
	}
	bound := 2*17*time.Second + s.timeout + s.threshold + 3*10*time.Second + 10*time.Second
	if !s.computedAt && s.p.hung && !s.p.blocked {
		return nil // a stamp's age runs from first sight: see the detection rule
	}
	if s.now.Sub(e.onset) > bound {
		return fmt.Errorf("never restarted: hung since %.1fs (onset), still serving at %.1fs",
			e.onset.Sub(t0).Seconds(), s.now.Sub(t0).Seconds())
	}
	return nil
}

// seen: the exporter read this process, saw the loop running (or a cycle
// in flight), has asked no restart since, and since the wedge began got
// nothing but usable answers and hangs.
func (s *simulation) seen() bool {
	return s.usableFromProc == s.p.id && (s.lastUsableRun || s.lastUsableFlight) && s.p.clean && !s.restartAnswered
}

// stoppedUnseen: the loop was stopped after the last usable answer, and
// the event loop blocked before another could say so.
func (s *simulation) stoppedUnseen() bool {
	return s.p.phase == phaseServing && s.p.blocked && s.lastUsableRun && !s.p.running
}

func (s *simulation) scrape(tgt *Target) error {
	hungAtStart := s.truthHung() || s.stoppedUnseen()
	p := tgt.Probe(context.Background())
	a := p.result.obs.Assessment
	s.observe(a)
	v, err := simValues(p)
	if err != nil {
		return err
	}
	s.logf("scrape: %s (%s) stale=%v up=%v: %s", a.State, a.Evidence, a.Stale, a.Up, a.Reason)
	if err := s.checkAgreement(tgt, p, v); err != nil {
		return err
	}
	if a.Stale && !hungAtStart && !s.truthHung() && !s.excused(a) {
		return fmt.Errorf("false wedge at %.1fs: %s", s.now.Sub(t0).Seconds(), a.Reason)
	}
	// A real wedge the exporter could see must be judged in time.
	if e := s.episode; e != nil && s.seen() && s.truthHung() && !a.Stale {
		slack := 2*17*time.Second + s.timeout + 2*time.Second
		from := e.onset
		if !s.computedAt && s.p.hung && !s.p.blocked {
			// Without computedAt a stamp's age runs from its first sight.
			if s.p.sawHungAt.IsZero() {
				return nil
			}
			if late := s.p.sawHungAt.Add(s.threshold); late.After(from) {
				from = late
			}
		}
		if s.now.Sub(from) > slack {
			return fmt.Errorf("missed wedge at %.1fs: onset %.1fs, not judged stale within %s: %s",
				s.now.Sub(t0).Seconds(), e.onset.Sub(t0).Seconds(), slack, a.Reason)
		}
	}
	return nil
}

func (s *simulation) liveness(tgt *Target) error {
	hungAtStart := s.truthHung() || s.stoppedUnseen()
	p := tgt.Probe(context.Background())
	a := p.result.obs.Assessment
	s.observe(a)
	restart := tgt.Liveness(p, false)
	if restart {
		s.restartAnswered = true
	}
	s.logf("liveness: %v (%s, %s)", map[bool]int{false: 200, true: 503}[restart], a.State, a.Evidence)
	if restart && !hungAtStart && !s.truthHung() && !s.excused(a) {
		return fmt.Errorf("needless restart at %.1fs: %s", s.now.Sub(t0).Seconds(), a.Reason)
	}
	if !restart {
		s.consecutive503 = 0
		return nil
	}
	s.consecutive503++
	if s.consecutive503 >= 3 {
		s.consecutive503 = 0
		s.stats.kubeletRestarts++
		s.kill("restarted by the kubelet")
	}
	return nil
}

// kill ends the process that serves; a new one starts after a moment in
// which nothing listens, and a start-up shorter than the threshold.
func (s *simulation) kill(why string) {
	down := time.Duration(300+s.rng.IntN(4700)) * time.Millisecond
	startUp := time.Duration(1+s.rng.IntN(45)) * time.Second
	s.logf("process %d %s: down %s, start-up %s", s.p.id, why, down, startUp)
	s.newProcess(down, startUp)
}

// checkAgreement: the metrics (read as the dashboard's state tile reads
// them), the landing page's state and the probe's say one thing.
func (s *simulation) checkAgreement(tgt *Target, p Probe, v map[string]float64) error {
	tile := tileState(v)
	page, probe := tgt.State().State, p.State().State
	if tile != probe || page != probe {
		return fmt.Errorf("outputs disagree at %.1fs: tile %s, landing page %s, probe %s (metrics %v)",
			s.now.Sub(t0).Seconds(), tile, page, probe, v)
	}
	if (v["dispatch_poll_stale"] == 1) != (probe == dispatch.StateWedged) {
		return fmt.Errorf("stale %v but state %s", v["dispatch_poll_stale"], probe)
	}
	return nil
}

// tileState reads metrics the way dashboards.StateQuery does: wedged, down,
// stuck, stopped, else healthy; no poll_stale series at all: unknown.
func tileState(v map[string]float64) dispatch.State {
	_, judged := v["dispatch_poll_stale"]
	switch {
	case !judged:
		return dispatch.StateUnknown
	case v["dispatch_poll_stale"] == 1:
		return dispatch.StateWedged
	case v["dispatch_up"] == 0:
		return dispatch.StateDown
	case v["dispatch_stuck_queue"] == 1:
		return dispatch.StateStuck
	case v["dispatch_daemon_running"] == 0:
		return dispatch.StateStopped
	}
	return dispatch.StateHealthy
}

// simValues gathers a probe: each series by name and labels but loop.
func simValues(c prometheus.Collector) (map[string]float64, error) {
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(c); err != nil {
		return nil, fmt.Errorf("register: %w", err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		return nil, fmt.Errorf("gather: %w", err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			key := mf.GetName()
			for _, l := range m.GetLabel() {
				if l.GetName() != LoopLabel {
					key += "{" + l.GetName() + "=" + l.GetValue() + "}"
				}
			}
			switch {
			case m.GetGauge() != nil:
				out[key] = m.GetGauge().GetValue()
			case m.GetCounter() != nil:
				out[key] = m.GetCounter().GetValue()
			}
		}
	}
	return out, nil
}
