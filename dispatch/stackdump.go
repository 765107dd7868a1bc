package dispatch

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
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
