package sidecar

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stoneforge/dispatch_exporter/dispatch"
	"github.com/stoneforge/dispatch_exporter/dispatch/dispatchtest"
)

// History (enforce mode; the documented defaults scaled down:
// --liveness.timeout under --target.timeout): the daemon's loop is wedged
// (a cycle in flight for 10 minutes, the daemon says so itself) and its
// status endpoint, on a busy event loop, answers every request, usably, in
// 300ms: more than the liveness timeout (100ms), well within the target's
// timeout (2s).
//
//	each kubelet probe   the liveness caller gives up at 100ms: Pending,
//	                     no hang under way, so "unusable": Restart false, 200
//	300ms later          the request answers: WEDGED, restart is the fix
//	                     (the page is up, /probe and the landing page say WEDGED)
//	forever              the next probe again gives up first: 200
//
// No restart request is ever made, the budget is never spent (so
// DispatchRestartsNotHelping never fires either): a visible wedge of the
// process serving now, in enforce mode with the budget intact, is never
// restarted. The decisions the liveness caller ignores are not "earlier"
// ones about a process that may be gone: no restart was asked since.
func TestLivenessRestartsAWedgeWhoseStatusAnswersSlowerThanTheLivenessTimeout(t *testing.T) {
	t.Parallel()
	ts := func(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(300 * time.Millisecond)
		now := time.Now()
		fmt.Fprintf(w, `{"isRunning":true,"available":true,"config":{"pollIntervalMs":5000},"health":{"readyUnassignedTasks":0,"availableWorkers":1,"computedAt":%q,"lastPollStartedAt":%q,"lastPollCompletedAt":%q}}`,
			ts(now), ts(now.Add(-10*time.Minute)), ts(now.Add(-10*time.Minute-time.Second)))
	}))
	t.Cleanup(srv.Close)
	var logs dispatchtest.Logs
	tgt := newTestTarget(t, srv.URL, &logs, func(o *TargetOptions) { o.Timeout = 2 * time.Second })

	asked := 0
	for range 8 {
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		_, l := tgt.Liveness(ctx, false)
		cancel()
		if l.Restart {
			asked++
		}
		before := tgt.State().ObservedAt
		require.Eventually(t, func() bool { return tgt.State().ObservedAt.After(before) },
			2*time.Second, 10*time.Millisecond, "the request goes on and decides")
		require.Equal(t, dispatch.StateWedged, tgt.State().State, "the page is up")
	}
	assert.Positive(t, asked, "a wedge of the process serving now, budget intact: some liveness answer must be 503; the last said %q", tgt.State().Liveness)
}
