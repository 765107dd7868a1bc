package handler

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/go-kit/log"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/exporter-toolkit/web"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/stoneforge/dispatch_exporter/collector/config"
	"github.com/stoneforge/dispatch_exporter/collector/family"
	"github.com/stoneforge/dispatch_exporter/collector/sidecar"
	"github.com/stoneforge/dispatch_exporter/dispatch/dispatchtest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var t0 = time.Date(2026, 11, 26, 21, 0, 0, 0, time.UTC)

// status is a running daemon's body at daemon time t0+now whose last cycle
// started at t0+started (nil: never) and completed a millisecond later.
func status(now time.Duration, started *time.Duration) string {
	ts := func(d time.Duration) string { return t0.Add(d).Format("2006-01-02T15:04:05.000Z") }
	cycle := ""
	if started != nil {
		cycle = fmt.Sprintf(`,"lastPollStartedAt":%q,"lastPollCompletedAt":%q`, ts(*started), ts(*started+time.Millisecond))
	}
	return fmt.Sprintf(`{"isRunning":true,"available":true,"config":{"pollIntervalMs":5000},"health":{"readyUnassignedTasks":0,"availableWorkers":1,"computedAt":%q%s}}`, ts(now), cycle)
}

func at(d time.Duration) *time.Duration { return &d }

type fixture struct {
	side   *Sidecar
	logs   *dispatchtest.Logs
	clock  *dispatchtest.Clock
	daemon *dispatchtest.Server
}

func newFixture(t *testing.T, names ...string) *fixture {
	t.Helper()
	f := &fixture{logs: &dispatchtest.Logs{}, clock: dispatchtest.NewClock(t0), daemon: dispatchtest.NewServer(t, "")}
	logger := log.NewLogfmtLogger(log.NewSyncWriter(f.logs))
	targets := sidecar.NewTargets(sidecar.TargetDefaults{Timeout: 200 * time.Millisecond, Logger: logger, Now: f.clock.Now})
	cfg := &config.Config{}
	for _, n := range names {
		one := sidecar.SingleTarget(f.daemon.URL)
		one.Targets[0].Name = n
		cfg.Targets = append(cfg.Targets, one.Targets[0])
	}
	require.NoError(t, targets.Apply(cfg))
	reg := prometheus.NewRegistry()
	reg.MustRegister(prometheus.NewGauge(prometheus.GaugeOpts{Name: "self_metric", Help: "The exporter's own."}))
	f.side = &Sidecar{Targets: targets, Self: reg, TimeoutOffset: 500 * time.Millisecond, LivenessTimeout: time.Second, Logger: logger,
		Now: f.clock.Now}
	return f
}

func get(t *testing.T, h http.HandlerFunc, url string, header ...string) (int, string) {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, url, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	h(rec, req)
	body, _ := io.ReadAll(rec.Body)
	return rec.Code, string(body)
}

func TestMetricsServesTheDefaultTarget(t *testing.T) {
	t.Parallel()
	f := newFixture(t, sidecar.DefaultTargetName)
	f.side.Default = sidecar.DefaultTargetName
	f.daemon.Answer(status(0, at(-time.Second)))
	code, body := get(t, f.side.Metrics, "/metrics")
	assert.Equal(t, 200, code)
	assert.Contains(t, body, "self_metric 0")
	assert.Contains(t, body, `dispatch_up{loop="dispatch"} 1`)
	assert.Contains(t, body, `dispatch_poll_stale{loop="dispatch"} 0`)
}

func TestProbe(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "a", "b")
	f.daemon.Answer(status(0, at(-time.Second)))

	code, body := get(t, f.side.Probe, "/probe?target=b")
	assert.Equal(t, 200, code)
	assert.Contains(t, body, `dispatch_up{loop="dispatch"} 1`)
	assert.NotContains(t, body, "self_metric", "a probe serves the target only")
	hits := f.daemon.Hits()

	code, body = get(t, f.side.Probe, "/probe?target=http://evil.example/")
	assert.Equal(t, 400, code)
	assert.Equal(t, "unknown target\n", body, "and nothing more: no configured name is given away")
	code, body = get(t, f.side.Probe, "/probe")
	assert.Equal(t, 400, code)
	assert.Equal(t, "target parameter is missing\n", body)
	assert.Equal(t, hits, f.daemon.Hits(), "unknown targets are never fetched")
}

func TestProbeHonoursTheScrapeTimeout(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "a")
	one := sidecar.SingleTarget(f.daemon.URL)
	one.Targets[0].Name = "a"
	targets := sidecar.NewTargets(sidecar.TargetDefaults{Timeout: time.Minute})
	require.NoError(t, targets.Apply(one))
	f.side.Targets = targets
	f.daemon.Hang()

	start := time.Now()
	code, body := get(t, f.side.Probe, "/probe?target=a", "X-Prometheus-Scrape-Timeout-Seconds", "0.8")
	took := time.Since(start)
	assert.Equal(t, 200, code)
	assert.Contains(t, body, `dispatch_up{loop="dispatch"} 0`)
	assert.Contains(t, body, `dispatch_status_request_failures_total{loop="dispatch",reason="timeout"} 0`, "the request goes on under the target's timeout")
	assert.Less(t, took, 800*time.Millisecond, "answers before Prometheus gives up")
	assert.GreaterOrEqual(t, took, 250*time.Millisecond, "0.8s minus the 0.5s offset")
}

func TestTargetHealthy(t *testing.T) {
	t.Parallel()
	for _, shadow := range []bool{false, true} {
		t.Run(fmt.Sprint("shadow=", shadow), func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, sidecar.DefaultTargetName)
			f.side.Default, f.side.LivenessShadow = sidecar.DefaultTargetName, shadow

			f.daemon.Answer(status(0, at(-time.Second)))
			code, body := get(t, f.side.TargetHealthy, "/-/target/healthy")
			assert.Equal(t, 200, code)
			assert.Contains(t, body, "default: healthy")

			f.clock.Add(61 * time.Second)                             // both clocks move: a daemon clock that jumped alone would be a step
			f.daemon.Answer(status(61*time.Second, at(-time.Second))) // answering, and wedged
			for range 3 {
				code, body = get(t, f.side.TargetHealthy, "/-/target/healthy")
				if shadow {
					assert.Equal(t, 200, code)
					assert.Contains(t, body, "(shadow mode: would restart)")
				} else {
					assert.Equal(t, 503, code)
					assert.Contains(t, body, "default: wedged")
				}
			}
			if shadow {
				assert.Equal(t, 1, strings.Count(f.logs.String(), "would ask for a restart"), "once per episode")
			} else {
				assert.Equal(t, 1, strings.Count(f.logs.String(), "liveness failing"), "once per episode")
			}
		})
	}
}

// TestTargetHealthyNeverLoopsOnASlowStartUp walks a kubelet restart of a
// wedged daemon: the probe must not fail again before the new process's
// grace has passed, however its start-up looks.
func TestTargetHealthyNeverLoopsOnASlowStartUp(t *testing.T) {
	t.Parallel()
	f := newFixture(t, sidecar.DefaultTargetName)
	f.side.Default = sidecar.DefaultTargetName
	healthy := func() int {
		code, _ := get(t, f.side.TargetHealthy, "/-/target/healthy")
		return code
	}

	f.daemon.Answer(status(0, at(-300*time.Second)))
	require.Equal(t, 503, healthy(), "wedged: restart it")

	// The kubelet kills it; the port is closed while the new process boots.
	ln := f.daemon.Listener
	addr := ln.Addr().String()
	f.daemon.Config.SetKeepAlivesEnabled(false)
	require.NoError(t, ln.Close())
	f.daemon.CloseClientConnections()
	for range 4 {
		f.clock.Add(10 * time.Second)
		assert.Equal(t, 200, healthy(), "refused: starting or gone, nothing to restart")
	}

	// It listens again but hangs while it starts, for less than the threshold.
	ln2, err := net.Listen("tcp", addr)
	require.NoError(t, err)
	f.daemon.Hang()
	go func() { _ = f.daemon.Config.Serve(ln2) }()
	t.Cleanup(func() { ln2.Close() })
	for range 5 {
		f.clock.Add(10 * time.Second)
		assert.Equal(t, 200, healthy(), "hung for less than the threshold since it went away")
	}

	// It answers: running, no cycle yet. After a restart request the
	// process that serves gets twice the threshold (120s) from when it
	// could first have started: the last refusal, 40s after the request.
	for s := 0; s < 60; s += 10 { // 100s to 150s after the request
		f.clock.Add(10 * time.Second)
		f.daemon.Answer(status(time.Duration(s)*time.Second+time.Hour, nil))
		assert.Equal(t, 200, healthy(), "grace, %ds in", s)
	}
	f.clock.Add(9 * time.Second) // 159s: 119s of grace
	f.daemon.Answer(status(59*time.Second+time.Hour, nil))
	assert.Equal(t, 200, healthy(), "grace, 119s since the last refusal")
	f.clock.Add(2 * time.Second) // 161s
	f.daemon.Answer(status(61*time.Second+time.Hour, nil))
	assert.Equal(t, 503, healthy(), "no cycle within its grace: a second request")
}

// The liveness endpoint fails open: a name it does not know (a config
// changed under a running pod), or none, answers 200 and says why, with one
// warning in the log a minute; the kubelet would restart a healthy daemon
// on a 400.
func TestTargetHealthyFailsOpen(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "a", "b")
	for range 3 {
		code, body := get(t, f.side.TargetHealthy, "/-/target/healthy?target=gone")
		assert.Equal(t, 200, code)
		assert.Contains(t, body, `unknown target "gone"`)
		assert.Contains(t, body, "fail open")
		assert.NotContains(t, body, "[a b]")
		code, body = get(t, f.side.TargetHealthy, "/-/target/healthy")
		assert.Equal(t, 200, code)
		assert.Contains(t, body, "no target given")
	}
	assert.Equal(t, 1, f.logs.Count(`problem="unknown target \"gone\""`), f.logs.String())
	assert.Equal(t, 1, f.logs.Count("no configured target"), "one line within the minute: %s", f.logs)
	f.clock.Add(time.Minute)
	get(t, f.side.TargetHealthy, "/-/target/healthy")
	assert.Equal(t, 1, f.logs.Count(`problem="no target given and no default target" requests_since_last_line=6`), f.logs.String())
	assert.Zero(t, f.daemon.Hits(), "nothing fetched")
}

// Answers that are not a usable status (401, 503 "starting", HTML) never
// ask for a restart however long they last: the process answers, and a
// restart cannot fix a 401.
func TestTargetHealthyNeverRestartsOnUnusableAnswers(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		code int
		body string
	}{{401, "unauthorized"}, {503, `{"error":"starting"}`}, {200, "<html>login</html>"}} {
		t.Run(fmt.Sprint(c.code), func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, sidecar.DefaultTargetName)
			f.side.Default = sidecar.DefaultTargetName
			f.daemon.Answer(status(0, at(-time.Second)))
			code, _ := get(t, f.side.TargetHealthy, "/-/target/healthy")
			require.Equal(t, 200, code)
			f.daemon.Reply(c.code, c.body)
			for range 12 {
				f.clock.Add(10 * time.Second)
				code, body := get(t, f.side.TargetHealthy, "/-/target/healthy")
				require.Equal(t, 200, code, body)
				require.Contains(t, body, "default: down:", body)
			}
			_, body := get(t, f.side.Probe, "/probe?target=default")
			assert.Contains(t, body, `dispatch_poll_stale{loop="dispatch"} 0`)
			assert.Equal(t, 0, f.logs.Count("WEDGED"), f.logs.String())
		})
	}
}

func TestLandingShowsStatesEscaped(t *testing.T) {
	t.Parallel()
	asked := 0
	states := func(context.Context) []family.LoopState {
		asked++
		return []family.LoopState{
			{Name: "a", Up: true, State: "wedged", Since: t0, SinceCompleted: 90 * time.Second, Reason: "cycle in flight"},
			{Name: "b", State: "down", Error: `<script>alert("x")</script>`},
		}
	}
	h := Landing(web.LandingConfig{Name: "dispatch_exporter", Links: []web.LandingLinks{{Address: "/metrics", Text: "Metrics"}}}, states)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	body := rec.Body.String()
	assert.Equal(t, 200, rec.Code)
	assert.Contains(t, body, `<td class="state-wedged"><b>WEDGED</b></td><td>now</td><td>2026-11-26T21:00:00Z</td><td>1m30s</td>`)
	assert.Contains(t, body, `&lt;script&gt;`)
	assert.NotContains(t, body, `<script>alert`)
	assert.Contains(t, body, `href="/metrics"`)
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/nope", nil))
	assert.Equal(t, 404, rec.Code)
	assert.Equal(t, 1, asked, "only the page itself asks for the states (which may read daemons), not a 404")
}

// The landing page shows each target's decision with when it was taken and
// how long ago; before the first probe a target is UNKNOWN, not DOWN; a
// stuck queue says what waits and since when.
func TestLandingShowsAsOfUnknownAndStuck(t *testing.T) {
	t.Parallel()
	f := newFixture(t, sidecar.DefaultTargetName)
	f.side.Default = sidecar.DefaultTargetName
	page := func() string {
		h := Landing(web.LandingConfig{Name: "dispatch_exporter"}, func(context.Context) []family.LoopState { return f.side.Targets.States() })
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
		return rec.Body.String()
	}
	body := page()
	assert.Contains(t, body, `<td class="state-unknown"><b>UNKNOWN</b></td>`, "not probed yet is not down")
	assert.NotContains(t, body, `class="state-down"`)
	assert.NotContains(t, body, "<td>down</td>")
	assert.Zero(t, f.daemon.Hits(), "the page itself does not probe")

	stuck := strings.Replace(status(0, at(-time.Second)), `"readyUnassignedTasks":0,"availableWorkers":1`, `"readyUnassignedTasks":3,"availableWorkers":0`, 1)
	f.daemon.Answer(stuck)
	get(t, f.side.Metrics, "/metrics")
	body = page()
	assert.Contains(t, body, `<td class="state-stuck"><b>STUCK</b></td><td>2026-11-26T21:00:00Z (`, "as of the probe, on our clock, with its age")
	assert.Contains(t, body, "3 ready, 0 available worker(s); stuck since 2026-11-26T21:00:00Z")
}

func TestReload(t *testing.T) {
	t.Parallel()
	calls := 0
	var fail error
	h := Reload(func() error {
		calls++
		return fail
	})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/-/reload", nil))
	assert.Equal(t, 405, rec.Code)
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/-/reload", nil))
	assert.Equal(t, 200, rec.Code)
	fail = fmt.Errorf("line 1: target a: bad")
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/-/reload", nil))
	assert.Equal(t, 500, rec.Code)
	assert.Contains(t, rec.Body.String(), "line 1: target a: bad")
	fail = sidecar.ErrNoConfigFile
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/-/reload", nil))
	assert.Equal(t, 400, rec.Code, "flag mode: nothing to reload")
	assert.Contains(t, rec.Body.String(), "no --config.file to reload")
	assert.NotContains(t, rec.Body.String(), "reloaded")
	assert.Equal(t, 3, calls)
}

// A family the exporter's registry and the default target's probe both
// hold is merged into one, as prometheus.Gatherers merges it.
func TestMetricsWithAFamilyInBoth(t *testing.T) {
	t.Parallel()
	f := newFixture(t, sidecar.DefaultTargetName)
	f.side.Default = sidecar.DefaultTargetName
	f.daemon.Answer(status(0, at(-time.Second)))
	self := prometheus.NewRegistry()
	up := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "dispatch_up",
		Help: "1 when the loop's state could be read: always 1 in process; for a sidecar, 1 only when the status request of this scrape returned a usable status."}, []string{"loop"})
	up.WithLabelValues("other").Set(1)
	self.MustRegister(up)
	f.side.Self = self
	code, body := get(t, f.side.Metrics, "/metrics")
	assert.Equal(t, 200, code)
	assert.Equal(t, 1, strings.Count(body, "# TYPE dispatch_up gauge"), body)
	assert.Contains(t, body, "dispatch_up{loop=\"dispatch\"} 1\ndispatch_up{loop=\"other\"} 1\n")
}

// What the exporter's own metrics fail to gather is logged and left out;
// the rest, the target's series among them, is served (ContinueOnError).
func TestMetricsServesWhatCanBeGathered(t *testing.T) {
	t.Parallel()
	f := newFixture(t, sidecar.DefaultTargetName)
	f.side.Default = sidecar.DefaultTargetName
	f.daemon.Answer(status(0, at(-time.Second)))
	desc := prometheus.NewDesc("broken", "A broken metric.", nil, nil)
	self := prometheus.NewRegistry()
	self.MustRegister(prometheus.NewGauge(prometheus.GaugeOpts{Name: "self_metric", Help: "The exporter's own."}),
		collectorFunc(func(ch chan<- prometheus.Metric) { ch <- prometheus.NewInvalidMetric(desc, assert.AnError) }))
	f.side.Self = self
	code, body := get(t, f.side.Metrics, "/metrics")
	assert.Equal(t, 200, code)
	assert.Contains(t, body, "self_metric 0\n")
	assert.Contains(t, body, `dispatch_up{loop="dispatch"} 1`)
	assert.NotContains(t, body, "broken")
	assert.Equal(t, 1, f.logs.Count("error gathering metrics"), f.logs.String())
}

// collectorFunc is an unchecked collector (it describes nothing).
type collectorFunc func(chan<- prometheus.Metric)

func (collectorFunc) Describe(chan<- *prometheus.Desc)      {}
func (f collectorFunc) Collect(ch chan<- prometheus.Metric) { f(ch) }
