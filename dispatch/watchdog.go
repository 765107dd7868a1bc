package dispatch

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/go-kit/log/level"
)

// watch is the watchdog goroutine: it judges the loop on a ticker of its own,
// independent of the loop goroutine, so a cycle blocked forever is still
// reported, once, when it crosses the threshold.
func (l *Loop) watch(ctx context.Context) {
	ticker := time.NewTicker(l.watchdog)
	defer ticker.Stop()
	for {
		l.Check()
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}

// Check judges the loop now and logs any transition. The watchdog calls it
// on every tick; tests call it after moving a fake clock. Concurrent checks
// are serialized, so a verdict taken earlier is never logged after a later
// one (a stale "RECOVERED" between two "WEDGED").
func (l *Loop) Check() Assessment {
	l.checkMu.Lock()
	defer l.checkMu.Unlock()
	h, a := l.Assess()
	l.transitions.Observe(&h, a)
	return a
}

// Assess reads the loop and decides, without logging: in process the loop
// is always read directly, so the evidence is always usable.
func (l *Loop) Assess() (Health, Assessment) {
	h := l.Health()
	return h, Decide(Look{Evidence: EvidenceUsable, Health: &h})
}

// dumpStacks writes every goroutine's stack (the pprof goroutine profile at
// debug=2, as a panic prints them) once per WEDGED transition: the stack
// dump that shows which await a wedged cycle hangs on.
func (l *Loop) dumpStacks(h Health, _ Verdict) {
	var buf bytes.Buffer
	if err := pprof.Lookup("goroutine").WriteTo(&buf, 2); err != nil {
		level.Error(l.logger).Log("msg", "could not take goroutine stacks", "err", err)
		return
	}
	if l.stackDir == "" {
		level.Error(l.logger).Log("msg", "goroutine stacks at WEDGED", "stacks", buf.String())
		return
	}
	path, err := writeStackDump(l.stackDir, l.name, h.Now, buf.Bytes())
	if err != nil {
		level.Error(l.logger).Log("msg", "could not write goroutine stacks; writing them here", "err", err, "stacks", buf.String())
		return
	}
	level.Error(l.logger).Log("msg", "goroutine stacks at WEDGED written", "file", path)
}

// fileSafe keeps a loop name usable in a file name.
func fileSafe(r rune) rune {
	switch {
	case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '.':
		return r
	}
	return '_'
}

func writeStackDump(dir, loop string, at time.Time, stacks []byte) (string, error) {
	name := fmt.Sprintf("wedged-%s-%s.txt", strings.Map(fileSafe, loop), at.UTC().Format("20060102T150405.000Z"))
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, stacks, 0o644); err != nil {
		return "", fmt.Errorf("write stack dump: %w", err)
	}
	return path, nil
}
