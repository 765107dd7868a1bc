package sidecar

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stoneforge/dispatch_exporter/collector/family"
	"github.com/stoneforge/dispatch_exporter/collector/family/familytest"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stoneforge/dispatch_exporter/dispatch"
	"github.com/stoneforge/dispatch_exporter/dispatch/dispatchtest"
)

// sample reads a real smithy response from dispatch/smithy/testdata.
func smithySample(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "dispatch", "smithy", "testdata", "samples", name))
	require.NoError(t, err)
	return string(b)
}

// slowServer answers a healthy status after delay.
func slowServer(t *testing.T, delay time.Duration) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(delay)
		fmt.Fprint(w, statusAt(0, 0, -time.Second))
	}))
	t.Cleanup(srv.Close)
	return srv
}

// serve answers every request with status and body.
func serve(t *testing.T, status int, body string) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(status)
		fmt.Fprint(w, body)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// hang accepts requests and never answers until the test ends.
func hang(t *testing.T) string {
	t.Helper()
	stop := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-stop:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(func() { close(stop); srv.Close() })
	return srv.URL
}

// refused is an address nothing listens on.
func refused(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	return "http://" + addr + "/api/daemon/status"
}

func newTestTarget(t *testing.T, url string, logs *dispatchtest.Logs, opts ...func(*TargetOptions)) *Target {
	t.Helper()
	o := TargetOptions{Name: "smithy", URL: url, Timeout: 300 * time.Millisecond, Logger: logs.Logger()}
	for _, f := range opts {
		f(&o)
	}
	return NewTarget(o)
}

func probe(t *testing.T, tgt *Target) (map[string]float64, family.LoopState, time.Duration) {
	t.Helper()
	start := time.Now()
	p := tgt.Probe(context.Background())
	took := time.Since(start)
	return familytest.Values(t, p), p.State(), took
}

func TestTargetFaults(t *testing.T) {
	t.Parallel()
	wrongType := strings.Replace(smithySample(t, "healthy.json"), `"readyUnassignedTasks": 0`, `"readyUnassignedTasks": "3"`, 1)
	cases := []struct {
		name   string
		url    func(t *testing.T) string
		reason string
		log    string
	}{
		{"connection refused", refused, ReasonConnect, "connect: connection refused"},
		{"accepts and never answers", hang, ReasonTimeout, "context deadline exceeded"},
		{"slow body", func(t *testing.T) string {
			stop := make(chan struct{})
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				fmt.Fprint(w, `{"isRunning": true,`)
				w.(http.Flusher).Flush()
				select {
				case <-stop:
				case <-r.Context().Done():
				}
			}))
			t.Cleanup(func() { close(stop); srv.Close() })
			return srv.URL
		}, ReasonTimeout, "read body"},
		{"HTTP 500 with JSON", func(t *testing.T) string {
			return serve(t, 500, `{"error":"daemon exploded"}`)
		}, ReasonHTTPStatus, `target answered HTTP 500 Internal Server Error: {\"error\":\"daemon exploded\"}`},
		{"HTTP 404 with HTML", func(t *testing.T) string {
			return serve(t, 404, "<html>\n<body>Not Found</body>\n</html>")
		}, ReasonHTTPStatus, "target answered HTTP 404 Not Found: <html> <body>Not Found</body> </html>"},
		{"not JSON", func(t *testing.T) string { return serve(t, 200, "OK") }, ReasonDecode, "decode status: invalid character 'O'"},
		{"truncated JSON", func(t *testing.T) string {
			body := smithySample(t, "healthy.json")
			return serve(t, 200, body[:strings.Index(body, `"health"`)])
		}, ReasonDecode, "unexpected end of JSON input"},
		{"over the cap", func(t *testing.T) string {
			return serve(t, 200, `{"isRunning":true,"available":true,"pad":"`+strings.Repeat("x", 2<<20)+`"}`)
		}, ReasonTooLarge, "status body exceeds the 1048576-byte cap"},
		{"wrong types", func(t *testing.T) string { return serve(t, 200, wrongType) }, ReasonDecode, "readyUnassignedTasks of type int"},
		{"unparsable timestamp", func(t *testing.T) string {
			return serve(t, 200, strings.Replace(smithySample(t, "healthy.json"), `"2026-11-26T20:59:13.925Z"`, `"last tuesday"`, 1))
		}, ReasonDecode, `timestamp \"last tuesday\" is not ISO-8601`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			var logs dispatchtest.Logs
			tgt := newTestTarget(t, c.url(t), &logs)
			for range 3 {
				v, st, took := probe(t, tgt)
				assert.Equal(t, 0.0, familytest.ValueOf(t, v, "dispatch_up"))
				assert.Equal(t, stateDown, string(st.State))
				assert.NotEmpty(t, st.Error)
				assert.Less(t, took, time.Second, "never slower than the timeout (300ms)")
				require.Contains(t, v, "dispatch_poll_stale", "a decision is exported: DOWN")
				assert.Equal(t, 0.0, familytest.ValueOf(t, v, "dispatch_poll_stale"), "a failed request is no evidence of a hung loop")
				assert.False(t, st.Restart, "and no reason to restart the daemon")
			}
			v, _, _ := probe(t, tgt)
			assert.Equal(t, 4.0, v["dispatch_status_request_failures_total{reason="+c.reason+"}"], "counted under %s: %v", c.reason, v)
			for _, r := range family.Reasons() {
				assert.Contains(t, v, "dispatch_status_request_failures_total{reason="+r+"}", "every reason starts at 0")
			}
			assert.Equal(t, 1, logs.Count("status request failing"), "logged once per state change: %s", logs.String())
			assert.Contains(t, logs.String(), "reason="+c.reason)
			assert.Contains(t, logs.String(), c.log)
		})
	}
}

const stateDown = "down"

func TestTargetSamples(t *testing.T) {
	t.Parallel()
	cases := map[string]map[string]float64{
		"healthy.json": {"dispatch_up": 1, "dispatch_daemon_running": 1, "dispatch_poll_stale": 0, "dispatch_stuck_queue": 0,
			"dispatch_daemon_reported_stale": 0, "dispatch_daemon_available": 1, "dispatch_rate_limit_paused": 0},
		"stuck.json":                {"dispatch_up": 1, "dispatch_stuck_queue": 1, "dispatch_ready_unassigned_tasks": 1, "dispatch_available_workers": 0},
		"wedged.json":               {"dispatch_up": 1, "dispatch_poll_in_flight": 1, "dispatch_poll_stale": 0, "dispatch_daemon_reported_stale": 1},
		"stopped-after-60s.json":    {"dispatch_daemon_running": 0, "dispatch_poll_stale": 0, "dispatch_daemon_reported_stale": 1},
		"stopped-fresh.json":        {"dispatch_daemon_running": 0, "dispatch_poll_stale": 0},
		"wedged-after-restart.json": {"dispatch_poll_in_flight": 1, "dispatch_poll_stale_threshold_seconds": 60},
		"restarted.json":            {"dispatch_up": 1, "dispatch_poll_in_flight": 0, "dispatch_poll_interval_seconds": 5},
		"nogit.json":                {"dispatch_up": 1, "dispatch_daemon_available": 0, "dispatch_daemon_running": 0, "dispatch_poll_stale": 0},
	}
	for name, want := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var logs dispatchtest.Logs
			v, _, _ := probe(t, newTestTarget(t, serve(t, 200, smithySample(t, name)), &logs))
			for k, w := range want {
				require.Contains(t, v, k, "the series must exist before its value counts")
				assert.Equal(t, w, v[k], k)
			}
			require.Contains(t, v, "dispatch_status_request_failures_total{reason=decode}")
			assert.Equal(t, 0.0, familytest.ValueOf(t, v, "dispatch_status_request_failures_total{reason=decode}"))
		})
	}
}

func TestTargetExposition(t *testing.T) {
	t.Parallel()
	var logs dispatchtest.Logs
	p := newTestTarget(t, serve(t, 200, smithySample(t, "wedged-after-restart.json")), &logs).Probe(context.Background())
	require.NoError(t, testutil.CollectAndCompare(p, familytest.Golden(t, "wedged-after-restart.prom"), "dispatch_available_workers", "dispatch_daemon_available", "dispatch_daemon_reported_stale", "dispatch_daemon_running",
		"dispatch_poll_in_flight", "dispatch_poll_interval_seconds", "dispatch_poll_last_completed_seconds",
		"dispatch_poll_last_started_seconds", "dispatch_poll_stale", "dispatch_poll_stale_threshold_seconds",
		"dispatch_rate_limit_paused", "dispatch_ready_unassigned_tasks", "dispatch_status_request_failures_total",
		"dispatch_stuck_queue", "dispatch_up"))
	v := familytest.Values(t, p)
	assert.NotContains(t, v, "dispatch_rate_limit_soonest_reset_seconds", "absent when none")
	assert.NotContains(t, v, "dispatch_poll_cycles_total", "a status endpoint does not count cycles")
	assert.Contains(t, v, "dispatch_status_request_duration_seconds")
}

// statusAt is a running daemon's body at daemon time now (interval 5s)
// with a cycle that started a millisecond before completed and completed
// then (both offsets from t0 plus skew).
func statusAt(skew, now, completed time.Duration) string {
	at := func(d time.Duration) time.Time { return t0.Add(skew + d) }
	return runningStatus(at(now), 5*time.Second, at(completed-time.Millisecond), at(completed))
}

func TestTargetTurnsStaleWhenTheEndpointHangsForAThreshold(t *testing.T) {
	t.Parallel()
	for _, skew := range []time.Duration{0, 2 * time.Hour, -2 * time.Hour} {
		t.Run(fmt.Sprint("skew ", skew), func(t *testing.T) {
			t.Parallel()
			clock := dispatchtest.NewClock(t0)
			srv := dispatchtest.NewServer(t, statusAt(skew, 0, -time.Second))
			var logs dispatchtest.Logs
			tgt := newTestTarget(t, srv.URL, &logs, func(o *TargetOptions) { o.Now = clock.Now })

			v, st, _ := probe(t, tgt)
			require.Equal(t, 1.0, v["dispatch_up"])
			require.Equal(t, "healthy", string(st.State))

			srv.Hang() // the daemon's whole HTTP server hangs
			clock.Add(5 * time.Second)
			v, st, _ = probe(t, tgt) // the first unanswered request
			assert.Equal(t, 0.0, familytest.ValueOf(t, v, "dispatch_up"))
			assert.Equal(t, "down", string(st.State))
			assert.NotContains(t, v, "dispatch_stuck_queue", "the queue is unknown while down")

			clock.Add(59 * time.Second)
			v, st, _ = probe(t, tgt)
			require.Contains(t, v, "dispatch_poll_stale")
			assert.Equal(t, 0.0, familytest.ValueOf(t, v, "dispatch_poll_stale"), "hung 59s: it may be a new process starting")
			assert.Equal(t, "down", string(st.State), st.Reason)
			assert.False(t, st.Restart)

			clock.Add(2 * time.Second)
			v, st, _ = probe(t, tgt)
			assert.Equal(t, 0.0, familytest.ValueOf(t, v, "dispatch_up"))
			assert.Equal(t, 1.0, v["dispatch_poll_stale"], "hung 61s: stale although the endpoint hangs")
			assert.Equal(t, "wedged", string(st.State))
			assert.True(t, st.Restart)
			assert.Equal(t, 1, logs.Count(`msg="WEDGED`), logs.String())
		})
	}
}

func TestTargetConcurrentScrapesShareOneRequest(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		<-release
		fmt.Fprint(w, statusAt(0, 0, -time.Second))
	}))
	defer srv.Close()
	var logs dispatchtest.Logs
	tgt := newTestTarget(t, srv.URL, &logs, func(o *TargetOptions) { o.Timeout = 5 * time.Second })

	var wg sync.WaitGroup
	ups := make(chan float64, 10)
	for range 10 {
		wg.Go(func() { ups <- familytest.Values(t, tgt.Probe(context.Background()))["dispatch_up"] })
	}
	require.Eventually(t, func() bool { return hits.Load() == 1 }, 5*time.Second, time.Millisecond)
	time.Sleep(20 * time.Millisecond) // let the other nine join
	close(release)
	wg.Wait()
	close(ups)
	for up := range ups {
		assert.Equal(t, 1.0, up)
	}
	assert.Equal(t, int64(1), hits.Load(), "ten concurrent scrapes, one request")
}

func TestTargetScrapeDeadlineShorterThanTimeout(t *testing.T) {
	t.Parallel()
	var logs dispatchtest.Logs
	tgt := newTestTarget(t, hang(t), &logs, func(o *TargetOptions) { o.Timeout = 500 * time.Millisecond })
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	p := tgt.Probe(ctx)
	assert.Less(t, time.Since(start), 400*time.Millisecond, "the caller stops waiting at its own deadline")
	v := familytest.Values(t, p)
	assert.Equal(t, 0.0, familytest.ValueOf(t, v, "dispatch_up"))
	assert.Equal(t, 0.0, familytest.ValueOf(t, v, "dispatch_status_request_failures_total{reason=timeout}"), "the request goes on: not failed yet")
	assert.Equal(t, "unknown", string(p.State().State), "no evidence yet")
	require.Eventually(t, func() bool {
		return tgt.State().Error != "" && strings.Contains(tgt.State().Reason, "no answer")
	}, 2*time.Second, 10*time.Millisecond, "the request ends at the target's own timeout and decides")
}

// A caller with a short deadline (a liveness probe) starts the shared
// request; a scrape with a longer one joins it. The request runs under the
// target's timeout, not the first caller's deadline, so the scrape gets the
// answer that comes after the first caller gave up.
func TestTargetSharedRequestOutlivesTheCallerThatStartedIt(t *testing.T) {
	t.Parallel()
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		time.Sleep(300 * time.Millisecond)
		fmt.Fprint(w, statusAt(0, 0, -time.Second))
	}))
	defer srv.Close()
	var logs dispatchtest.Logs
	tgt := newTestTarget(t, srv.URL, &logs, func(o *TargetOptions) { o.Timeout = 2 * time.Second })

	short, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	first := make(chan Probe, 1)
	go func() { first <- tgt.Probe(short) }()
	require.Eventually(t, func() bool { return hits.Load() == 1 }, time.Second, time.Millisecond)
	long, cancel2 := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel2()
	v := familytest.Values(t, tgt.Probe(long))
	assert.Equal(t, 1.0, v["dispatch_up"], "the scrape gets the shared answer")
	assert.Equal(t, 0.0, familytest.ValueOf(t, familytest.Values(t, <-first), "dispatch_up"), "the short caller gave up")
	assert.Equal(t, int64(1), hits.Load(), "one request for both")
	assert.Equal(t, 0, logs.Count("status request failing"), logs.String())
}

// A client looping with a tiny scrape-timeout cannot make other scrapes
// fail: each tiny caller gives up alone, and the requests it starts end on
// the target's timeout, their answers serving the others.
func TestTargetTinyDeadlinesCannotFailOthers(t *testing.T) {
	t.Parallel()
	srv := slowServer(t, 20*time.Millisecond)
	var logs dispatchtest.Logs
	tgt := newTestTarget(t, srv.URL, &logs, func(o *TargetOptions) { o.Timeout = time.Second })
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
			tgt.Probe(ctx)
			cancel()
		}
	})
	for range 10 {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		v := familytest.Values(t, tgt.Probe(ctx))
		cancel()
		assert.Equal(t, 1.0, v["dispatch_up"])
	}
	close(stop)
	wg.Wait()
	assert.Equal(t, 0, logs.Count("status request failing"), logs.String())
}

func TestTargetOddStatusesLogOnce(t *testing.T) {
	t.Parallel()
	// A stamp an hour past computedAt at first sight (a clock stepped back
	// between them, before we looked): judged as after a step, by first
	// sightings; refused only if it persists without a step (see dispatch).
	future := runningStatus(t0, 5*time.Second, t0.Add(time.Hour), t0.Add(-time.Second))
	cases := map[string]struct {
		body, note string
		absent     []string
	}{
		"missing health":   {healthLessBody(), "health missing", []string{"dispatch_stuck_queue", "dispatch_poll_last_started_seconds"}},
		"future timestamp": {future, "health.computedAt is behind the cycle stamps at first sight", nil},
	}
	up := map[string]float64{"missing health": 0, "future timestamp": 1}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var logs dispatchtest.Logs
			tgt := newTestTarget(t, serve(t, 200, c.body), &logs)
			for range 3 {
				v, st, _ := probe(t, tgt)
				assert.Equal(t, up[name], familytest.ValueOf(t, v, "dispatch_up"), "a health-less answer is unusable")
				require.Contains(t, v, "dispatch_poll_stale")
				assert.Equal(t, 0.0, familytest.ValueOf(t, v, "dispatch_poll_stale"))
				assert.NotEqual(t, "wedged", string(st.State))
				for _, a := range c.absent {
					assert.NotContains(t, v, a)
				}
			}
			assert.Equal(t, 1, logs.Count(c.note), logs.String())
		})
	}
}

func TestTargetRecoversAndLogsOnce(t *testing.T) {
	t.Parallel()
	srv := dispatchtest.NewServer(t, "garbage")
	var logs dispatchtest.Logs
	tgt := newTestTarget(t, srv.URL, &logs)
	probe(t, tgt)
	probe(t, tgt)
	srv.Answer(statusAt(0, 0, -time.Second))
	v, _, _ := probe(t, tgt)
	probe(t, tgt)
	assert.Equal(t, 1.0, v["dispatch_up"])
	assert.Equal(t, 1, logs.Count("status request failing"))
	assert.Equal(t, 1, logs.Count("status readable again"))
}

// Status requests say who sends them, whatever client the target was given.
func TestTargetSendsItsUserAgent(t *testing.T) {
	t.Parallel()
	got := make(chan string, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.Header.Get("User-Agent")
		fmt.Fprint(w, statusAt(0, 0, -time.Second))
	}))
	defer srv.Close()
	var logs dispatchtest.Logs
	probe(t, newTestTarget(t, srv.URL, &logs))
	assert.True(t, strings.HasPrefix(<-got, "dispatch_exporter/"))
}

// With a few targets in a config file, status requests reuse their
// connections: a handshake per scrape costs more than an idle connection.
func TestFewTargetsKeepTheirConnections(t *testing.T) {
	t.Parallel()
	var conns atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, statusAt(0, 0, -time.Second))
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	targets := NewTargets(TargetDefaults{DisableKeepAlives: true})
	cfg := SingleTarget(srv.URL)
	require.NoError(t, targets.Apply(cfg))
	tgt, ok := targets.Get(DefaultTargetName)
	require.True(t, ok)
	for range 3 {
		require.Equal(t, 1.0, familytest.Values(t, tgt.Probe(context.Background()))["dispatch_up"])
	}
	assert.Equal(t, int64(1), conns.Load(), "three probes, one connection")
}

// A certificate the client does not trust is counted under tls, and is no
// evidence about the daemon's loop.
func TestTargetUntrustedCertificateIsTLS(t *testing.T) {
	t.Parallel()
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, statusAt(0, 0, -time.Second))
	}))
	defer srv.Close()
	var logs dispatchtest.Logs
	// A handshake under -race on a busy machine can take longer than the
	// other tests' 300ms timeout.
	v, st, _ := probe(t, newTestTarget(t, srv.URL, &logs, func(o *TargetOptions) { o.Timeout = 5 * time.Second }))
	assert.Equal(t, 1.0, v["dispatch_status_request_failures_total{reason=tls}"], v)
	assert.Equal(t, dispatch.EvidenceUnusable, st.Evidence)
}

// A daemon slower than the scrape's deadline but within the target's
// timeout: each scrape reports DOWN, the answers come after; that
// misconfiguration is said once, in the log, with what to change.
func TestTargetSlowerThanTheScrapeIsSaidOnce(t *testing.T) {
	t.Parallel()
	srv := slowServer(t, 150*time.Millisecond)
	var logs dispatchtest.Logs
	tgt := newTestTarget(t, srv.URL, &logs, func(o *TargetOptions) { o.Timeout = time.Second })
	for range 3 {
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		assert.Equal(t, 0.0, familytest.ValueOf(t, familytest.Values(t, tgt.Probe(ctx)), "dispatch_up"))
		cancel()
		require.Eventually(t, func() bool { return tgt.State().Up }, 2*time.Second, 10*time.Millisecond, "the request decides")
	}
	assert.Equal(t, 1, logs.Count("the status answered after a scrape stopped waiting"), logs.String())
	assert.Contains(t, logs.String(), "--target.timeout")
}
