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
// independent of the loop's goroutine, so a cycle blocked forever is still
// reported, once, when it crosses the threshold.
func (m *Monitor) watch(ctx context.Context) {
	ticker := time.NewTicker(m.watchdog)
	defer ticker.Stop()
	for {
		m.Check()
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}

// Check judges the loop now and logs any transition. The watchdog calls it
// on every tick while the loop is started; tests call it after moving a
// fake clock. Concurrent checks
// are serialized, so a verdict taken earlier is never logged after a later
// one (a stale "RECOVERED" between two "WEDGED").
func (m *Monitor) Check() Assessment {
	m.checkMu.Lock()
	defer m.checkMu.Unlock()
	h, a := m.Assess()
	m.transitions.Observe(&h, a)
	return a
}

// Assess reads the loop and decides, without logging: in process the loop
// is always read directly, so the evidence is always usable. The
// collector's metrics, Liveness and the watchdog all read this decision.
func (m *Monitor) Assess() (Health, Assessment) {
	h := m.Health()
	return h, Decide(Look{Evidence: EvidenceUsable, Health: &h})
}

// dumpStacks writes every goroutine's stack (the pprof goroutine profile at
// debug=2, as a panic prints them) once per WEDGED transition: the stack
// dump that shows which await a wedged cycle hangs on. It goes to a file, one
// per episode, in the stack dump directory (default: defaultStackDumpDir),
// whose path the log line beside WEDGED names; files are capped in size and
// number (see writeStackDump). Only when no file can be written do the stacks
// go to the log, truncated.
func (m *Monitor) dumpStacks(h Health, _ Verdict) {
	var buf bytes.Buffer
	if err := pprof.Lookup("goroutine").WriteTo(&buf, 2); err != nil {
		level.Error(m.logger).Log("msg", "could not take goroutine stacks", "err", err)
		return
	}
	dir := m.stackDir
	if dir == "" {
		dir = defaultStackDumpDir()
	}
	stacks := hungFirst(buf.Bytes(), m.goroutine.Load())
	path, err := writeStackDump(dir, m.name, h.Now, stacks)
	if err != nil {
		level.Error(m.logger).Log("msg", "could not write goroutine stacks; the first of them follow", "err", err,
			"stacks", string(truncateStacks(stacks, maxLoggedStackBytes)))
		return
	}
	level.Error(m.logger).Log("msg", "goroutine stacks at WEDGED written", "file", path, "bytes", len(stacks))
}

// fileSafe keeps a loop name usable in a file name.
func fileSafe(r rune) rune {
	switch {
	case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '.':
		return r
	}
	return '_'
}

// writeStackDump writes stacks to a new file wedged-LOOP-TIME.txt in dir
// (created, 0700, if missing), at most maxStackDumpBytes of them, and then
// removes the loop's oldest dumps beyond keepStackDumps: a loop that wedges
// every few minutes for a week cannot fill the disk.
func writeStackDump(dir, loop string, at time.Time, stacks []byte) (string, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("write stack dump: %w", err)
	}
	prefix := "wedged-" + strings.Map(fileSafe, loop) + "-"
	path := filepath.Join(dir, prefix+at.UTC().Format(stackDumpTimeLayout)+".txt")
	// O_EXCL: never follow a link planted in a shared temporary directory.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", fmt.Errorf("write stack dump: %w", err)
	}
	_, err = f.Write(truncateStacks(stacks, maxStackDumpBytes))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", fmt.Errorf("write stack dump: %w", err)
	}
	pruneStackDumps(dir, prefix, keepStackDumps)
	return path, nil
}
