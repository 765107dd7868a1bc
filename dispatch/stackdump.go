package dispatch

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"
)

// Bounds of the goroutine dumps taken at WEDGED.
const (
	// maxStackDumpBytes caps one dump file; a process with a hundred
	// thousand goroutines would otherwise write a file of hundreds of MB.
	maxStackDumpBytes = 1 << 20
	// keepStackDumps is how many dump files of one loop are kept.
	keepStackDumps = 10
	// maxLoggedStackBytes caps the stacks logged when no file can be
	// written.
	maxLoggedStackBytes = 16 << 10

	stackDumpTimeLayout = "20060102T150405.000Z"
)

// defaultStackDumpDir is where dumps go when Options.StackDumpDir is empty:
// dispatch-stacks-UID under the system's temporary directory (one per
// user, so no process writes into another's).
func defaultStackDumpDir() string {
	return filepath.Join(os.TempDir(), fmt.Sprintf("dispatch-stacks-%d", os.Getuid()))
}

// currentGoroutine is the id of the calling goroutine, as stack dumps name
// it ("goroutine 42 [running]:"); 0 if it cannot be read.
func currentGoroutine() uint64 {
	var buf [64]byte
	line := buf[:runtime.Stack(buf[:], false)]
	line = bytes.TrimPrefix(line, []byte("goroutine "))
	var id uint64
	for _, c := range line {
		if c < '0' || c > '9' {
			break
		}
		id = id*10 + uint64(c-'0')
	}
	return id
}

// hungFirst moves the stack of goroutine id (the loop's, whose cycle hangs)
// to the front of a dump, so that a truncated dump still shows the await it
// hangs on.
func hungFirst(stacks []byte, id uint64) []byte {
	if id == 0 {
		return stacks
	}
	head := fmt.Appendf(nil, "goroutine %d [", id)
	if bytes.HasPrefix(stacks, head) {
		return stacks
	}
	i := bytes.Index(stacks, append([]byte("\n\n"), head...))
	if i < 0 {
		return stacks
	}
	start := i + 2
	end := len(stacks)
	if j := bytes.Index(stacks[start:], []byte("\n\n")); j >= 0 {
		end = start + j + 2
	}
	out := make([]byte, 0, len(stacks)+2)
	out = append(out, stacks[start:end]...)
	if !bytes.HasSuffix(out, []byte("\n\n")) {
		out = append(out, "\n\n"...)
	}
	out = append(out, stacks[:start]...)
	return append(out, stacks[end:]...)
}

// truncateStacks returns at most max bytes of stacks, cut at a line end,
// followed by a line that says how much was left out.
func truncateStacks(stacks []byte, max int) []byte {
	if len(stacks) <= max {
		return stacks
	}
	const format = "... truncated: %d more bytes of goroutine stacks\n"
	cut := max - len(fmt.Sprintf(format, len(stacks))) // room for the note, whatever is cut
	if i := bytes.LastIndexByte(stacks[:cut], '\n'); i >= 0 {
		cut = i + 1
	}
	return fmt.Appendf(slices.Clip(stacks[:cut]), format, len(stacks)-cut)
}

// pruneStackDumps removes the oldest of a loop's dumps in dir (the files
// named prefix + time + ".txt") beyond keep. Errors are ignored: a dump
// left behind is harmless, and the next dump tries again.
func pruneStackDumps(dir, prefix string, keep int) {
	matches, err := filepath.Glob(filepath.Join(dir, prefix+"*.txt"))
	if err != nil {
		return
	}
	var dumps []string
	for _, m := range matches {
		stamp := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(m), prefix), ".txt")
		if _, err := time.Parse(stackDumpTimeLayout, stamp); err == nil { // not another loop's, whose name extends this one's
			dumps = append(dumps, m)
		}
	}
	slices.Sort(dumps) // the time sorts as text
	for len(dumps) > keep {
		_ = os.Remove(dumps[0])
		dumps = dumps[1:]
	}
}
