package dispatch

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stoneforge/dispatch_exporter/dispatch/dispatchtest"
)

// TestLoopStacksGoToADefaultFile: without a directory, the dump is a
// readable file in dispatch-stacks-UID under the system's temporary
// directory ($TMPDIR, here the test's own), named in the log line. Not
// parallel: it sets TMPDIR.
func TestLoopStacksGoToADefaultFile(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	clock := dispatchtest.NewClock(t0)
	var logs dispatchtest.Logs
	w := &wedgeable{release: make(chan struct{}), entered: make(chan struct{}, 1)}
	w.wedged.Store(true)
	l, err := NewLoop(w.cycle, Options{Name: "main", Interval: time.Millisecond, WatchdogInterval: time.Hour, Clock: clock, Logger: logs.Logger()})
	require.NoError(t, err)
	w.loop = l
	require.NoError(t, w.loop.Start(context.Background()))
	<-w.entered
	clock.Add(2 * time.Minute)
	w.loop.Check()
	require.Eventually(t, func() bool { return logs.Count("goroutine stacks at WEDGED written") == 1 }, 5*time.Second, time.Millisecond, "dump written")
	m := regexp.MustCompile(`file=(\S+)`).FindStringSubmatch(logs.String())
	require.NotNil(t, m, logs.String())
	path := m[1]
	assert.Equal(t, filepath.Join(tmp, fmt.Sprintf("dispatch-stacks-%d", os.Getuid())), filepath.Dir(path))
	stacks, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Contains(t, string(stacks), "(*wedgeable).cycle")
	assert.Contains(t, string(stacks), "\ngoroutine ", "one goroutine after another, on lines of their own")
	assert.NotContains(t, logs.String(), "(*wedgeable).cycle", "the stacks stay out of the log")
	w.unwedge()
	require.NoError(t, w.loop.Stop(context.Background()))
}

func TestStackDumpsAreBounded(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "stacks")
	big := bytes.Repeat([]byte("goroutine 1 [select]:\n\tmain.f()\n"), 2*maxStackDumpBytes/30)
	var paths []string
	for i := range keepStackDumps + 3 {
		p, err := writeStackDump(dir, "main", t0.Add(time.Duration(i)*time.Minute), big)
		require.NoError(t, err)
		paths = append(paths, p)
	}
	other, err := writeStackDump(dir, "main-b", t0, []byte("x\n"))
	require.NoError(t, err)

	info, err := os.Stat(paths[len(paths)-1])
	require.NoError(t, err)
	assert.LessOrEqual(t, info.Size(), int64(maxStackDumpBytes))
	assert.Greater(t, info.Size(), int64(maxStackDumpBytes-100))
	last, err := os.ReadFile(paths[len(paths)-1])
	require.NoError(t, err)
	assert.True(t, strings.HasSuffix(string(last), "more bytes of goroutine stacks\n"), "says it was truncated")
	assert.Equal(t, os.FileMode(0o600), info.Mode().Perm())

	kept, err := filepath.Glob(filepath.Join(dir, "wedged-main-2*.txt"))
	require.NoError(t, err)
	assert.Equal(t, paths[3:], kept, "the newest %d, the oldest removed", keepStackDumps)
	_, err = os.Stat(other)
	assert.NoError(t, err, "another loop's dump is not this loop's to prune")

	_, err = writeStackDump(dir, "main", t0.Add(time.Duration(keepStackDumps+2)*time.Minute), big)
	assert.Error(t, err, "an existing file is never overwritten")
}

func TestTruncateStacks(t *testing.T) {
	t.Parallel()
	short := []byte("a\nb\n")
	assert.Equal(t, short, truncateStacks(short, 100))
	long := bytes.Repeat([]byte("0123456789\n"), 100)
	got := truncateStacks(long, 200)
	assert.LessOrEqual(t, len(got), 200)
	assert.Equal(t, strings.Repeat("0123456789\n", 13)+"... truncated: 957 more bytes of goroutine stacks\n", string(got))
}

// The loop's goroutine leads the dump, so that a dump cut to fit the log
// still shows the await the cycle hangs on.
func TestStackDumpPutsTheLoopsGoroutineFirst(t *testing.T) {
	t.Parallel()
	dump := []byte("goroutine 1 [running]:\nmain.main()\n\ngoroutine 7 [select]:\nother()\n\ngoroutine 42 [chan receive]:\nwedged.cycle()\n\ngoroutine 9 [sleep]:\nidle()\n")
	got := string(hungFirst(dump, 42))
	require.True(t, strings.HasPrefix(got, "goroutine 42 [chan receive]:\nwedged.cycle()\n\n"), got)
	for _, g := range []string{"goroutine 1 [", "goroutine 7 [", "goroutine 9 ["} {
		assert.Equal(t, 1, strings.Count(got, g), "%s kept once: %s", g, got)
	}
	assert.Equal(t, string(dump), string(hungFirst(dump, 0)), "unknown goroutine: unchanged")
	assert.Equal(t, string(dump), string(hungFirst(dump, 1)), "already first: unchanged")
	assert.NotZero(t, currentGoroutine())
}
