package collector

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stoneforge/dispatch_exporter/dispatch"
	"github.com/stoneforge/dispatch_exporter/dispatch/dispatchtest"
)

// A daemon that keeps its own loop (here a ticker) marks each cycle on a
// dispatch.Monitor; the LoopCollector registered for it turns
// dispatch_poll_stale to 1 once a cycle that started never ends outlasts the
// threshold, while the daemon's goroutine is still blocked in it.
func TestMonitorWedgeTurnsPollStaleOne(t *testing.T) {
	t.Parallel()
	clock := dispatchtest.NewClock(t0)
	mon, err := dispatch.NewMonitor(dispatch.Options{Name: "own", Interval: time.Millisecond, Clock: clock,
		WatchdogInterval: time.Hour, StackDumpDir: t.TempDir()})
	require.NoError(t, err)
	c, err := NewLoopCollector(mon)
	require.NoError(t, err)
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(c)

	ctx, cancel := context.WithCancel(context.Background())
	mon.Started(ctx)
	cycles := make(chan struct{})  // one receive per cycle the daemon begins
	release := make(chan struct{}) // closed: the hung cycle returns
	exited := make(chan struct{})  // the daemon's loop is done
	go func() {                    // the daemon's own loop
		defer close(exited)
		ticker := time.NewTicker(time.Millisecond)
		defer ticker.Stop()
		for n := 0; ctx.Err() == nil; n++ {
			mon.Begin()
			mon.SetPhase("inbox")
			mon.SetQueue(1, 2)
			cycles <- struct{}{}
			if n == 1 { // the second cycle hangs, deaf to ctx
				<-release
			}
			mon.End(nil)
			select {
			case <-ctx.Done():
			case <-ticker.C:
			}
		}
	}()
	<-cycles // the first cycle, which ends
	<-cycles // the second, which hangs

	stale := func(v string) string {
		return `
# HELP dispatch_poll_stale 1 when the evidence shows a hung loop: a cycle in flight for longer than the stale threshold (running or stopped), or a running loop with no cycle completed within it since its run began; or, while the daemon hangs, the same extrapolated from its last usable status. Never on unreadable or refused status requests.
# TYPE dispatch_poll_stale gauge
dispatch_poll_stale{loop="own"} ` + v + `
# HELP dispatch_poll_in_flight 1 while a poll cycle runs: it started and has not completed since.
# TYPE dispatch_poll_in_flight gauge
dispatch_poll_in_flight{loop="own"} 1
`
	}
	clock.Add(59 * time.Second)
	require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(stale("0")), "dispatch_poll_stale", "dispatch_poll_in_flight"))
	clock.Add(2 * time.Second)
	require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(stale("1")), "dispatch_poll_stale", "dispatch_poll_in_flight"),
		"read at scrape time, while the daemon's goroutine is blocked")
	assert.Error(t, mon.Liveness(), "liveness reads the same decision")
	states := c.States()
	require.Len(t, states, 1)
	assert.Equal(t, dispatch.StateWedged, states[0].State)

	cancel()
	close(release)
	<-exited
	mon.Stopped()
	assert.Equal(t, uint64(2), mon.Stats().Results[dispatch.ResultOK])
}
