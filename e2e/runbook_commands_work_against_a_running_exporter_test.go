package e2e

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stoneforge/dispatch_exporter/alerts/runbook"
)

// The runbook's commands "on localhost" (curl) and for a bare process
// (pgrep, kill, dispatch_exporter) run here as written, with only the
// addresses put in: localhost:9847 is an exporter built from this tree in
// sidecar mode (one with --config.file for /-/reload), localhost:3457 a
// smithy stand-in that serves the demo daemon's status and start, and
// $DAEMON_METRICS the demo's own /metrics. Every command must succeed on a
// healthy daemon; DispatchDaemonWedged's "Confirm the fix" commands must
// also fail while the daemon is wedged, so they can tell.

// runbookCommand is one command line of a tagged block of RUNBOOK.md.
type runbookCommand struct {
	section, where, line string
	confirm              bool // in the section's "Confirm the fix." part
}

func runbookCommands(t *testing.T, wheres ...string) []runbookCommand {
	t.Helper()
	b, err := os.ReadFile("../alerts/RUNBOOK.md")
	require.NoError(t, err)
	var out []runbookCommand
	for _, s := range runbook.Parse(string(b)) {
		for _, blk := range s.Blocks {
			if !slices.Contains(wheres, blk.Where) {
				continue
			}
			for _, l := range runbook.Lines(blk.Body) {
				out = append(out, runbookCommand{section: s.Title, where: blk.Where, line: l, confirm: blk.Confirm})
			}
		}
	}
	require.NotEmpty(t, out, "no runbook=%v command in RUNBOOK.md", wheres)
	return out
}

// smithyStandIn serves smithy's two endpoints the runbook uses, from the
// demo daemon at demo: GET /api/daemon/status and POST /api/daemon/start.
func smithyStandIn(t *testing.T, demo string) string {
	t.Helper()
	forward := func(method, path string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			req, err := http.NewRequestWithContext(r.Context(), method, "http://"+demo+path, nil)
			if err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadGateway)
				return
			}
			defer resp.Body.Close()
			w.Header().Set("Content-Type", resp.Header.Get("Content-Type"))
			w.WriteHeader(resp.StatusCode)
			_, _ = io.Copy(w, resp.Body)
		}
	}
	mux := http.NewServeMux()
	mux.Handle("GET /api/daemon/status", forward(http.MethodGet, "/api/daemon/status"))
	mux.Handle("POST /api/daemon/start", forward(http.MethodPost, "/demo/start"))
	srv := httptest.NewUnstartedServer(mux)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv.Listener = l
	srv.Start()
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String()
}

// startBareSmithy starts a process whose command line is "sf serve smithy"
// (a sleep under that name), as pgrep -f finds a hand-started smithy, and
// returns its PID; the test kills it if the runbook's kill did not.
func startBareSmithy(t *testing.T) (int, <-chan struct{}) {
	t.Helper()
	cmd := exec.Command("bash", "-c", `exec -a "sf serve smithy" sleep 600`)
	require.NoError(t, cmd.Start())
	done := make(chan struct{}) // closed once the process has ended
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-done
	})
	// exec -a replaces bash: wait until the command line reads so.
	require.Eventually(t, func() bool {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", cmd.Process.Pid))
		return err == nil && bytes.HasPrefix(b, []byte("sf serve smithy\x00"))
	}, 10*time.Second, 10*time.Millisecond)
	return cmd.Process.Pid, done
}

func TestRunbookCommandsWorkAgainstARunningExporter(t *testing.T) {
	t.Parallel()
	for _, tool := range []string{"bash", "curl", "jq", "pgrep"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not on this machine", tool)
		}
	}
	bin := buildExporter(t)
	demo, sidecar, configured := freeAddr(t), freeAddr(t), freeAddr(t)
	startProc(t, "demo", bin, "--demo", "--web.listen-address="+demo, "--demo.poll-interval=200ms",
		"--poll.stale-threshold=2s", "--watchdog.stack-dump-dir="+t.TempDir())
	waitHTTP(t, "http://"+demo+"/-/ready")
	smithy := smithyStandIn(t, demo)
	startProc(t, "sidecar", bin, "--web.listen-address="+sidecar, "--target.url=http://"+smithy+"/api/daemon/status")
	cfg := filepath.Join(t.TempDir(), "dispatch.yml")
	require.NoError(t, os.WriteFile(cfg, fmt.Appendf(nil, "targets:\n  - name: smithy\n    url: http://%s/api/daemon/status\n", smithy), 0o600))
	startProc(t, "configured", bin, "--web.listen-address="+configured, "--config.file="+cfg)
	waitHTTP(t, "http://"+sidecar+"/-/ready")
	waitHTTP(t, "http://"+configured+"/-/ready")
	require.Eventually(t, func() bool {
		body := bodyOf("http://" + sidecar + "/metrics")
		return metric(body, `dispatch_up{loop="dispatch"}`) == "1" && metric(body, `dispatch_poll_last_completed_seconds{loop="dispatch"}`) != ""
	}, 30*time.Second, 100*time.Millisecond, "the sidecar reads a running daemon")

	env := append(os.Environ(), "PATH="+filepath.Dir(bin)+string(os.PathListSeparator)+os.Getenv("PATH"),
		"DAEMON_METRICS=http://"+demo+"/metrics")
	run := func(c runbookCommand, extraEnv ...string) (string, error) {
		line := strings.ReplaceAll(c.line, "localhost:3457", smithy)
		exporter := sidecar
		if strings.Contains(line, "/-/reload") {
			exporter = configured // a reload needs --config.file
		}
		line = strings.ReplaceAll(line, "localhost:9847", exporter)
		line = strings.ReplaceAll(line, "/etc/dispatch_exporter/dispatch.yml", cfg)
		cmd := exec.Command("bash", "-o", "pipefail", "-c", line)
		cmd.Env, cmd.Dir = append(env, extraEnv...), t.TempDir()
		out, err := cmd.CombinedOutput()
		return string(out), err
	}

	for _, c := range runbookCommands(t, "local", "process") {
		switch fields := strings.Fields(c.line); {
		case fields[0] == "kill":
			pid, done := startBareSmithy(t)
			out, err := run(c, "SMITHY_PID="+strconv.Itoa(pid))
			require.NoError(t, err, "%s: %q: %s", c.section, c.line, out)
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				t.Errorf("%s: %q: the process did not end", c.section, c.line)
			}
		case fields[0] == "pgrep":
			pid, _ := startBareSmithy(t)
			out, err := run(c)
			if !assert.NoError(t, err, "%s: %q: %s", c.section, c.line, out) {
				continue
			}
			if strings.Contains(c.line, "smithy") {
				assert.Contains(t, out, strconv.Itoa(pid)+" sf serve smithy", "%s: %q finds the daemon's PID", c.section, c.line)
			} else {
				assert.Contains(t, out, bin, "%s: %q finds the exporter", c.section, c.line)
			}
		case strings.Contains(c.line, "/api/daemon/start"):
			// Start what is stopped, as the runbook says to.
			post(t, "http://"+demo+"/demo/stop")
			require.Eventually(t, func() bool {
				return strings.Contains(bodyOf("http://"+demo+"/api/daemon/status"), `"isRunning":false`)
			}, 10*time.Second, 50*time.Millisecond)
			out, err := run(c)
			require.NoError(t, err, "%s: %q: %s", c.section, c.line, out)
			assert.Contains(t, bodyOf("http://"+demo+"/api/daemon/status"), `"isRunning":true`, "%s: %q starts the loop", c.section, c.line)
		default:
			out, err := run(c)
			assert.NoError(t, err, "%s: %q:\n%s", c.section, c.line, out)
			t.Logf("%s: %s\n%s", c.section, c.line, out)
		}
	}

	// Wedge the daemon: what confirms the wedge's fix must now say it is
	// not over, while what the runbook checks still answers.
	post(t, "http://"+demo+"/demo/wedge")
	require.Eventually(t, func() bool {
		return metric(bodyOf("http://"+sidecar+"/metrics"), `dispatch_poll_stale{loop="dispatch"}`) == "1"
	}, 30*time.Second, 100*time.Millisecond, "the sidecar judges the demo wedged")
	confirms := 0
	for _, c := range runbookCommands(t, "local") {
		if c.section != "DispatchDaemonWedged" {
			continue
		}
		out, err := run(c)
		if c.confirm {
			confirms++
			assert.Error(t, err, "%s: %q says the wedge is over while it lasts:\n%s", c.section, c.line, out)
		} else {
			assert.NoError(t, err, "%s: %q:\n%s", c.section, c.line, out)
			if strings.Contains(c.line, "localhost:9847/ ") {
				assert.Contains(t, out, "WEDGED", "%s: %q shows the state", c.section, c.line)
			}
		}
	}
	assert.NotZero(t, confirms, "DispatchDaemonWedged has commands that confirm the fix")
}

// post makes a POST the demo must accept (2xx).
func post(t *testing.T, url string) {
	t.Helper()
	resp, err := http.Post(url, "", nil)
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	require.Less(t, resp.StatusCode, 300, "POST %s", url)
}

// bodyOf returns a URL's body, or "" when it cannot be read (yet).
func bodyOf(url string) string {
	resp, err := http.Get(url)
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}
