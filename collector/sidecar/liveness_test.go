package sidecar

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stoneforge/dispatch_exporter/collector/config"
	"github.com/stoneforge/dispatch_exporter/collector/family/familytest"

	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stoneforge/dispatch_exporter/dispatch"
	"github.com/stoneforge/dispatch_exporter/dispatch/dispatchtest"
)

// hangs is a daemon whose whole HTTP server hangs (SIGSTOP): the
// connection is accepted, nothing answers; our clock moves by the timeout.
func hangs(sd *scriptedDaemon, timeout time.Duration) func(*http.Request) (*http.Response, error) {
	return func(req *http.Request) (*http.Response, error) {
		if trace := httptrace.ContextClientTrace(req.Context()); trace != nil && trace.ConnectDone != nil {
			trace.ConnectDone("tcp", "smithy:3457", nil)
		}
		sd.now = sd.now.Add(timeout)
		return nil, fmt.Errorf("simulated hang: %w", context.DeadlineExceeded)
	}
}

// The whole server hangs for 5 minutes while the kubelet probes every second and
// Prometheus scrapes every 15s: the page stays up for the whole hang, in
// shadow mode (nothing restarts) and in enforce mode with nobody to
// restart; it ends when the daemon answers a completed cycle.
func TestAHangThatGoesOnStaysWedgedWhateverLivenessAnswered(t *testing.T) {
	t.Parallel()
	for _, shadow := range []bool{true, false} {
		t.Run(fmt.Sprint("shadow=", shadow), func(t *testing.T) {
			t.Parallel()
			sd := &scriptedDaemon{now: t0}
			var logs dispatchtest.Logs
			tgt := newTestTarget(t, "http://smithy:3457/api/daemon/status", &logs, func(o *TargetOptions) {
				sd.wire(o)
				o.Timeout = time.Second
				o.StaleThreshold = 10 * time.Second
				o.FailureThreshold = 3
			})
			sd.resp = func(req *http.Request) (*http.Response, error) { return answer(req, 200, cyclingBody(sd.now)), nil }
			require.Equal(t, dispatch.StateHealthy, tgt.Probe(context.Background()).State().State)

			sd.resp = hangs(sd, time.Second)
			hungAt, judged, flips := sd.now, false, 0
			var spent float64
			for sd.now.Sub(hungAt) < 300*time.Second {
				var p Probe
				if int(sd.now.Sub(hungAt).Seconds())%15 == 0 {
					p = tgt.Probe(context.Background())
				} else {
					p, _ = tgt.Liveness(context.Background(), shadow)
				}
				stale := familytest.ValueOf(t, familytest.Values(t, p), "dispatch_poll_stale") == 1
				if judged && !stale {
					flips++
				}
				judged = judged || stale
				spent = familytest.ValueOf(t, familytest.Values(t, p), "dispatch_liveness_restart_budget_spent")
			}
			assert.True(t, judged, "the hang was judged a wedge")
			assert.Zero(t, flips, "one page for one hang: dispatch_poll_stale never fell back to 0")
			v := familytest.Values(t, tgt.Probe(context.Background()))
			requests := familytest.ValueOf(t, v, `dispatch_liveness_restart_requests_total{reason=hang}`)
			if shadow {
				assert.Zero(t, requests, "shadow mode makes no request")
				assert.Zero(t, spent)
				assert.Equal(t, 1, logs.Count("would ask for a restart"), logs.String())
			} else {
				assert.Equal(t, 3.0, requests, "the budget, then no more")
				assert.Equal(t, 1.0, spent, "nobody restarted it: restarts are not helping")
				assert.Equal(t, 1, logs.Count("restart budget spent"), logs.String())
			}
			assert.Zero(t, logs.Count("restart-window"), "no advice about a window that did not fail")

			sd.resp = func(req *http.Request) (*http.Response, error) { return answer(req, 200, cyclingBody(sd.now)), nil }
			p, l := tgt.Liveness(context.Background(), shadow)
			assert.Equal(t, dispatch.StateHealthy, p.State().State, "the daemon answers a completed cycle: the wedge ends on evidence")
			assert.False(t, l.Restart)
			assert.Zero(t, familytest.ValueOf(t, familytest.Values(t, tgt.Probe(context.Background())), "dispatch_liveness_restart_budget_spent"), "a completed cycle restores the budget")
		})
	}
}

// A reload that changes only a target's timeout keeps its wedge: the same
// URL is the same daemon. A new URL starts afresh.
func TestReloadKeepsWhatItKnowsOfTheSameURL(t *testing.T) {
	t.Parallel()
	var wedged atomic.Bool
	wedged.Store(true)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, wedgedBody(time.Now()))
	}))
	t.Cleanup(srv.Close)
	var logs dispatchtest.Logs
	targets := NewTargets(TargetDefaults{Timeout: time.Second, Logger: logs.Logger()})
	cfg := func(url string, timeout time.Duration) *config.Config {
		c := SingleTarget(url)
		c.Targets[0].Timeout = model.Duration(timeout)
		return c
	}
	require.NoError(t, targets.Apply(cfg(srv.URL, time.Second)))
	tgt, _ := targets.Get(DefaultTargetName)
	tgt.Probe(context.Background())
	require.Equal(t, dispatch.StateWedged, targets.States()[0].State)

	require.NoError(t, targets.Apply(cfg(srv.URL, 2*time.Second)))
	st := targets.States()[0]
	assert.Equal(t, dispatch.StateWedged, st.State, "timeout changed, URL kept: %s", st.Reason)
	tgt, _ = targets.Get(DefaultTargetName)
	assert.Equal(t, dispatch.StateWedged, tgt.Probe(context.Background()).State().State)

	require.NoError(t, targets.Apply(cfg(srv.URL+"/other", 2*time.Second)))
	assert.Equal(t, dispatch.StateUnknown, targets.States()[0].State, "another URL: another daemon, nothing known of it")
}

// A liveness probe that stops waiting before the shared request answers
// (--liveness.timeout under --target.timeout) never answers 503 on a
// decision about a process that may no longer serve: the daemon was wedged,
// a restart request made the kubelet count its failures (one, here) and
// restart it; the process now serving is slow to answer its first request.
func TestLivenessThatGivesUpNeverAnswersFromAnEarlierDecision(t *testing.T) {
	t.Parallel()
	var slow atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if slow.Load() {
			time.Sleep(300 * time.Millisecond)
			fmt.Fprint(w, cyclingBody(time.Now()))
			return
		}
		fmt.Fprint(w, wedgedBody(time.Now()))
	}))
	t.Cleanup(srv.Close)
	var logs dispatchtest.Logs
	tgt := newTestTarget(t, srv.URL, &logs, func(o *TargetOptions) { o.Timeout = 2 * time.Second; o.FailureThreshold = 1 })
	_, l := tgt.Liveness(context.Background(), false)
	require.True(t, l.Restart, "wedged: a restart is asked for")

	slow.Store(true) // the kubelet restarted it; the new process answers slowly
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	p, l := tgt.Liveness(ctx, false)
	assert.False(t, l.Restart, "no 503 on evidence about a process that may no longer serve: %s", l.Reason)
	assert.Zero(t, familytest.ValueOf(t, familytest.Values(t, p), "dispatch_up"), "this caller read nothing")
	require.Eventually(t, func() bool { return tgt.State().State == dispatch.StateHealthy }, 2*time.Second, 10*time.Millisecond,
		"the request goes on and decides")
	assert.Zero(t, logs.Count("after a scrape stopped waiting"), "a liveness probe that stops waiting is no scrape misconfigured")
}

// "loop started again" says a cycle keeps its age only when one is in
// flight.
func TestLoopStartedAgainSaysOnlyWhatHappened(t *testing.T) {
	t.Parallel()
	sd := &scriptedDaemon{now: t0}
	var logs dispatchtest.Logs
	tgt := newTestTarget(t, "http://smithy:3457/api/daemon/status", &logs, func(o *TargetOptions) {
		sd.wire(o)
	})
	running := false
	sd.resp = func(req *http.Request) (*http.Response, error) {
		if !running { // stopped, no cycle ever reported
			return answer(req, 200, statusBody(dispatch.Health{Interval: time.Second, Observed: true, QueueKnown: true, AvailableWorkers: 1})), nil
		}
		return answer(req, 200, cyclingBody(sd.now)), nil
	}
	tgt.Probe(context.Background())
	running = true
	sd.now = sd.now.Add(5 * time.Second)
	tgt.Probe(context.Background())
	assert.Equal(t, 1, logs.Count("loop started again"), logs.String())
	assert.Zero(t, logs.Count("keeps its age"), "nothing was in flight")
}

// Shadow mode changes only the liveness answer: the same evidence gives the
// same dispatch_poll_stale and state as enforce mode, here while the
// process that replaced a wedged one starts, answering 503.
func TestShadowModeChangesOnlyTheLivenessAnswer(t *testing.T) {
	t.Parallel()
	run := func(shadow bool) (states []dispatch.State, stale []float64, requests int) {
		sd := &scriptedDaemon{now: t0}
		starting := false
		sd.resp = func(req *http.Request) (*http.Response, error) {
			if starting {
				return answer(req, 503, `{"error":"starting"}`), nil
			}
			return answer(req, 200, wedgedBody(sd.now)), nil
		}
		var logs dispatchtest.Logs
		tgt := newTestTarget(t, "http://daemon/api/daemon/status", &logs, func(o *TargetOptions) {
			sd.wire(o)
		})
		for range 3 { // the kubelet's liveness probes, 15s apart
			tgt.Liveness(context.Background(), shadow)
			sd.now = sd.now.Add(15 * time.Second)
		}
		starting = true // the process was replaced; the new one starts, answering 503
		for range 3 {
			p := tgt.Probe(context.Background())
			states = append(states, p.State().State)
			stale = append(stale, familytest.ValueOf(t, familytest.Values(t, p), "dispatch_poll_stale"))
			sd.now = sd.now.Add(15 * time.Second)
		}
		tgt.mu.Lock()
		defer tgt.mu.Unlock()
		return states, stale, tgt.policy.Requests()
	}
	enforceStates, enforceStale, enforceRequests := run(false)
	shadowStates, shadowStale, shadowRequests := run(true)
	assert.Equal(t, 1, enforceRequests, "enforce mode asked for a restart")
	assert.Zero(t, shadowRequests, "shadow mode only previews")
	assert.Equal(t, []float64{1, 1, 1}, enforceStale, "the wedge is carried through the new process's 503s")
	assert.Equal(t, enforceStates, shadowStates, "shadow mode changes only the liveness answer")
	assert.Equal(t, enforceStale, shadowStale)
}
