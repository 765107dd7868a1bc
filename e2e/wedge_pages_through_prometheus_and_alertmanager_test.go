package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v2"

	"github.com/stoneforge/dispatch_exporter/dashboards"
)

// The end-to-end test runs the real thing on 127.0.0.1: the exporter binary
// twice (--demo, and a sidecar watching the demo's status endpoint), a real
// Prometheus scraping both and evaluating alerts/dispatch.rules.yml, a real
// Alertmanager with alerts/alertmanager.yml's routing and inhibition, and a
// webhook receiver here. Rules keep their expressions; their for: durations
// are cut 60-fold (1m becomes 1s) so the test takes seconds, not hours.

// webhook records Alertmanager notifications.
type webhook struct {
	mu    sync.Mutex
	got   []notification
	srv   *httptest.Server
	paths []string
}

type notification struct {
	Receiver string    `json:"receiver"`
	Status   string    `json:"status"`
	Alerts   []alert   `json:"alerts"`
	At       time.Time `json:"-"` // when it arrived
}

type alert struct {
	Status      string            `json:"status"`
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
}

func newWebhook(t testing.TB) *webhook {
	w := &webhook{}
	w.srv = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		var n notification
		if err := json.NewDecoder(r.Body).Decode(&n); err != nil {
			t.Errorf("webhook: %v", err)
		}
		n.At = time.Now()
		w.mu.Lock()
		w.got = append(w.got, n)
		w.paths = append(w.paths, r.URL.Path)
		w.mu.Unlock()
	}))
	t.Cleanup(w.srv.Close)
	return w
}

// received reports whether a notification carried alertname for instance
// in status ("firing" or "resolved"), and on which receiver.
func (w *webhook) received(alertname, instance, status string) (string, bool) {
	n, ok := w.first(alertname, instance, status, time.Time{})
	return n.Receiver, ok
}

// first is the first such notification that arrived after since.
func (w *webhook) first(alertname, instance, status string, since time.Time) (notification, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, n := range w.got {
		for _, a := range n.Alerts {
			if a.Labels["alertname"] == alertname && a.Labels["instance"] == instance && a.Status == status && n.At.After(since) {
				return n, true
			}
		}
	}
	return notification{}, false
}

func (w *webhook) alertnames() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []string
	for _, n := range w.got {
		for _, a := range n.Alerts {
			out = append(out, a.Labels["alertname"]+"/"+a.Labels["instance"]+"/"+a.Status)
		}
	}
	return out
}

// promQuery runs an instant query and returns the result vector.
func promQuery(t testing.TB, prom, query string) ([]map[string]any, error) {
	t.Helper()
	resp, err := http.Get(prom + "/api/v1/query?query=" + url.QueryEscape(query))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var body struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			ResultType string           `json:"resultType"`
			Result     []map[string]any `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return nil, err
	}
	if body.Status != "success" {
		return nil, fmt.Errorf("%s: %s", query, body.Error)
	}
	return body.Data.Result, nil
}

// fastRules is alerts/dispatch.rules.yml with every for: cut 60-fold.
func fastRules(t testing.TB, dir string) string {
	t.Helper()
	b, err := os.ReadFile(rulesFile)
	require.NoError(t, err)
	fast := regexp.MustCompile(`(?m)^(\s+for: )(\d+)m$`).ReplaceAll(b, []byte("${1}${2}s"))
	require.NotEqual(t, string(b), string(fast))
	path := filepath.Join(dir, "dispatch.rules.yml")
	require.NoError(t, os.WriteFile(path, fast, 0o644))
	return path
}

// testAlertmanagerConfig is alerts/alertmanager.yml, routing and inhibition
// untouched, with fast grouping and every receiver pointed at the webhook.
func testAlertmanagerConfig(t testing.TB, dir, webhookURL string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "alerts", "alertmanager.yml"))
	require.NoError(t, err)
	var cfg map[string]any
	require.NoError(t, yaml.Unmarshal(b, &cfg))
	route := cfg["route"].(map[any]any)
	route["group_wait"], route["group_interval"] = "1s", "1s"
	s, err := yaml.Marshal(cfg)
	require.NoError(t, err)
	out := regexp.MustCompile(`http://127\.0\.0\.1:5001`).ReplaceAll(s, []byte(webhookURL))
	path := filepath.Join(dir, "alertmanager.yml")
	require.NoError(t, os.WriteFile(path, out, 0o644))
	return path
}

// stack is the whole setup on 127.0.0.1: the demo, a sidecar watching it,
// Prometheus scraping both every second with the rules loaded, and
// Alertmanager notifying the webhook.
type stack struct {
	demoAddr, sideAddr   string
	demoURL, prom, amURL string
	hook                 *webhook
	// fake is a daemon the test drives into the states the demo cannot
	// show (unusable answers, a whole-server hang, gone); fakeAddr is the
	// sidecar watching it.
	fake     *scriptedDaemon
	fakeAddr string
}

// instances are the two exporters' instance labels.
func (s *stack) instances() []string { return []string{s.demoAddr, s.sideAddr} }

func (s *stack) post(t testing.TB, path string) {
	t.Helper()
	resp, err := http.Post(s.demoURL+path, "", nil)
	require.NoError(t, err)
	resp.Body.Close()
	require.Less(t, resp.StatusCode, 300, "POST %s", path)
}

// startStack starts everything, or skips when the binaries are not
// installed (`make test` installs them).
func startStack(t testing.TB, threshold string) *stack {
	t.Helper()
	prometheus, alertmanager := os.Getenv("PROMETHEUS"), os.Getenv("ALERTMANAGER")
	if prometheus == "" || alertmanager == "" {
		t.Skip("PROMETHEUS and ALERTMANAGER not set: `make test` installs them and runs this")
	}
	if testing.Short() {
		t.Skip("-short")
	}
	dir := t.TempDir()
	bin := buildExporter(t)

	demoAddr, sideAddr, amAddr, promAddr := freeAddr(t), freeAddr(t), freeAddr(t), freeAddr(t)
	s := &stack{demoAddr: demoAddr, sideAddr: sideAddr, demoURL: "http://" + demoAddr, prom: "http://" + promAddr, amURL: "http://" + amAddr}
	startProc(t, "demo", bin, "--demo", "--demo.poll-interval=200ms", "--poll.stale-threshold="+threshold, "--web.listen-address="+demoAddr)
	waitHTTP(t, s.demoURL+"/-/ready")
	sideURL := "http://" + sideAddr
	// Prometheus scrapes with a 900ms timeout here; leave the status request
	// 800ms of it, not the default 400ms, on a machine busy with other tests.
	startProc(t, "sidecar", bin, "--target.url="+s.demoURL+"/api/daemon/status", "--target.timeout=1s", "--target.timeout-offset=100ms", "--web.listen-address="+sideAddr)
	waitHTTP(t, sideURL+"/-/ready")
	s.fake, s.fakeAddr = newScriptedDaemon(t), freeAddr(t)
	// Its liveness endpoint makes one restart request of two 503s, then
	// gives up: what a kubelet that restarts nothing sees, in seconds.
	startProc(t, "sidecar-fake", bin, "--target.url="+s.fake.url, "--poll.stale-threshold="+threshold,
		"--target.timeout=1s", "--target.timeout-offset=100ms", "--web.listen-address="+s.fakeAddr,
		"--liveness.failure-threshold=2", "--liveness.restart-budget=1")
	waitHTTP(t, "http://"+s.fakeAddr+"/-/ready")

	s.hook = newWebhook(t)
	startProc(t, "alertmanager", alertmanager,
		"--config.file="+testAlertmanagerConfig(t, dir, s.hook.srv.URL),
		"--storage.path="+filepath.Join(dir, "am"),
		"--web.listen-address="+amAddr,
		"--cluster.listen-address=")
	waitHTTP(t, s.amURL+"/-/ready")
	// Prometheus starts scraping first and loads the rules once it has data:
	// its target discovery takes up to 5s at start-up, longer than the
	// scaled-down for: of DispatchExporterAbsent (3m in production).
	promConfig := filepath.Join(dir, "prometheus.yml")
	writePromConfig := func(rules string) {
		require.NoError(t, os.WriteFile(promConfig, fmt.Appendf(nil, `global:
  scrape_interval: 1s
  scrape_timeout: 900ms
  evaluation_interval: 1s
rule_files: [%s]
alerting:
  alertmanagers:
    - static_configs: [{targets: [%q]}]
scrape_configs:
  - job_name: dispatch
    static_configs: [{targets: [%q, %q, %q]}]
`, rules, amAddr, demoAddr, sideAddr, s.fakeAddr), 0o644))
	}
	writePromConfig("")
	startProc(t, "prometheus", prometheus,
		"--config.file="+promConfig,
		"--storage.tsdb.path="+filepath.Join(dir, "tsdb"),
		"--web.listen-address="+promAddr,
		"--web.enable-lifecycle")
	waitHTTP(t, s.prom+"/-/ready")

	eventually := func(cond func() bool, what string) {
		t.Helper()
		require.Eventually(t, cond, 60*time.Second, 200*time.Millisecond, "%s; notifications so far: %v", what, s.hook.alertnames())
	}
	eventually(func() bool {
		r, err := promQuery(t, s.prom, `count(dispatch_up == 1) == 3 and count(rate(dispatch_poll_cycles_total[1m]) > 0) > 0`)
		return err == nil && len(r) == 1
	}, "both exporters scraped a few times")
	writePromConfig(fmt.Sprintf("%q", fastRules(t, dir)))
	resp, err := http.Post(s.prom+"/-/reload", "", nil)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, 200, resp.StatusCode, "prometheus reload")
	eventually(func() bool {
		resp, err := http.Get(s.prom + "/api/v1/rules?type=alert")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		var body struct {
			Data struct {
				Groups []struct {
					Rules []any `json:"rules"`
				} `json:"groups"`
			} `json:"data"`
		}
		return json.NewDecoder(resp.Body).Decode(&body) == nil && len(body.Data.Groups) == 1 && len(body.Data.Groups[0].Rules) > 5
	}, "rules loaded")

	return s
}

// TestEndToEnd: a wedge of the demo's loop, seen in process and by a
// sidecar, pages through real Prometheus and Alertmanager (a stuck queue
// warns and is inhibited by the wedge); the scripted daemon's 401, hang,
// unanswered restarts and outage page, warn or stay silent as the rules
// say; the dashboard's panels have data while all is well.
func TestEndToEnd(t *testing.T) {
	t.Parallel()
	s := startStack(t, "3s")
	prom, hook, amURL, instances := s.prom, s.hook, s.amURL, s.instances()
	eventually := func(cond func() bool, what string) {
		t.Helper()
		require.Eventually(t, cond, 90*time.Second, 200*time.Millisecond, "%s; notifications so far: %v", what, hook.alertnames())
	}

	// Healthy: both targets up, every panel of the dashboard has data, and
	// nothing fires.
	time.Sleep(3 * time.Second) // long enough for any scaled for: to pass
	d, err := dashboards.Dispatch()
	require.NoError(t, err)
	for title, queries := range dashboards.PanelQueries(d) {
		for _, q := range queries {
			r, err := promQuery(t, prom, dashboards.Expand(q))
			assert.NoError(t, err, "panel %q", title)
			if q == dashboards.StuckReadyTasksQuery() {
				assert.Empty(t, r, "no queue is stuck yet, nothing is amber")
				continue // has data once the queue is stuck, below
			}
			assert.NotEmpty(t, r, "panel %q returns no data while the demo runs: %s", title, q)
		}
	}
	r, err := promQuery(t, prom, `ALERTS{alertstate="firing"}`)
	require.NoError(t, err)
	assert.Empty(t, r, "healthy: nothing fires")
	assert.Empty(t, hook.alertnames(), "healthy: nothing notifies")

	// No workers: the queue is stuck, a warning reaches the webhook for
	// both the in-process and the sidecar view.
	s.post(t, "/demo/workers?n=0")
	s.post(t, "/demo/tasks?n=2")
	for _, inst := range instances {
		eventually(func() bool { _, ok := hook.received("DispatchQueueStuck", inst, "firing"); return ok }, "stuck reaches the webhook for "+inst)
		receiver, _ := hook.received("DispatchQueueStuck", inst, "firing")
		assert.Equal(t, "dispatch-chat", receiver, "warnings route to chat")
	}
	r, err = promQuery(t, prom, dashboards.Expand(dashboards.StuckReadyTasksQuery()))
	require.NoError(t, err)
	amber := map[any]bool{}
	for _, series := range r {
		amber[series["metric"].(map[string]any)["instance"]] = series["value"].([]any)[1] != "0"
	}
	assert.Equal(t, map[any]bool{s.demoAddr: true, s.sideAddr: true}, amber, "the Ready tasks tile counts the stuck queue's waiting tasks in amber")

	// Wedge: the critical page reaches the webhook, and the stuck warning is
	// inhibited for the same loop (wedged wins).
	s.post(t, "/demo/wedge")
	for _, inst := range instances {
		eventually(func() bool { _, ok := hook.received("DispatchDaemonWedged", inst, "firing"); return ok }, "wedged reaches the webhook for "+inst)
		receiver, _ := hook.received("DispatchDaemonWedged", inst, "firing")
		assert.Equal(t, "dispatch-pager", receiver, "critical routes to the pager")
	}
	eventually(func() bool {
		inhibited := amAlerts(t, amURL, "active=false&silenced=false&inhibited=true")
		n := 0
		for _, a := range inhibited {
			if a.Labels["alertname"] == "DispatchQueueStuck" && a.Status.State == "suppressed" && len(a.Status.InhibitedBy) > 0 {
				n++
			}
		}
		return n == len(instances)
	}, "DispatchQueueStuck inhibited by DispatchDaemonWedged, for each instance")
	r, err = promQuery(t, prom, dashboards.Expand(dashboards.AnnotationQuery()))
	require.NoError(t, err)
	assert.NotEmpty(t, r, "the dashboard's alert annotations have something to show")
	r, err = promQuery(t, prom, dashboards.Expand(dashboards.StateQuery()))
	require.NoError(t, err)
	banner := map[any]any{}
	for _, series := range r {
		if inst := series["metric"].(map[string]any)["instance"]; inst != s.fakeAddr {
			banner[inst] = series["value"].([]any)[1]
		}
	}
	assert.Equal(t, map[any]any{s.demoAddr: "3", s.sideAddr: "3"}, banner, "the banner panel says WEDGED (3) for both views of the wedged loop")

	// Unwedge and give a worker back: resolved notifications arrive.
	s.post(t, "/demo/unwedge")
	s.post(t, "/demo/workers?n=2")
	for _, inst := range instances {
		eventually(func() bool { _, ok := hook.received("DispatchDaemonWedged", inst, "resolved"); return ok }, "wedged resolves for "+inst)
		eventually(func() bool { _, ok := hook.received("DispatchQueueStuck", inst, "resolved"); return ok }, "stuck resolves for "+inst)
	}
	for _, n := range hook.alertnames() {
		assert.Regexp(t, `^Dispatch(DaemonWedged|QueueStuck)/`, n, "no other alert fired")
	}

	// The fake daemon, through the evidence model, as Alertmanager sees it.
	fake := s.fakeAddr
	firing := func(alertname string) bool {
		r, err := promQuery(t, prom, fmt.Sprintf(`ALERTS{alertstate="firing",alertname=%q,instance=%q}`, alertname, fake))
		require.NoError(t, err, "a failed query is no evidence that %s is not firing", alertname)
		return len(r) > 0
	}
	staleNow := func() float64 {
		r, err := promQuery(t, prom, fmt.Sprintf(`dispatch_poll_stale{instance=%q}`, fake))
		require.NoError(t, err)
		require.Len(t, r, 1, "dispatch_poll_stale exists for the fake daemon")
		v, err := strconv.ParseFloat(r[0]["value"].([]any)[1].(string), 64)
		require.NoError(t, err)
		return v
	}

	// It answers 401 for much longer than the threshold: DOWN, a warning
	// to chat; never stale, never the wedge page.
	s.fake.set(scriptedUnauthorized)
	eventually(func() bool { _, ok := hook.received("DispatchStatusDown", fake, "firing"); return ok }, "401: status down reaches the webhook")
	receiver, _ := hook.received("DispatchStatusDown", fake, "firing")
	assert.Equal(t, "dispatch-chat", receiver, "down warns in chat")
	time.Sleep(5 * time.Second) // > the 3s threshold and the wedge alert's scaled for:
	assert.Equal(t, 0.0, staleNow(), "a 401 is no evidence of a hang")
	assert.False(t, firing("DispatchDaemonWedged"), "DOWN does not page as wedged")
	r, err = promQuery(t, prom, dashboards.Expand(dashboards.StateQuery()))
	require.NoError(t, err)
	tile := map[any]string{}
	for _, series := range r {
		m := series["metric"].(map[string]any)
		tile[m["instance"]] = series["value"].([]any)[1].(string)
	}
	assert.Equal(t, "2", tile[fake], "the State tile says DOWN (2) for the loop whose status is refused: %v", tile)

	// Healthy again, then the whole HTTP server hangs: judged wedged from
	// the last usable status; the pager gets the wedge, and the down alerts
	// of the same loop are inhibited (wedged wins).
	s.fake.set(scriptedHealthy)
	eventually(func() bool { _, ok := hook.received("DispatchStatusDown", fake, "resolved"); return ok }, "status down resolves")
	s.fake.set(scriptedHang)
	eventually(func() bool { _, ok := hook.received("DispatchDaemonWedged", fake, "firing"); return ok }, "a hang pages as wedged")
	receiver, _ = hook.received("DispatchDaemonWedged", fake, "firing")
	assert.Equal(t, "dispatch-pager", receiver)
	eventually(func() bool {
		for _, a := range amAlerts(t, amURL, "active=false&silenced=false&inhibited=true") {
			if a.Labels["alertname"] == "DispatchStatusDown" && a.Labels["instance"] == fake && len(a.Status.InhibitedBy) > 0 {
				return true
			}
		}
		return false
	}, "DispatchStatusDown inhibited by DispatchDaemonWedged")

	// A kubelet probes the daemon's liveness every 250ms and restarts
	// nothing: the one request of the budget goes unanswered, liveness stops
	// asking, and DispatchRestartsNotHelping pages a person while the wedge
	// goes on paging (not inhibited: automation gave up).
	probing, stopProbing := context.WithCancel(context.Background())
	probed := make(chan []int, 1)
	go func() {
		var codes []int
		defer func() { probed <- codes }()
		client := &http.Client{Timeout: 3 * time.Second}
		for probing.Err() == nil {
			if resp, err := client.Get("http://" + fake + "/-/target/healthy"); err == nil {
				resp.Body.Close()
				codes = append(codes, resp.StatusCode)
			}
			select {
			case <-probing.Done():
			case <-time.After(250 * time.Millisecond):
			}
		}
	}()
	eventually(func() bool {
		n, ok := hook.received("DispatchRestartsNotHelping", fake, "firing")
		return ok && n == "dispatch-pager"
	}, "restarts that do not help page a person")
	assert.True(t, firing("DispatchDaemonWedged"), "the wedge still pages: dispatch is not happening")
	stopProbing()
	codes := <-probed
	require.Contains(t, codes, 503, "liveness asked for a restart")
	assert.Equal(t, 200, codes[len(codes)-1], "then stopped asking: the budget is spent")

	// Gone (connection refused): nothing is known of a process that does
	// not listen, so the wedge verdict ends; but a stop is not a recovery:
	// the page goes on as DispatchDaemonWedgedUnwatched, to the pager,
	// until a usable status shows the loop running, and it inhibits the
	// outage alerts of the same loop.
	gone := time.Now()
	s.fake.set(scriptedGone)
	eventually(func() bool { return staleNow() == 0 }, "refused: no longer stale")
	eventually(func() bool { _, ok := hook.received("DispatchDaemonWedged", fake, "resolved"); return ok }, "the wedge resolves")
	eventually(func() bool {
		n, ok := hook.first("DispatchDaemonWedgedUnwatched", fake, "firing", gone)
		return ok && n.Receiver == "dispatch-pager"
	}, "the page goes on while the loop is not seen running")
	_, unwatchedResolved := hook.received("DispatchDaemonWedgedUnwatched", fake, "resolved")
	assert.False(t, unwatchedResolved, "a refusal is no evidence the loop runs")
	assert.False(t, firing("DispatchDaemonWedged"), "gone is DOWN, not wedged")
	_, refiring := hook.first("DispatchDaemonWedged", fake, "firing", gone.Add(5*time.Second))
	assert.False(t, refiring, "no wedge page while the daemon is gone")
}

// scriptedDaemon is a real smithy status endpoint on 127.0.0.1 whose
// behaviour the test switches (healthy, 401, a whole-server hang, gone);
// unlike the harm simulation's daemon, which answers on a fake clock.
type scriptedDaemon struct {
	url  string
	srv  *http.Server
	stop chan struct{}
	mu   sync.Mutex
	mode int
}

const (
	scriptedHealthy = iota
	scriptedUnauthorized
	scriptedHang
	scriptedGone
)

func newScriptedDaemon(t testing.TB) *scriptedDaemon {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	f := &scriptedDaemon{url: "http://" + ln.Addr().String() + "/api/daemon/status", stop: make(chan struct{})}
	f.srv = &http.Server{Handler: http.HandlerFunc(f.serve), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = f.srv.Serve(ln) }()
	t.Cleanup(func() { f.set(scriptedGone) })
	return f
}

func (f *scriptedDaemon) set(mode int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.mode == scriptedGone {
		return
	}
	if f.mode == scriptedHang && mode != scriptedHang {
		close(f.stop)
		f.stop = make(chan struct{})
	}
	f.mode = mode
	if mode == scriptedGone {
		_ = f.srv.Close()
	}
}

func (f *scriptedDaemon) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	mode, stop := f.mode, f.stop
	f.mu.Unlock()
	switch mode {
	case scriptedUnauthorized:
		http.Error(w, `{"error":"unauthorized"}`, http.StatusUnauthorized)
	case scriptedHang:
		select {
		case <-stop:
		case <-r.Context().Done():
		}
	default:
		now := time.Now().UTC()
		ts := func(t time.Time) string { return t.Format("2006-01-02T15:04:05.000Z") }
		// One executable is rate-limited for an hour, the others are not:
		// dispatch goes on, and the dashboard has a soonest reset to show.
		reset := ts(now.Add(time.Hour))
		fmt.Fprintf(w, `{"isRunning":true,"available":true,"config":{"pollIntervalMs":1000},"rateLimit":{"isPaused":false,"limits":[{"executable":"claude","resetsAt":%q}],"soonestReset":%q},"health":{"readyUnassignedTasks":0,"availableWorkers":1,"computedAt":%q,"lastPollStartedAt":%q,"lastPollCompletedAt":%q}}`,
			reset, reset, ts(now), ts(now.Add(-100*time.Millisecond)), ts(now.Add(-50*time.Millisecond)))
	}
}

type amAlert struct {
	Labels map[string]string `json:"labels"`
	Status struct {
		State       string   `json:"state"`
		InhibitedBy []string `json:"inhibitedBy"`
	} `json:"status"`
}

// amAlerts lists Alertmanager's alerts through its API v2.
func amAlerts(t testing.TB, am, filter string) []amAlert {
	t.Helper()
	resp, err := http.Get(am + "/api/v2/alerts?" + filter)
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var out []amAlert
	if err := json.Unmarshal(b, &out); err != nil {
		t.Logf("alertmanager: %s", strings.TrimSpace(string(b)))
	}
	return out
}
