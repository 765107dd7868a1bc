// Package dispatchtest provides what tests of code built on dispatch need:
// a clock that moves only when told to, a logger whose lines a test can
// read, a fake status endpoint, and a ResponseWriter that keeps nothing.
// Like net/http/httptest, it is for tests only.
package dispatchtest

import (
	"bytes"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-kit/log"
)

// Clock is a dispatch.Clock that stands still until Add moves it. Step
// moves its wall clock alone, as NTP or a resumed VM does. It is safe for
// concurrent use.
type Clock struct {
	mu   sync.Mutex
	now  time.Time
	mono time.Duration
}

// NewClock returns a Clock reading start.
func NewClock(start time.Time) *Clock { return &Clock{now: start} }

// Now is the clock's wall time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Monotonic is the time Add has moved the clock by since NewClock.
func (c *Clock) Monotonic() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.mono
}

// Add moves the clock by d, wall and monotonic alike.
func (c *Clock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mono += d
	c.mu.Unlock()
}

// Step moves the wall clock alone by d (negative: back).
func (c *Clock) Step(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// Logs collects log lines. Its zero value is ready; it is safe for
// concurrent use.
type Logs struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write implements io.Writer.
func (l *Logs) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

// String is everything logged so far.
func (l *Logs) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// Count counts the occurrences of s in what was logged.
func (l *Logs) Count(s string) int { return strings.Count(l.String(), s) }

// Logger is a go-kit logfmt logger writing to l.
func (l *Logs) Logger() log.Logger { return log.NewLogfmtLogger(log.NewSyncWriter(l)) }

// Tool is the path of an external program the environment variable name
// points at (make test sets PROMTOOL, AMTOOL, ...); without it the test is
// skipped, saying how to get it.
func Tool(t testing.TB, name string) string {
	t.Helper()
	p := os.Getenv(name)
	if p == "" {
		t.Skipf("%s not set: `make test` installs it and sets it", name)
	}
	return p
}
