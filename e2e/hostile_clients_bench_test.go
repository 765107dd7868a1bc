package e2e

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// BenchmarkHostileClients measures what hostile or broken clients cost the
// exporter's own server, each figure once, on the built binary (or the one
// HOSTILE_BIN names, to measure another version the same way): 2,000
// liveness probes for different unknown target names, short and of 20 KB
// (heap after GC, log lines); 1,014 idle keep-alive connections under an
// open file limit of 1,024 (do /metrics and /-/target/healthy still answer
// within 3 s, the kubelet probe's timeoutSeconds); 50 parallel requests
// with 900 KB headers (their answers, the peak RSS they add); a 64 MiB
// config file (--config.check's answer and time), a reload of 50 MiB and
// one just under the 4 MiB limit (answer, time, peak RSS); a target whose
// host drops SYNs (connection attempts and goroutines left when 4 clients
// stop; Linux only). Run it with
//
//	cd e2e && go test -run '^$' -bench HostileClients -benchtime 1x -timeout 15m .
func BenchmarkHostileClients(b *testing.B) {
	bin := os.Getenv("HOSTILE_BIN")
	if bin == "" {
		bin = buildExporter(b)
	}
	for range b.N {
		b.Run("unknown-names", func(b *testing.B) { unknownNames(b, bin) })
		b.Run("idle-connections", func(b *testing.B) { idleConnections(b, bin) })
		b.Run("large-headers", func(b *testing.B) { largeHeaders(b, bin) })
		b.Run("large-config", func(b *testing.B) { largeConfig(b, bin) })
		b.Run("syn-dropping-target", func(b *testing.B) { synDroppingTarget(b, bin) })
	}
}

// exporterProc is the exporter binary running on a loopback address.
type exporterProc struct {
	*proc
	addr string
}

// startHostile runs bin with args on a free loopback address, under an
// open file limit of nofile when it is not 0, until the benchmark ends.
func startHostile(b *testing.B, bin string, nofile int, args ...string) *exporterProc {
	b.Helper()
	addr := freeAddr(b)
	args = append(args, "--web.listen-address="+addr)
	if nofile > 0 {
		args = append([]string{"-c", fmt.Sprintf(`ulimit -n %d && exec "$0" "$@"`, nofile), bin}, args...)
		bin = "sh"
	}
	p := &exporterProc{proc: startProc(b, "dispatch_exporter", bin, args...), addr: addr}
	require.Eventually(b, func() bool { return p.get("/-/healthy", time.Second) == 200 }, 10*time.Second, 10*time.Millisecond)
	return p
}

func (p *exporterProc) url(path string) string { return "http://" + p.addr + path }

// get answers the status of a GET of path on a new connection, 0 when none
// came within timeout.
func (p *exporterProc) get(path string, timeout time.Duration) int {
	client := &http.Client{Timeout: timeout, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Get(p.url(path))
	if err != nil {
		return 0
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// body is a GET of path's body.
func (p *exporterProc) body(b *testing.B, path string) string { return scrape(b, p.url(path)) }

// heapAfterGC is the exporter's heap in bytes after a collection (pprof's
// heap profile with gc=1 runs one).
func (p *exporterProc) heapAfterGC(b *testing.B) float64 {
	b.Helper()
	require.Equal(b, 200, p.get("/debug/pprof/heap?gc=1", 10*time.Second))
	v, err := strconv.ParseFloat(metric(p.body(b, "/metrics"), "go_memstats_heap_alloc_bytes"), 64)
	require.NoError(b, err)
	return v
}

// peakRSS is the process's peak resident set size in bytes (VmHWM).
func (p *exporterProc) peakRSS(b *testing.B) float64 {
	b.Helper()
	pid := p.cmd.Process.Pid
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	require.NoError(b, err)
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if rest, ok := strings.CutPrefix(s.Text(), "VmHWM:"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			require.NoError(b, err)
			return kb * 1024
		}
	}
	b.Fatal("no VmHWM")
	return 0
}

// logLines counts the lines of the exporter's log that hold s, and the
// log's size in bytes.
func (p *exporterProc) logLines(b *testing.B, s string) (lines int, size int) {
	b.Helper()
	log, err := os.ReadFile(p.log)
	require.NoError(b, err)
	return strings.Count(string(log), s), len(log)
}

func unknownNames(b *testing.B, bin string) {
	for _, size := range []int{20, 20 << 10} {
		p := startHostile(b, bin, 0, "--target.url=http://127.0.0.1:1/status")
		before := p.heapAfterGC(b)
		_, logBefore := p.logLines(b, "")
		for i := range 2000 {
			name := fmt.Sprintf("%06d", i) + strings.Repeat("n", size-6)
			require.Equal(b, 200, p.get("/-/target/healthy?target="+name, 10*time.Second))
		}
		after := p.heapAfterGC(b)
		lines, logAfter := p.logLines(b, "no configured target")
		b.Logf("2,000 unknown names of %d bytes: heap after GC %+.1f MiB, %d log lines, %+.1f MB of log, unknown-target counter %s",
			size, (after-before)/(1<<20), lines, float64(logAfter-logBefore)/1e6,
			orNone(metric(p.body(b, "/metrics"), "dispatch_exporter_unknown_target_requests_total")))
		b.ReportMetric((after-before)/(1<<20), fmt.Sprintf("heap-MiB/names-of-%dB", size))
		b.ReportMetric(float64(lines), fmt.Sprintf("log-lines/names-of-%dB", size))
	}
}

func idleConnections(b *testing.B, bin string) {
	p := startHostile(b, bin, 1024, "--target.url=http://127.0.0.1:1/status")
	const n = 1014
	var conns []net.Conn
	b.Cleanup(func() {
		for _, c := range conns {
			_ = c.Close()
		}
	})
	answered, failed := 0, false
	for range n {
		c, err := net.DialTimeout("tcp", p.addr, 2*time.Second)
		if err != nil {
			continue
		}
		conns = append(conns, c)
		if failed {
			continue // the server stopped answering: the rest stay open, unasked
		}
		_ = c.SetDeadline(time.Now().Add(2 * time.Second))
		if _, err := io.WriteString(c, "GET /-/healthy HTTP/1.1\r\nHost: exporter\r\n\r\n"); err != nil {
			continue
		}
		if resp, err := http.ReadResponse(bufio.NewReader(c), nil); err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			answered++
		} else {
			failed = true
		}
		_ = c.SetDeadline(time.Time{}) // left open and idle
	}
	metrics := p.get("/metrics", 3*time.Second)
	healthy := p.get("/-/target/healthy", 3*time.Second)
	emfile, _ := p.logLines(b, "too many open files")
	shed := "(not served)"
	if metrics == 200 {
		shed = orNone(metric(p.body(b, "/metrics"), "dispatch_exporter_http_connections_shed_total"))
	}
	b.Logf("%d idle keep-alive connections (%d answered) under ulimit -n 1024: /metrics %s, /-/target/healthy %s within 3s; %d 'too many open files' log lines; shed counter %s",
		len(conns), answered, statusText(metrics), statusText(healthy), emfile, shed)
	b.ReportMetric(boolMetric(metrics == 200 && healthy == 200), "probes-answered")
}

func largeHeaders(b *testing.B, bin string) {
	p := startHostile(b, bin, 0, "--target.url=http://127.0.0.1:1/status")
	before := p.peakRSS(b)
	header := strings.Repeat("x", 900_000)
	var wg sync.WaitGroup
	var mu sync.Mutex
	codes := map[int]int{}
	for range 50 {
		wg.Go(func() {
			req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, p.url("/-/target/healthy"), nil)
			if err != nil {
				return
			}
			req.Header.Set("X-Padding", header)
			client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
			code := 0
			if resp, err := client.Do(req); err == nil {
				code = resp.StatusCode
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
			mu.Lock()
			codes[code]++
			mu.Unlock()
		})
	}
	wg.Wait()
	after := p.peakRSS(b)
	b.Logf("50 parallel requests with 900 KB headers: answers %v, peak RSS %.1f → %.1f MiB (%+.1f MiB)",
		codes, before/(1<<20), after/(1<<20), (after-before)/(1<<20))
	b.ReportMetric((after-before)/(1<<20), "peak-RSS-added-MiB")
}

func largeConfig(b *testing.B, bin string) {
	dir := b.TempDir()
	huge := filepath.Join(dir, "huge.yml")
	writeConfig(b, huge, 64<<20, false)
	start := time.Now()
	out, err := exec.Command(bin, "--config.check", "--config.file="+huge).CombinedOutput()
	took := time.Since(start)
	b.Logf("--config.check of a 64 MiB config: %v in %s: %s", exitCode(err), took.Round(10*time.Millisecond), lastLine(string(out)))

	path := filepath.Join(dir, "dispatch.yml")
	writeConfig(b, path, 1, false)
	p := startHostile(b, bin, 0, "--config.file="+path)
	before := p.peakRSS(b)
	writeConfig(b, path, 50<<20, false)
	code50 := p.post(b, "/-/reload")
	after := p.peakRSS(b)
	b.Logf("reload of a 50 MiB config: %d, config_last_reload_successful %s, peak RSS %.1f → %.1f MiB",
		code50, metric(p.body(b, "/metrics"), "dispatch_exporter_config_last_reload_successful"), before/(1<<20), after/(1<<20))
	b.ReportMetric((after-before)/(1<<20), "reload-peak-RSS-added-MiB")

	// Just under the limit: what the largest accepted config costs.
	writeConfig(b, path, 4<<20-1024, true)
	start = time.Now()
	code := p.post(b, "/-/reload")
	took = time.Since(start)
	under := p.peakRSS(b)
	b.Logf("reload of a config just under 4 MiB (%s, a client config each): %d in %s, peak RSS %.1f MiB", targetsIn(b, path), code, took.Round(10*time.Millisecond), under/(1<<20))
	b.ReportMetric(under/(1<<20), "4MiB-reload-peak-RSS-MiB")
}

// post answers the status of a POST to path.
func (p *exporterProc) post(b *testing.B, path string) int {
	b.Helper()
	req, err := http.NewRequest(http.MethodPost, p.url(path), nil)
	require.NoError(b, err)
	resp, err := (&http.Client{Timeout: 5 * time.Minute}).Do(req)
	require.NoError(b, err)
	resp.Body.Close()
	return resp.StatusCode
}

// targetsIn says how many targets the config at path lists.
func targetsIn(b *testing.B, path string) string {
	b.Helper()
	cfg, err := os.ReadFile(path)
	require.NoError(b, err)
	return fmt.Sprintf("%d targets", strings.Count(string(cfg), "  - name: "))
}

// writeConfig writes a config of at least size bytes (one target when
// size is 1): targets with a name and a URL only, sharing one HTTP client
// (the 64 MiB file: a million such targets); or, distinct, each
// with a client config of its own (TLS server name, basic auth), the most
// a file of that size can cost.
func writeConfig(b *testing.B, path string, size int, distinct bool) {
	b.Helper()
	var sb strings.Builder
	sb.WriteString("targets:\n")
	for i := 0; i == 0 || sb.Len() < size; i++ {
		if !distinct {
			fmt.Fprintf(&sb, "  - {name: s%07[1]d, url: 'http://s%07[1]d:3457/api/daemon/status'}\n", i)
			continue
		}
		fmt.Fprintf(&sb, `  - name: smithy-%07[1]d
    url: https://smithy-%07[1]d.dispatch.internal.example.com:3457/api/daemon/status
    timeout: 3s
    tls_config:
      server_name: smithy-%07[1]d.dispatch.internal.example.com
    basic_auth:
      username: dispatch-exporter
      password: not-a-real-one
`, i)
	}
	require.NoError(b, os.WriteFile(path, []byte(sb.String()), 0o600))
}

func exitCode(err error) string {
	if err == nil {
		return "exit 0"
	}
	if ee, ok := err.(*exec.ExitError); ok {
		return fmt.Sprintf("exit %d", ee.ExitCode())
	}
	return err.Error()
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

func statusText(code int) string {
	if code == 0 {
		return "no answer"
	}
	return strconv.Itoa(code)
}

func orNone(s string) string {
	if s == "" {
		return "(absent)"
	}
	return s
}

func boolMetric(ok bool) float64 {
	if ok {
		return 1
	}
	return 0
}
