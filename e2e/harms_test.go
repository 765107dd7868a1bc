package e2e

import (
	"fmt"
	"strings"
	"time"
)

// The harms, in the user's words. Each has a budget: how many a run may
// count in total (all 0).
const (
	// harmFalsePage: DispatchDaemonWedged fires while dispatch on that
	// instance has been happening all along for the last pageWindow (so a
	// resolve delay is not a false page), whether or not the daemon was
	// visible. Counted once per firing run.
	harmFalsePage = "false page"
	// harmMissedPage: dispatch on an instance did not happen for longer
	// than pageDeadline, while the daemon was visible (it accepted
	// requests: they hung or got its status), without DispatchDaemonWedged
	// firing for it by then (a page that comes later is late, and counts
	// the same). A daemon that refuses or answers 503 "starting" is DOWN:
	// its pages are DispatchStatusDown and DispatchStatusDownLong.
	harmMissedPage = "missed or late page"
	// harmFlap: DispatchDaemonWedged resolves while the loop is still hung
	// (for longer than a scrape timeout more: samples are stamped at the
	// scrape's start) and has been hung, and visible, all along since the
	// alert fired.
	harmFlap = "page flap"
	// harmNeedlessKill: the kubelet kills a process that has not itself
	// been hung (no progress while it should make some: no completed cycle,
	// a cycle in flight, a blocked event loop, a start-up) for at least a
	// threshold.
	harmNeedlessKill = "needless kill"
	// harmRestartLoop: more kubelet kills in one hang episode (from the
	// loop hanging until a cycle completes again in some process) than the
	// restart budget.
	harmRestartLoop = "restart loop"
	// harmStartupKilledAgain: in one episode, the kubelet kills a third
	// process in a row still in its start-up: the daemon restarted over and
	// over before it could start ("a couple" of restarts, then a back-off
	// that lets the start-up finish, or a person paged, is what it is owed).
	harmStartupKilledAgain = "start-up killed again"
	// harmUnrestarted: with a kubelet enforcing, a hang the exporter could
	// see (it read a usable status of that process), the restart budget not
	// spent, not restarted within the threshold + failureThreshold × period
	// + 2 periods + timeout + a scrape's slack.
	harmUnrestarted = "unrestarted hang"
)

var harmNames = []string{harmFalsePage, harmMissedPage, harmFlap, harmNeedlessKill, harmRestartLoop, harmStartupKilledAgain, harmUnrestarted}

var harmBudget = map[string]int{harmFalsePage: 0, harmMissedPage: 0, harmFlap: 0, harmNeedlessKill: 0, harmRestartLoop: 0,
	harmStartupKilledAgain: 0, harmUnrestarted: 0}

// The exceptions: harms the evidence cannot tell from no harm. Each is
// narrow; see where it is counted for why it is indistinguishable.
const (
	// excBlockedStoppedPage: a page while an event loop has been blocked
	// for longer than the threshold with the loop stopped. A start through
	// the API just before the block would give every request the same
	// answers (hangs) and be a real hang by now.
	excBlockedStoppedPage = "page: blocked while stopped"
	// excBlockedStoppedKill: the same, for a kill.
	excBlockedStoppedKill = "kill: blocked while stopped"
	// excReplacedUnseen: a kill of a process that replaced a hung (or hanging) one while
	// no request saw anything but hangs since the old one was killed.
	excReplacedUnseen = "kill: replaced unseen"

	// excReplacedIdentical: a kill of a process that replaced one with no
	// cycle yet, with no request refused since, and has itself no cycle
	// yet: both answer "running, no cycle yet", word for word, so the
	// evidence cannot tell when the new one started.
	excReplacedIdentical = "kill: replaced unseen, identical answers"
	// excHiddenPage: a missed page while, from the moment the hang could
	// first be judged to the page's deadline, the daemon answered only
	// without its loop's state (401, 500, HTML, health missing): the last
	// usable answer showed a cycle that was not yet late, and nothing since
	// says whether it completed. Such answers neither make nor end a wedge.
	excHiddenPage = "page: hidden by answers without the loop's state"
	// excStartedUnseen: a missed page when the last usable answer before
	// the hang showed the loop stopped with nothing in flight, and none
	// came after: a start through the API and the block that followed
	// fell between two requests, and every answer since is a hang, as a
	// stopped loop's blocked server gives.
	excStartedUnseen = "page: started unseen, then blocked"
	// excCarriedHidden: a page that goes on while, for the alert's whole
	// window, the daemon answered only without its loop's state: the
	// wedge is carried (such answers neither make nor end one), and a
	// process that replaced the wedged one unseen cannot show it ended.
	excCarriedHidden = "page: carried through answers without the loop's state"
	// excInverted: a page that resolves, or never comes, while a cycle is
	// in flight whose start the daemon stamped before its last completion
	// (its clock stepped back between them): its own stamps say nothing is
	// in flight.
	excInverted = "page: the daemon's stamps say its cycle completed"
	// excIdenticalPage: a page while the serving process has started no
	// cycle, like the one it replaced, with no request refused between:
	// word-for-word the same answers, so its grace counts from the
	// other's first sight.
	excIdenticalPage = "page: replaced unseen, identical answers"
	// excStartedUnseenRestart: the same, for a restart owed.
	excStartedUnseenRestart = "restart: started unseen, then blocked"
)

var exceptionNames = []string{excBlockedStoppedPage, excBlockedStoppedKill, excReplacedUnseen, excReplacedIdentical, excHiddenPage, excStartedUnseen, excStartedUnseenRestart, excCarriedHidden, excInverted, excIdenticalPage}

// tally counts harms, exceptions and what the histories exercised.
type tally struct {
	harms, exceptions, missedBy                          map[string]int
	modes                                                [3]int
	daemons, hangs, kills, scrapes, probes, usableWedges int
}

func newTally() *tally {
	return &tally{harms: map[string]int{}, exceptions: map[string]int{}, missedBy: map[string]int{}}
}

func (t *tally) merge(o *tally) {
	for k, v := range o.harms {
		t.harms[k] += v
	}
	for k, v := range o.exceptions {
		t.exceptions[k] += v
	}
	for k, v := range o.missedBy {
		t.missedBy[k] += v
	}
	for i, v := range o.modes {
		t.modes[i] += v
	}
	t.daemons += o.daemons
	t.hangs += o.hangs
	t.kills += o.kills
	t.scrapes += o.scrapes
	t.probes += o.probes
	t.usableWedges += o.usableWedges
}

func (t *tally) harmful() bool {
	for _, h := range harmNames {
		if t.harms[h] > 0 {
			return true
		}
	}
	return false
}

func (t *tally) line() string {
	var parts []string
	for _, h := range harmNames {
		if t.harms[h] > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", h, t.harms[h]))
		}
	}
	for _, e := range exceptionNames {
		if t.exceptions[e] > 0 {
			parts = append(parts, fmt.Sprintf("(exception %s %d)", e, t.exceptions[e]))
		}
	}
	return strings.Join(parts, ", ")
}

// pageWindow is how long after a hang a page is no false page: the
// threshold, the alert's for:, two scrapes and an evaluation.
func pageWindow(thr time.Duration) time.Duration {
	return thr + wedgedFor + 2*scrapeInterval + evalInterval
}

// pageDeadline is how long dispatch may not happen (from its last
// progress) before DispatchDaemonWedged must fire: pageWindow and a
// scrape_timeout.
func pageDeadline(thr time.Duration) time.Duration { return pageWindow(thr) + scrapeTimeout }

// countHarms counts one instance's harms into t and returns what each was.
func countHarms(t *tally, in *instance, times []time.Time, fired []map[string]bool, end time.Time) []string {
	d, tr := in.d, in.d.truth
	at := func(ts time.Time) string { return d.at(ts) }
	var notes []string
	note := func(kind, format string, args ...any) {
		t.harms[kind]++
		notes = append(notes, in.name+" "+kind+": "+fmt.Sprintf(format, args...))
	}
	t.daemons++
	t.hangs += len(tr.hangs)
	t.kills += len(tr.kills)
	t.scrapes += in.scraper.scrapes
	if in.kubelet != nil {
		t.probes += in.kubelet.probes
	}
	if tr.usableWedge {
		t.usableWedges++
	}
	win := pageWindow(d.threshold)
	firing := func(i int) bool { return fired[i][in.name] }

	// False pages and flaps, per firing run.
	for i := 0; i < len(times); i++ {
		if !firing(i) {
			continue
		}
		j := i
		for j < len(times) && firing(j) {
			j++
		}
		runStart := times[i]
		for x := i; x < j; x++ {
			ts := times[x]
			if tr.stalledAt(ts.Add(-win), ts.Add(time.Millisecond)) {
				continue
			}
			switch {
			case tr.blockedStoppedAt(ts.Add(-win), ts.Add(time.Millisecond)):
				t.exceptions[excBlockedStoppedPage]++
			case d.hidden(ts.Add(-win), ts):
				t.exceptions[excCarriedHidden]++
			case d.identicalAt(ts):
				t.exceptions[excIdenticalPage]++
			default:
				note(harmFalsePage, "firing from %s, at %s no hang in the last %s", at(runStart), at(ts), win)
			}
			break
		}
		if j < len(times) {
			// Prometheus stamps a sample at the scrape's start: a scrape that
			// began while the daemon hung and was answered once it recovered
			// resolves the page up to a scrape timeout before the recovery.
			s := tr.spanAt(times[j])
			if s != nil && (d.agesFromFirstSight(s.lastDone, times[j]) || s.noCycle) && !times[j].After(d.judgeable(*s).Add(scrapeInterval)) {
				// The stamps age from when the exporter first saw them: this
				// hang could not show yet (a new process's first cycle, say,
				// right after the last one's page).
				s = nil
			}
			if s != nil && !s.from.After(runStart) &&
				(s.end.IsZero() || s.end.Sub(times[j]) > scrapeTimeout) && d.invertedAt(s.ref) {
				t.exceptions[excInverted]++
			} else if s != nil && !s.from.After(runStart) &&
				(s.end.IsZero() || s.end.Sub(times[j]) > scrapeTimeout) {
				note(harmFlap, "fired at %s, resolved at %s while hung since %s (%s)", at(runStart), at(times[j]), at(s.from), s.cause)
			}
		}
		i = j
	}

	// Missed or late pages, per hang.
	for _, s := range tr.hangs {
		deadline := s.seen.Add(pageDeadline(d.threshold))
		// Steps of the daemon's clock by the time the page was owed: a
		// later one changes nothing the exporter could show before it.
		ages := d.agesFromFirstSight(s.lastDone, deadline) || s.noCycle
		if ages {
			// The hang's stamps age from when the exporter first saw them.
			if u, ok := d.firstUsable(s.seen); ok {
				deadline = later(deadline, u.Add(pageDeadline(d.threshold)))
			}
		}
		if !s.idleBlock.IsZero() {
			// An idle loop's server that hangs: the wedge is judged once the
			// hang itself outlasts a threshold (before that it may be a
			// process that replaced the last one unseen, starting).
			deadline = later(deadline, s.idleBlock.Add(pageDeadline(d.threshold)))
		}
		e := s.from
		if ages {
			e = d.judgeable(s)
		}
		if d.lastUnusableBy(deadline).After(e) {
			// Answers without the loop's state came once the hang could be
			// judged, before the page was owed: the evidence shows it from
			// the first usable answer after them, and the page is owed from
			// then. Such answers after the deadline excuse nothing.
			if u, ok := d.firstUsable(e); ok {
				deadline = later(deadline, u.Add(pageDeadline(d.threshold)-d.threshold))
			}
		}
		last := s.end
		if last.IsZero() {
			last = end
		}
		if !last.After(deadline.Add(evalInterval)) {
			continue
		}
		paged := false
		for i, ts := range times {
			if !ts.Before(s.seen) && !ts.After(deadline.Add(evalInterval)) && firing(i) {
				paged = true
				break
			}
		}
		if !paged && d.invertedAt(s.ref) {
			// The daemon stamped the hung cycle's start before its last
			// completion (its clock stepped back): it says it is idle.
			t.exceptions[excInverted]++
			continue
		}
		if !paged && d.startedUnseen(s.seen, deadline) {
			t.exceptions[excStartedUnseen]++
			continue
		}
		if !paged && d.hidden(d.judgeable(s), deadline) {
			t.exceptions[excHiddenPage]++
			continue
		}
		if !paged {
			t.missedBy[s.cause]++
			note(harmMissedPage, "no progress since %s, visible since %s (%s), not firing by %s", at(s.ref), at(s.seen), s.cause, at(deadline.Add(evalInterval)))
		}
	}

	// Kills.
	for _, k := range tr.kills {
		switch {
		case !k.needless:
		case k.exception == "blocked while stopped":
			t.exceptions[excBlockedStoppedKill]++
		case k.exception == "replaced unseen":
			t.exceptions[excReplacedUnseen]++
		case k.exception == "replaced identical":
			t.exceptions[excReplacedIdentical]++
		default:
			note(harmNeedlessKill, "process %d at %s", k.proc, at(k.at))
		}
	}
	for ref, n := range tr.killsByRef {
		if n > restartBudget {
			note(harmRestartLoop, "%d kills with no cycle completed since %s", n, at(ref))
		}
	}
	t.exceptions[excStartedUnseenRestart] += tr.unrestartedStartedUnseen
	t.exceptions[excReplacedIdentical] += tr.startupKilledIdentical
	for _, k := range tr.startupKilledAgain {
		note(harmStartupKilledAgain, "process %d at %s, the third in a row killed in its start-up", k.proc, at(k.at))
	}
	for _, u := range tr.unrestarted {
		note(harmUnrestarted, "%s", u)
	}
	return notes
}

// hidden: from from to to the daemon answered, but never with its loop's
// state: no usable answer, and some answers without it (answers without
// it before from or after to, all hangs between, hide nothing).
func (d *daemon) hidden(from, to time.Time) bool {
	if d.lastUnusableBy(to).Before(from) {
		return false
	}
	for _, at := range d.usableAt {
		if !at.Before(from) && !at.After(to) {
			return false
		}
	}
	return true
}

// lastUnusableBy is when the daemon last answered without its loop's
// state (in a fault period) at or before to; zero if it never did.
func (d *daemon) lastUnusableBy(to time.Time) time.Time { return lastTimeBy(d.unusableAt, to) }

// lastTimeBy is the last of times (in order) at or before to; zero if none.
func lastTimeBy(times []time.Time, to time.Time) time.Time {
	for i := len(times) - 1; i >= 0; i-- {
		if !times[i].After(to) {
			return times[i]
		}
	}
	return time.Time{}
}

// startedUnseen: the last usable answer before from showed the loop
// stopped, and none came from then to to.
//
// from is the hang's last progress (or later): a usable answer at that very
// instant that showed the loop stopped, with nothing in flight, came before
// it. A stopped loop has no progress to count from, so the progress at from
// is the start through the API, and a request answered after that start
// would have shown the loop running (a completed cycle, or one in flight).
// On the fake clock the two share a timestamp, and which came first is up
// to the goroutines' order; the answer's own words say which. Such an
// answer is the last one before the start, as one stamped a moment earlier
// would be; an answer at from that showed the loop running still shows the
// hang, and is no exception.
func (d *daemon) startedUnseen(from, to time.Time) bool {
	last := -1
	for i, at := range d.usableAt {
		if at.After(to) {
			break
		}
		if at.Equal(from) && !d.usableRunning[i] {
			last = i
			continue
		}
		if !at.Before(from) {
			return false
		}
		last = i
	}
	return last >= 0 && !d.usableRunning[last]
}

// judgeable is the earliest moment a usable answer could show the hang s
// stale: its start plus the threshold, or, where ages run from first sight
// (no computedAt), the first usable answer that showed it plus the
// threshold.
func (d *daemon) judgeable(s span) time.Time {
	for _, at := range d.usableAt {
		if !at.Before(s.seen) {
			return later(s.from, at.Add(d.threshold))
		}
	}
	return s.from
}

// usableBetween: a usable answer came at or after from and before to.
func (d *daemon) usableBetween(from, to time.Time) bool {
	u, ok := d.firstUsable(from)
	return ok && u.Before(to)
}

// firstUsable is the first usable answer at or after from.
func (d *daemon) firstUsable(from time.Time) (time.Time, bool) {
	for _, at := range d.usableAt {
		if !at.Before(from) {
			return at, true
		}
	}
	return time.Time{}, false
}

// invertedAt: the wedged cycle that started at start was stamped before
// the daemon's last completion.
func (d *daemon) invertedAt(start time.Time) bool {
	for _, at := range d.inverted {
		if at.Equal(start) {
			return true
		}
	}
	return false
}
