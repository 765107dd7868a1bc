package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"

	"github.com/stoneforge/dispatch_exporter/dispatch/dispatchtest"
)

// freeAddr is a loopback address nothing listens on yet.
func freeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	return addr
}

// exporter is run() in process, stopped when the test ends.
type exporter struct {
	addr string
	logs *dispatchtest.Logs
	code chan int
}

func startExporter(t *testing.T, args ...string) *exporter {
	t.Helper()
	e := &exporter{addr: freeAddr(t), logs: &dispatchtest.Logs{}, code: make(chan int, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	go func() { e.code <- run(ctx, append(args, "--web.listen-address="+e.addr), io.Discard, e.logs) }()
	t.Cleanup(func() {
		cancel()
		select {
		case c := <-e.code:
			assert.Equal(t, 0, c, "clean shutdown")
		case <-time.After(10 * time.Second):
			t.Error("exporter did not stop")
		}
	})
	require.Eventually(t, func() bool {
		c, err := net.Dial("tcp", e.addr)
		if err == nil {
			c.Close()
		}
		return err == nil
	}, 10*time.Second, 5*time.Millisecond, "exporter listening: %s", e.logs)
	return e
}

func (e *exporter) url(path string) string { return "http://" + e.addr + path }

func httpGet(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

func httpPost(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Post(url, "", nil)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

// metric returns the value of one series in an exposition, or "" if absent.
func metric(body, series string) string {
	for _, line := range strings.Split(body, "\n") {
		if rest, ok := strings.CutPrefix(line, series+" "); ok {
			return rest
		}
	}
	return ""
}

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
		return metric(body, `dispatch_poll_cycles_total{loop="dispatch",result="ok"}`) != "0"
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

// tlsWebConfig writes an exporter-toolkit web config with TLS (a
// self-signed certificate for 127.0.0.1, in tls.crt beside it) and the
// basic auth user prometheus:s3cret; it returns its path.
func tlsWebConfig(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	writeSelfSignedCert(t, dir)
	hash, err := bcrypt.GenerateFromPassword([]byte("s3cret"), bcrypt.MinCost)
	require.NoError(t, err)
	webConfig := filepath.Join(dir, "web.yml")
	require.NoError(t, os.WriteFile(webConfig, fmt.Appendf(nil, `tls_server_config:
  cert_file: %s
  key_file: %s
basic_auth_users:
  prometheus: %s
`, filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key"), hash), 0o600))
	return webConfig
}

func TestWebConfigTLSAndBasicAuth(t *testing.T) {
	t.Parallel()
	webConfig := tlsWebConfig(t)
	e := startExporter(t, "--demo", "--web.config.file="+webConfig)

	certPEM, err := os.ReadFile(filepath.Join(filepath.Dir(webConfig), "tls.crt"))
	require.NoError(t, err)
	pool := x509.NewCertPool()
	require.True(t, pool.AppendCertsFromPEM(certPEM))
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	get := func(user, pass string) int {
		req, err := http.NewRequest(http.MethodGet, "https://"+e.addr+"/metrics", nil)
		require.NoError(t, err)
		if user != "" {
			req.SetBasicAuth(user, pass)
		}
		resp, err := client.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode == 200 {
			assert.Contains(t, string(body), "dispatch_up")
		}
		return resp.StatusCode
	}
	assert.Equal(t, 401, get("", ""), "no credentials")
	assert.Equal(t, 401, get("prometheus", "wrong"))
	assert.Equal(t, 200, get("prometheus", "s3cret"))

	resp, err := http.Get("http://" + e.addr + "/metrics")
	if err == nil {
		defer resp.Body.Close()
		assert.Equal(t, 400, resp.StatusCode, "plain HTTP to a TLS port")
	}
}

// writeSelfSignedCert writes tls.crt and tls.key for 127.0.0.1 into dir.
func writeSelfSignedCert(t *testing.T, dir string) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "dispatch_exporter test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	keyDER, err := x509.MarshalECPrivateKey(key)
	require.NoError(t, err)
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	require.NoError(t, os.WriteFile(filepath.Join(dir, "tls.crt"), certPEM, 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "tls.key"), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600))
	return certPEM
}

// TestBadInputExitsClearly: every bad flag, combination or file ends run
// before it serves, with a non-zero code and one line that names the flag
// or file (and, in a config file, line, target and field): never a panic,
// never a start that then fails every scrape.
func TestBadInputExitsClearly(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, body string) string {
		path := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(path, []byte(body), 0o600))
		return path
	}
	bad := write("bad.yml", "targets:\n  - name: a\n    url: http://x\n    tiemout: 1s\n")
	negative := write("negative.yml", "targets:\n  - name: eu\n    url: http://x\n    timeout: -5s\n")
	good := write("good.yml", "targets: [{name: a, url: 'http://localhost:3457/api/daemon/status'}]")
	missing := filepath.Join(dir, "missing.yml")

	cases := []struct {
		args []string
		code int
		out  string
	}{
		{[]string{"--bogus"}, 2, "dispatch_exporter: unknown long flag '--bogus'; try --help"},
		{[]string{"--demo.poll-interval=soon"}, 2, `time: invalid duration "soon"`},
		{[]string{"--log.level=loud"}, 2, "--log.level=loud: must be one of debug, info, warn, error"},
		{[]string{"--demo", "--demo.poll-interval=0s"}, 2, "--demo.poll-interval=0s: must be positive"},

		{[]string{"--web.telemetry-path=metrics"}, 2, `--web.telemetry-path=metrics: must start with "/"`},
		{[]string{"--web.telemetry-path=/"}, 2, `--web.telemetry-path=/: must not be "/"`},
		{[]string{"--web.telemetry-path=/probe"}, 2, "--web.telemetry-path=/probe: collides with the /probe endpoint"},
		{[]string{"--web.telemetry-path=/-/healthy"}, 2, "--web.telemetry-path=/-/healthy: collides with the endpoints under /-/"},
		{[]string{"--web.telemetry-path=/-/ready"}, 2, "collides with the endpoints under /-/"},
		{[]string{"--web.telemetry-path=/-/reload"}, 2, "collides with the endpoints under /-/"},
		{[]string{"--web.telemetry-path=/-/target/healthy"}, 2, "collides with the endpoints under /-/"},
		{[]string{"--web.telemetry-path=/debug/pprof/heap"}, 2, "collides with the endpoints under /debug/pprof/"},
		{[]string{"--demo", "--web.telemetry-path=/demo/wedge"}, 2, "collides with the endpoints under /demo/"},
		{[]string{"--web.telemetry-path=/metrics {x}"}, 2, "--web.telemetry-path=/metrics {x}: use letters, digits"},
		{[]string{"--web.telemetry-path=/a/../metrics"}, 2, "must be a clean path"},

		{[]string{"--target.url=not-a-url"}, 2, `--target.url=not-a-url: want http:// or https:// and a host`},
		{[]string{"--target.url=ftp://x/status"}, 2, `--target.url=ftp://x/status: want http:// or https://`},
		{[]string{"--target.url=http:///status"}, 2, "want http:// or https:// and a host"},
		{[]string{"--target.url=http://[::1/status"}, 2, "--target.url=(unparsable URL): not a URL"},
		{[]string{"--poll.stale-threshold=-5s"}, 2, "--poll.stale-threshold=-5s: must not be negative"},
		{[]string{"--target.timeout=0s"}, 2, "--target.timeout=0s: must be positive"},
		{[]string{"--target.timeout=-1s"}, 2, "--target.timeout=-1s: must be positive"},
		{[]string{"--target.max-body-bytes=0"}, 2, "--target.max-body-bytes=0: must be a positive size"},
		{[]string{"--target.timeout-offset=-1s"}, 2, "--target.timeout-offset=-1s: must not be negative"},
		{[]string{"--liveness.timeout=0s"}, 2, "--liveness.timeout=0s: must be positive"},
		{[]string{"--liveness.failure-threshold=0"}, 2, "--liveness.failure-threshold=0: must be from 1 to 100"},

		{[]string{"--target.url=http://x/status", "--config.file=" + good}, 2, "--target.url=http://x/status: conflicts with --config.file"},
		{[]string{"--demo", "--config.file=" + good}, 2, "--config.file=" + good + ": conflicts with --demo"},
		{[]string{"--demo", "--target.url=http://x/status"}, 2, "--target.url=http://x/status: conflicts with --demo"},

		{[]string{"--config.file=" + bad}, 1, `msg="cannot load --config.file" file=` + bad + ` err="config ` + bad + `: line 4: target a: unknown field tiemout"`},
		{[]string{"--config.file=" + missing}, 1, `msg="cannot load --config.file" file=` + missing + ` err="read config: open ` + missing + `: no such file or directory"`},
		{[]string{"--web.config.file=" + missing}, 1, `msg="bad --web.config.file" file=` + missing + ` err="open ` + missing + `: no such file or directory"`},
		{[]string{"--config.check", "--config.file=" + bad}, 1, `config is invalid" file=` + bad + ` err="config ` + bad + `: line 4: target a: unknown field tiemout"`},
		{[]string{"--config.check", "--config.file=" + negative}, 1, `line 4: target eu: timeout: \"-5s\" is not a duration`},
		{[]string{"--config.check", "--config.file=" + missing}, 1, "no such file or directory"},
		{[]string{"--config.check"}, 2, "--config.check needs --config.file"},
	}
	for _, c := range cases {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			t.Parallel()
			var out dispatchtest.Logs
			code := run(context.Background(), append(c.args, "--web.listen-address=127.0.0.1:0"), &out, &out)
			assert.Equal(t, c.code, code, out.String())
			lines := strings.Split(strings.TrimSpace(out.String()), "\n")
			last := lines[len(lines)-1]
			assert.Contains(t, last, c.out, "the last line says why")
			assert.NotContains(t, out.String(), "Listening on", "nothing was served")
			assert.NotContains(t, out.String(), "goroutine ", "no panic")
			assert.NotContains(t, out.String(), "previous config", "at start-up there is none")
			assert.NotContains(t, out.String(), "collector.", "no Go type names")
			for _, l := range lines[:len(lines)-1] {
				assert.Contains(t, l, "starting dispatch_exporter", "one line of error, after the start line at most")
			}
		})
	}

	var out dispatchtest.Logs
	assert.Equal(t, 0, run(context.Background(), []string{"--config.check", "--config.file=" + good}, &out, &out))
	assert.Equal(t, good+": config OK, 1 target(s)\n", out.String())
}

func TestVersion(t *testing.T) {
	t.Parallel()
	var out dispatchtest.Logs
	require.Equal(t, 0, run(context.Background(), []string{"--version"}, &out, &out))
	assert.Contains(t, out.String(), "dispatch_exporter, version "+strings.TrimSpace(versionFile)+" (branch: unknown, revision: ")
}

func TestReloadOverHTTP(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "dispatch.yml")
	require.NoError(t, os.WriteFile(path, []byte("targets: [{name: a, url: 'http://127.0.0.1:1/status'}]"), 0o600))
	e := startExporter(t, "--config.file="+path)

	code, body := httpGet(t, e.url("/probe?target=b"))
	assert.Equal(t, 400, code, body)
	require.NoError(t, os.WriteFile(path, []byte("targets: [{name: a, url: 'http://127.0.0.1:1/status'}, {name: b, url: 'http://127.0.0.1:1/status'}]"), 0o600))
	code, _ = httpPost(t, e.url("/-/reload"))
	require.Equal(t, 200, code)
	code, body = httpGet(t, e.url("/probe?target=b"))
	assert.Equal(t, 200, code)
	assert.Equal(t, "0", metric(body, `dispatch_up{loop="dispatch"}`))
	assert.Equal(t, "1", metric(body, `dispatch_status_request_failures_total{loop="dispatch",reason="connect"}`))

	require.NoError(t, os.WriteFile(path, []byte("targets: nope"), 0o600))
	code, _ = httpPost(t, e.url("/-/reload"))
	assert.Equal(t, 500, code)
	_, body = httpGet(t, e.url("/metrics"))
	assert.Equal(t, "0", metric(body, "dispatch_exporter_config_last_reload_successful"))
	assert.NotContains(t, body, "dispatch_up", "with a config file, targets are served on /probe only")
	code, _ = httpGet(t, e.url("/probe?target=b"))
	assert.Equal(t, 200, code, "the old config stays in force")
}

// buildExporter builds the exporter binary, for tests of the real process.
func buildExporter(t testing.TB) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "dispatch_exporter")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	require.NoError(t, err, "go build: %s", out)
	return bin
}

func TestSIGHUPReloadsTheConfig(t *testing.T) {
	t.Parallel()
	bin := buildExporter(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "dispatch.yml")
	require.NoError(t, os.WriteFile(path, []byte("targets: [{name: a, url: 'http://127.0.0.1:1/status'}]"), 0o600))
	addr := freeAddr(t)
	var logs dispatchtest.Logs
	cmd := exec.Command(bin, "--config.file="+path, "--web.listen-address="+addr)
	cmd.Stderr = &logs
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	require.Eventually(t, func() bool { return strings.Contains(logs.String(), "Listening on") }, 10*time.Second, 10*time.Millisecond)

	require.NoError(t, os.WriteFile(path, []byte("targets: [{name: a, url: 'http://127.0.0.1:1/status'}, {name: b, url: 'http://127.0.0.1:1/status'}]"), 0o600))
	require.NoError(t, cmd.Process.Signal(syscall.SIGHUP))
	require.Eventually(t, func() bool {
		code, _ := httpGet(t, "http://"+addr+"/probe?target=b")
		return code == 200
	}, 10*time.Second, 20*time.Millisecond, "target b after SIGHUP: %s", logs.String())

	require.NoError(t, os.WriteFile(path, []byte("targets: [{name: a, url: 'http://127.0.0.1:1/status', extra: 1}]"), 0o600))
	require.NoError(t, cmd.Process.Signal(syscall.SIGHUP))
	require.Eventually(t, func() bool { return strings.Contains(logs.String(), "config reload failed") }, 10*time.Second, 10*time.Millisecond)
	assert.Contains(t, logs.String(), "line 1: target a: unknown field extra")
	code, _ := httpGet(t, "http://"+addr+"/probe?target=b")
	assert.Equal(t, 200, code, "a bad file keeps the old config")

	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	require.NoError(t, cmd.Wait(), "SIGTERM shuts down cleanly")
	assert.Contains(t, logs.String(), "shutting down")
}

// TestDisableExporterMetrics: --web.disable-exporter-metrics drops the
// exporter's own go_* and process_* families from /metrics and keeps the
// daemon's, as node_exporter's flag of that name does.
func TestDisableExporterMetrics(t *testing.T) {
	t.Parallel()
	body, err := os.ReadFile(filepath.Join("dispatch", "smithy", "testdata", "samples", "stuck.json"))
	require.NoError(t, err)
	daemon := dispatchtest.NewServer(t, string(body))
	families := func(exposition string) map[string]bool {
		out := map[string]bool{}
		for _, line := range strings.Split(exposition, "\n") {
			if rest, ok := strings.CutPrefix(line, "# TYPE "); ok {
				name, _, _ := strings.Cut(rest, " ")
				prefix, _, _ := strings.Cut(name, "_")
				out[prefix+"_"] = true
			}
		}
		return out
	}
	for _, disabled := range []bool{false, true} {
		t.Run(fmt.Sprintf("disabled=%v", disabled), func(t *testing.T) {
			t.Parallel()
			args := []string{"--target.url=" + daemon.URL + "/api/daemon/status"}
			if disabled {
				args = append(args, "--web.disable-exporter-metrics")
			}
			e := startExporter(t, args...)
			code, exposition := httpGet(t, e.url("/metrics"))
			require.Equal(t, 200, code)
			got := families(exposition)
			assert.True(t, got["dispatch_"], "the daemon's families are there either way:\n%s", exposition)
			assert.Equal(t, "1", metric(exposition, `dispatch_up{loop="dispatch"}`), exposition)
			assert.Equal(t, !disabled, got["go_"], "go_* families present unless disabled:\n%s", exposition)
			assert.Equal(t, !disabled, got["process_"], "process_* families present unless disabled:\n%s", exposition)
			assert.False(t, got["promhttp_"], "no promhttp_* families:\n%s", exposition)
		})
	}
}
