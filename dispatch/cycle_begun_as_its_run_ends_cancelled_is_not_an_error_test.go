package dispatch

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stoneforge/dispatch_exporter/dispatch/dispatchtest"
)

// A daemon's loop selects on its ticker and its context: when both are
// ready at shutdown, it may begin one more cycle after the context ended,
// and that cycle returns ctx.Err() at once. The shutdown cancelled it: ok,
// not logged, whether or not the monitor's watchdog has already seen the
// context end (it ends the run as soon as it does, before the deferred
// Stopped).
func TestCycleBegunAsItsRunEndsCancelledIsNotAnError(t *testing.T) {
	t.Parallel()
	var logs dispatchtest.Logs
	mon, err := NewMonitor(testOptions(t, Options{Interval: time.Second, Logger: logs.Logger()}))
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	mon.Started(ctx)
	defer mon.Stopped()
	cancel()
	// The watchdog sees the context end and ends the run.
	require.Eventually(t, func() bool { return !mon.Health().Running }, 5*time.Second, time.Millisecond)

	mon.Begin() // the ticker won the select
	mon.End(ctx.Err())

	assert.Zero(t, mon.Stats().Results[ResultError], "a cycle cancelled by the shutdown is not an error")
	assert.Equal(t, uint64(1), mon.Stats().Results[ResultOK])
	assert.Equal(t, 0, logs.Count("poll cycle failed"), logs.String())
}
