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
//	each kubelet probe   the liveness caller gives up at 100ms; the
//	                     request goes on
//	300ms later          the request answers: WEDGED, restart is the fix
//	                     (the page is up, /probe and the landing page say WEDGED)
//	a later probe        answers 503 on that decision: no restart was asked
//	                     since, so it is about the process serving now
//
// A visible wedge of the process serving now, in enforce mode with the
// budget intact, is restarted even though every status answer comes after
// the liveness caller stopped waiting.
func TestLivenessRestartsAWedgeWhoseStatusAnswersSlowerThanTheLivenessTimeout(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(300 * time.Millisecond)
		now := time.Now()
		fmt.Fprint(w, runningStatus(now, 5*time.Second, now.Add(-10*time.Minute), now.Add(-10*time.Minute-time.Second)))
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
