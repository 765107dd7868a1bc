package e2e

import (
	"fmt"
	"strings"
	"sync"
	"time"
)

// eventLog is one history's compact log: process events, kubelet actions,
// each scrape and liveness answer, stamped with the fake time since the
// history began. A line that repeats the previous line of the same actor
// is folded into a count when nothing came between them, so the order of
// events stays readable.
type eventLog struct {
	mu    sync.Mutex
	start time.Time
	lines []string
	last  map[string]int // actor → index of its latest line
	text  map[string]string
	reps  map[int]int
}

func newEventLog(start time.Time) *eventLog {
	return &eventLog{start: start, last: map[string]int{}, text: map[string]string{}, reps: map[int]int{}}
}

// add logs one line of actor (e.g. "d1 scrape") at time.Now().
func (l *eventLog) add(actor, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	l.mu.Lock()
	defer l.mu.Unlock()
	if i, ok := l.last[actor]; ok && l.text[actor] == msg && i == len(l.lines)-1 {
		l.reps[i]++
		return
	}
	l.last[actor], l.text[actor] = len(l.lines), msg
	l.lines = append(l.lines, fmt.Sprintf("%8.1fs %-12s %s", time.Since(l.start).Seconds(), actor, msg))
}

// String is the log, repeats folded, at most max lines (the first and the
// latest ones).
func (l *eventLog) String(max int) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]string, 0, len(l.lines))
	for i, s := range l.lines {
		if n := l.reps[i]; n > 0 {
			s += fmt.Sprintf("  (×%d)", n+1)
		}
		out = append(out, s)
	}
	if len(out) > max {
		head := out[:max/4]
		tail := out[len(out)-(max-max/4):]
		out = append(append(append([]string{}, head...), fmt.Sprintf("   … %d lines …", len(out)-max)), tail...)
	}
	return strings.Join(out, "\n")
}
