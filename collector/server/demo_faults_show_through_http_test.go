package server

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The demo's landing page tells how to inject faults at the address the
// exporter listens on, not a fixed localhost:9847.
func TestDemoHelpNamesTheListenAddress(t *testing.T) {
	t.Parallel()
	e := startExporter(t, "--demo")
	_, body := httpGet(t, e.url("/"))
	assert.Contains(t, body, "curl -XPOST "+e.addr+"/demo/wedge")
	assert.NotContains(t, body, "localhost:9847")
	assert.Equal(t, "localhost:9847/", demoHelp(":9847")[strings.Index(demoHelp(":9847"), "localhost"):][:15])
}

func TestDemoWedgeAndStuckThroughHTTP(t *testing.T) {
	t.Parallel()
	dumps := t.TempDir()
	e := startExporter(t, "--demo", "--demo.poll-interval=50ms", "--poll.stale-threshold=500ms", "--watchdog.stack-dump-dir="+dumps)

	var body string
	require.Eventually(t, func() bool {
		_, body = httpGet(t, e.url("/metrics"))
		ok := metric(body, `dispatch_poll_cycles_total{loop="dispatch",result="ok"}`)
		return ok != "" && ok != "0" // the series exists, and counts a cycle
	}, 10*time.Second, 10*time.Millisecond, "a first cycle")
	for _, family := range []string{"dispatch_poll_last_started_seconds", "dispatch_poll_last_completed_seconds", "dispatch_poll_in_flight",
		"dispatch_poll_stale", "dispatch_poll_stale_threshold_seconds", "dispatch_poll_interval_seconds", "dispatch_stuck_queue",
		"dispatch_ready_unassigned_tasks", "dispatch_available_workers", "dispatch_daemon_running", "dispatch_up",
		"dispatch_poll_cycles_total", "dispatch_poll_cycle_duration_seconds", "dispatch_exporter_build_info"} {
		assert.Contains(t, body, "# TYPE "+family+" ", family)
	}
	assert.Equal(t, "0", metric(body, `dispatch_poll_stale{loop="dispatch"}`))

	code, _ := httpPost(t, e.url("/demo/wedge?phase=task-assignment"))
	require.Equal(t, 202, code)
	require.Eventually(t, func() bool {
		start := time.Now()
		_, body := httpGet(t, e.url("/metrics"))
		assert.Less(t, time.Since(start), time.Second, "/metrics answers promptly while the loop is blocked")
		return metric(body, `dispatch_poll_stale{loop="dispatch"}`) == "1"
	}, 10*time.Second, 50*time.Millisecond)
	require.Eventually(t, func() bool { return e.logs.Count("goroutine stacks at WEDGED written") == 1 }, 5*time.Second, 10*time.Millisecond)
	time.Sleep(300 * time.Millisecond) // several watchdog ticks
	assert.Equal(t, 1, e.logs.Count("WEDGED: no cycle completed for"), e.logs.String())
	assert.Contains(t, e.logs.String(), "in phase task-assignment")
	files, _ := filepath.Glob(filepath.Join(dumps, "wedged-dispatch-*.txt"))
	assert.Len(t, files, 1)

	_, landing := httpGet(t, e.url("/"))
	assert.Contains(t, landing, "<b>WEDGED</b>")

	code, _ = httpPost(t, e.url("/demo/unwedge"))
	require.Equal(t, 200, code)
	require.Eventually(t, func() bool {
		_, body := httpGet(t, e.url("/metrics"))
		return metric(body, `dispatch_poll_stale{loop="dispatch"}`) == "0"
	}, 10*time.Second, 20*time.Millisecond)

	httpPost(t, e.url("/demo/workers?n=0"))
	httpPost(t, e.url("/demo/tasks?n=2"))
	require.Eventually(t, func() bool {
		_, body := httpGet(t, e.url("/metrics"))
		return metric(body, `dispatch_stuck_queue{loop="dispatch"}`) == "1"
	}, 10*time.Second, 20*time.Millisecond)
	require.Eventually(t, func() bool { return e.logs.Count("STUCK: ") == 1 }, 5*time.Second, 10*time.Millisecond)
	time.Sleep(300 * time.Millisecond)
	assert.Equal(t, 1, e.logs.Count("STUCK: "), "logged once, not per tick")
	assert.Equal(t, 1, e.logs.Count("RECOVERED"))
}

func TestDemoStopAndStart(t *testing.T) {
	t.Parallel()
	e := startExporter(t, "--demo", "--demo.poll-interval=50ms", "--poll.stale-threshold=300ms")
	code, _ := httpPost(t, e.url("/demo/stop"))
	require.Equal(t, 200, code)
	time.Sleep(500 * time.Millisecond) // past the threshold
	_, body := httpGet(t, e.url("/metrics"))
	assert.Equal(t, "0", metric(body, `dispatch_daemon_running{loop="dispatch"}`))
	assert.Equal(t, "0", metric(body, `dispatch_poll_stale{loop="dispatch"}`), "stopped is never stale")
	code, _ = httpPost(t, e.url("/demo/start"))
	require.Equal(t, 200, code)
	code, _ = httpPost(t, e.url("/demo/start"))
	assert.Equal(t, 409, code)
	code, _ = httpGet(t, e.url("/demo/start"))
	assert.Equal(t, 405, code, "fault injection takes POST only")
	code, _ = httpPost(t, e.url("/demo/workers?n=-1"))
	assert.Equal(t, 400, code)
	code, body = httpGet(t, e.url("/api/daemon/status"))
	assert.Equal(t, 200, code)
	assert.Contains(t, body, `"isRunning":true`)
}

func TestSidecarAgainstTheDemo(t *testing.T) {
	t.Parallel()
	d := startExporter(t, "--demo", "--demo.poll-interval=50ms", "--poll.stale-threshold=400ms")
	s := startExporter(t, "--target.url="+d.url("/api/daemon/status"), "--target.timeout=1s")

	_, body := httpGet(t, s.url("/metrics"))
	assert.Equal(t, "1", metric(body, `dispatch_up{loop="dispatch"}`), body)
	assert.Equal(t, "0.4", metric(body, `dispatch_poll_stale_threshold_seconds{loop="dispatch"}`), "the demo's threshold, from its status")
	code, _ := httpGet(t, s.url("/-/target/healthy"))
	assert.Equal(t, 200, code)

	httpPost(t, d.url("/demo/wedge"))
	require.Eventually(t, func() bool {
		_, body := httpGet(t, s.url("/metrics"))
		return metric(body, `dispatch_poll_stale{loop="dispatch"}`) == "1"
	}, 10*time.Second, 50*time.Millisecond)
	code, _ = httpGet(t, s.url("/-/target/healthy"))
	assert.Equal(t, 503, code)
	_, landing := httpGet(t, s.url("/"))
	assert.Contains(t, landing, "<b>WEDGED</b>")
	httpPost(t, d.url("/demo/unwedge"))
}
