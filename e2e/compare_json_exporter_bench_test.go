package e2e

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkCompareJSONExporter measures dispatch_exporter the way
// Prometheus scrapes it, one scrape at a time per target, beside
// prometheus-community/json_exporter v0.7.0 (configured as well as it
// allows, collector/testdata/bench/json_exporter.yml) and beside the floor
// of the job in Go (collector/testdata/floor: one keep-alive GET of the
// status, the body read, a fixed answer of the same size as ours; no
// decoding, no metrics library). Every exporter is a process of its own,
// read on its target-only path (ours /probe?target=NAME, theirs /probe) by
// one closed-loop client per target, in rounds whose order rotates (to
// cancel machine drift). Two variants: one target; and several targets at
// once, one client each, in one process (ours in config-file mode).
//
// Each row counts the status requests the fake daemon received and prints
// fetches per scrape: a side that fetched less than once per scrape answered
// from a shared request, so its row is flagged and its figures withheld.
// CPU per scrape is user+system time from /proc/PID/stat over the rounds
// divided by scrapes; peak RSS is VmHWM. Ours' /metrics is measured with and
// without --web.disable-exporter-metrics, in processes of their own.
//
// Run: make bench-compare (prints tables to paste into BENCHMARKS.md).
func BenchmarkCompareJSONExporter(b *testing.B) {
	je := os.Getenv("JSON_EXPORTER")
	if je == "" {
		b.Skip("JSON_EXPORTER not set: make bench-compare installs json_exporter v0.7.0")
	}
	const (
		roundTime = 2 * time.Second
		rounds    = 5
		targets   = 4 // of the multi-target variant
	)
	srv := newStatusServer(b, "stuck.json")
	bin, floor := buildExporter(b), buildFloor(b)
	jeConfig := "--config.file=" + filepath.Join("..", "collector", "testdata", "bench", "json_exporter.yml")
	start := func(name, bin string, args ...string) (pid int, base string) {
		addr := freeAddr(b)
		p := startProc(b, name, bin, append(args, listenFlag(name, addr))...)
		ready := "/-/ready"
		if strings.HasPrefix(name, "json_exporter") {
			ready = "/metrics"
		}
		waitHTTP(b, "http://"+addr+ready)
		return p.cmd.Process.Pid, "http://" + addr
	}
	ours := func(name string, args ...string) (int, string) {
		return start(name, bin, append(args, "--log.level=error")...)
	}

	// One target.
	var single []*side
	pid, base := ours("ours-probe", "--target.url="+srv.status("ours-probe", 0))
	single = append(single, &side{name: "dispatch_exporter `/probe`", role: roleOurs, pid: pid, key: "ours-probe",
		urls: []string{base + "/probe?target=default"}})
	pid, base = ours("ours-metrics", "--target.url="+srv.status("ours-metrics", 0))
	single = append(single, &side{name: "dispatch_exporter `/metrics`", role: roleOursMetrics, pid: pid, key: "ours-metrics",
		urls: []string{base + "/metrics"}})
	pid, base = ours("ours-lean", "--target.url="+srv.status("ours-lean", 0), "--web.disable-exporter-metrics")
	single = append(single, &side{name: "dispatch_exporter `/metrics` `--web.disable-exporter-metrics`", role: roleOursMetrics, pid: pid, key: "ours-lean",
		urls: []string{base + "/metrics"}})
	pid, base = start("json_exporter", je, jeConfig, "--log.level=error")
	single = append(single, &side{name: "json_exporter v0.7.0 `/probe`", role: roleJSON, pid: pid, key: "je",
		urls: []string{base + "/probe?module=smithy&target=" + srv.status("je", 0)}})
	size := answerSize(b, single[0].urls[0])
	pid, base = start("floor", floor, "--target="+srv.status("floor", 0), "--size="+strconv.Itoa(size))
	single = append(single, &side{name: "floor (Go net/http, no decoding, no metrics library)", role: roleFloor, pid: pid, key: "floor",
		urls: []string{base + "/probe"}})

	// Several targets, one client each, in one process per exporter.
	var multi []*side
	var cfg strings.Builder
	cfg.WriteString("targets:\n")
	for i := range targets {
		fmt.Fprintf(&cfg, "  - {name: t%d, url: '%s'}\n", i, srv.status("ours-multi", i))
	}
	cfgPath := filepath.Join(b.TempDir(), "targets.yml")
	if err := os.WriteFile(cfgPath, []byte(cfg.String()), 0o644); err != nil {
		b.Fatal(err)
	}
	pid, base = ours("ours-multi", "--config.file="+cfgPath)
	s := &side{name: "dispatch_exporter `/probe` (config file)", role: roleOurs, pid: pid, key: "ours-multi"}
	for i := range targets {
		s.urls = append(s.urls, fmt.Sprintf("%s/probe?target=t%d", base, i))
	}
	multi = append(multi, s)
	pid, base = start("json_exporter-multi", je, jeConfig, "--log.level=error")
	s = &side{name: "json_exporter v0.7.0 `/probe`", role: roleJSON, pid: pid, key: "je-multi"}
	for i := range targets {
		s.urls = append(s.urls, base+"/probe?module=smithy&target="+srv.status("je-multi", i))
	}
	multi = append(multi, s)
	pid, base = start("floor-multi", floor, "--size="+strconv.Itoa(size))
	s = &side{name: "floor", role: roleFloor, pid: pid, key: "floor-multi"}
	for i := range targets {
		s.urls = append(s.urls, base+"/probe?target="+srv.status("floor-multi", i))
	}
	multi = append(multi, s)

	for b.Loop() {
		measure(b, srv, single, rounds, roundTime)
		measure(b, srv, multi, rounds, roundTime)
	}

	fmt.Printf("\nOne target, one closed-loop client (as Prometheus scrapes), %d rounds of %s per row in rotating order, smithy sample stuck.json, answers of %d bytes:\n\n", rounds, roundTime, size)
	report(b, single)
	fmt.Printf("\n%d targets at once, one closed-loop client each, one process per exporter (ours in config-file mode: up to 32 targets keep their status connections), same rounds:\n\n", targets)
	report(b, multi)
	if o, t := single[0], single[3]; o.ok() && t.ok() {
		b.ReportMetric(o.cpuPerScrape/t.cpuPerScrape, "cpu_ratio")
		b.ReportMetric(o.p99.Seconds()/t.p99.Seconds(), "p99_ratio")
		b.ReportMetric(o.peakRSS/t.peakRSS, "rss_ratio")
	}

	// What each does when the daemon hangs, as Prometheus would ask.
	fmt.Println("\nA daemon whose status endpoint hangs, scraped with a 2s scrape timeout:")
	fmt.Println()
	_, hung := ours("ours-hang", "--target.url="+srv.URL+"/hang")
	_, jeBase := start("json_exporter-hang", je, jeConfig, "--log.level=error")
	for _, s := range []struct{ name, url string }{
		{"dispatch_exporter", hung + "/probe?target=default"},
		{"json_exporter", jeBase + "/probe?module=smithy&target=" + srv.URL + "/hang"},
	} {
		took, code, excerpt := timedScrape(s.url, 2*time.Second)
		fmt.Printf("- %s: answered %s after %s: %s\n", s.name, code, took.Truncate(time.Millisecond), excerpt)
	}
}

// listenFlag is the listen-address flag of the named program.
func listenFlag(name, addr string) string {
	if strings.HasPrefix(name, "floor") {
		return "--listen=" + addr
	}
	return "--web.listen-address=" + addr
}

// buildFloor builds collector/testdata/floor.
func buildFloor(b testing.TB) string {
	b.Helper()
	bin := filepath.Join(b.TempDir(), "floor")
	build := exec.Command("go", "build", "-o", bin, "./collector/testdata/floor")
	build.Dir = ".." // a program of the root module (e2e is a module of its own)
	out, err := build.CombinedOutput()
	if err != nil {
		b.Fatalf("go build floor: %v: %s", err, out)
	}
	return bin
}

// answerSize is the length of url's answer.
func answerSize(b testing.TB, url string) int {
	b.Helper()
	resp, err := http.Get(url)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		b.Fatalf("%s: HTTP %d, %v", url, resp.StatusCode, err)
	}
	return len(body)
}

type role int

const (
	roleOurs role = iota
	roleOursMetrics
	roleJSON
	roleFloor
)

// side is one row: a process and the URLs its clients read, one client
// per URL.
type side struct {
	name string
	role role
	pid  int
	key  string // first path segment of its status requests
	urls []string

	lat              []time.Duration
	scrapes, fetches int64
	cpu              float64
	wall             time.Duration
	rps              float64
	p50, p99         time.Duration
	cpuPerScrape     float64
	peakRSS          float64 // MiB
}

// ok says whether every scrape fetched the status: otherwise the side
// answered some scrapes from a shared request and its figures compare
// nothing.
func (s *side) ok() bool { return s.scrapes > 0 && s.fetches >= s.scrapes }

func (s *side) summarize(b testing.TB) {
	sort.Slice(s.lat, func(i, j int) bool { return s.lat[i] < s.lat[j] })
	n := len(s.lat)
	s.rps = float64(n) / s.wall.Seconds()
	s.p50, s.p99 = s.lat[n/2], s.lat[n*99/100]
	s.cpuPerScrape = s.cpu / float64(n)
	s.peakRSS = procStatusKiB(b, s.pid, "VmHWM") / 1024
}

// measure warms each side up, then runs rounds of d per side, rotating the
// order each round.
func measure(b testing.TB, srv *statusServer, sides []*side, rounds int, d time.Duration) {
	for _, s := range sides {
		load(b, s.urls, time.Second)
	}
	for r := range rounds {
		for i := range sides {
			s := sides[(i+r)%len(sides)]
			cpu0, fetch0 := cpuSeconds(b, s.pid), srv.hits(s.key)
			lat := load(b, s.urls, d)
			s.cpu += cpuSeconds(b, s.pid) - cpu0
			s.fetches += srv.hits(s.key) - fetch0
			s.scrapes += int64(len(lat))
			s.wall += d
			s.lat = append(s.lat, lat...)
		}
	}
}

// report prints the rows and their ratios to json_exporter and the floor,
// as Markdown tables.
func report(b testing.TB, sides []*side) {
	fmt.Println("| | scrapes/s | p50 | p99 | CPU per scrape | peak RSS | status fetches per scrape |")
	fmt.Println("|---|---|---|---|---|---|---|")
	var json, floor *side
	for _, s := range sides {
		if !s.ok() {
			b.Errorf("%s: %d status fetches for %d scrapes: some scrapes were answered from a shared request", s.name, s.fetches, s.scrapes)
			fmt.Printf("| %s | **flagged: %d fetches for %d scrapes (%.3f per scrape); not reported** | | | | | |\n",
				s.name, s.fetches, s.scrapes, float64(s.fetches)/float64(max(s.scrapes, 1)))
			continue
		}
		s.summarize(b)
		fmt.Printf("| %s | %.0f | %s | %s | %.0f µs | %.1f MiB | %.3f |\n", s.name, s.rps, us(s.p50), us(s.p99),
			s.cpuPerScrape*1e6, s.peakRSS, float64(s.fetches)/float64(s.scrapes))
		switch s.role {
		case roleJSON:
			json = s
		case roleFloor:
			floor = s
		}
	}
	fmt.Println()
	fmt.Println("| ratio | CPU per scrape | p99 | peak RSS |")
	fmt.Println("|---|---|---|---|")
	for _, s := range sides {
		if !s.ok() || (s.role != roleOurs && s.role != roleOursMetrics) {
			continue
		}
		for _, ref := range []*side{json, floor} {
			if ref == nil || (s.role == roleOursMetrics && ref == floor) {
				continue
			}
			refName, _, _ := strings.Cut(ref.name, " ")
			fmt.Printf("| %s ÷ %s | %.2f | %.2f | %.2f |\n", s.name, refName, s.cpuPerScrape/ref.cpuPerScrape,
				s.p99.Seconds()/ref.p99.Seconds(), s.peakRSS/ref.peakRSS)
		}
	}
}

func us(d time.Duration) string { return fmt.Sprintf("%.0f µs", float64(d)/1e3) }

// prometheusAccept is Prometheus 3's Accept header for its default scrape
// protocols, as the pinned Prometheus sends it
// (TestBenchmarksSendPrometheusAcceptHeader).
const prometheusAccept = "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.7,application/openmetrics-text;version=0.0.1;q=0.6,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.5,text/plain;version=0.0.4;q=0.4,*/*;q=0.3"

// load runs one closed-loop client per URL for d, each with its own
// keep-alive connection, as Prometheus scrapes; it returns every request's
// latency, and fails on any non-200 answer.
func load(b testing.TB, urls []string, d time.Duration) []time.Duration {
	deadline := time.Now().Add(d)
	var mu sync.Mutex
	var all []time.Duration
	var wg sync.WaitGroup
	for _, url := range urls {
		wg.Go(func() {
			client := &http.Client{Transport: &http.Transport{}, Timeout: 10 * time.Second}
			defer client.CloseIdleConnections()
			var mine []time.Duration
			for time.Now().Before(deadline) {
				start := time.Now()
				resp, err := client.Do(scrapeRequest(url, 10*time.Second))
				if err != nil {
					b.Error(err)
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					b.Errorf("%s: HTTP %d", url, resp.StatusCode)
					return
				}
				mine = append(mine, time.Since(start))
			}
			mu.Lock()
			all = append(all, mine...)
			mu.Unlock()
		})
	}
	wg.Wait()
	return all
}

// scrapeRequest is a GET of url as Prometheus 3 sends it, with its
// default scrape protocols and the given scrape timeout; Go's transport
// asks for gzip, as Prometheus does.
func scrapeRequest(url string, timeout time.Duration) *http.Request {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		panic(err) // the benchmarks' own URLs
	}
	req.Header.Set("Accept", prometheusAccept)
	req.Header.Set("X-Prometheus-Scrape-Timeout-Seconds", strconv.FormatFloat(timeout.Seconds(), 'f', -1, 64))
	return req
}

// timedScrape GETs url as Prometheus would with the given scrape timeout.
func timedScrape(url string, timeout time.Duration) (time.Duration, string, string) {
	client := &http.Client{Timeout: 3 * timeout}
	start := time.Now()
	resp, err := client.Do(scrapeRequest(url, timeout))
	if err != nil {
		return time.Since(start), "nothing", fmt.Sprintf("no answer (client gave up after %s)", 3*timeout)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	took := time.Since(start)
	var lines []string
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "dispatch_up") || strings.HasPrefix(l, "dispatch_status_request_failures_total{loop=\"dispatch\",reason=\"timeout\"}") || (!strings.HasPrefix(l, "#") && !strings.HasPrefix(l, "dispatch") && !strings.HasPrefix(l, "go_") && !strings.HasPrefix(l, "process_") && !strings.HasPrefix(l, "promhttp") && l != "") {
			lines = append(lines, "`"+l+"`")
		}
	}
	return took, resp.Status, strings.Join(lines, ", ")
}

// cpuSeconds is a process's user+system CPU time, from /proc/PID/stat.
func cpuSeconds(b testing.TB, pid int) float64 {
	b.Helper()
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatal(err)
	}
	fields := strings.Fields(string(raw[strings.LastIndexByte(string(raw), ')')+1:]))
	utime, _ := strconv.ParseFloat(fields[11], 64)
	stime, _ := strconv.ParseFloat(fields[12], 64)
	return (utime + stime) / 100 // USER_HZ
}

// procStatusKiB reads a kB field (VmRSS, VmHWM) of /proc/PID/status.
func procStatusKiB(b testing.TB, pid int, field string) float64 {
	b.Helper()
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			v, _ := strconv.ParseFloat(strings.Fields(rest)[0], 64)
			return v
		}
	}
	b.Fatalf("no %s in /proc/%d/status", field, pid)
	return 0
}

// statusServer is the fake daemon of the comparison: it serves a smithy
// sample on /KEY/... and counts the requests per KEY (one key per exporter,
// so each row's fetches are its own); /hang never answers until the
// benchmark ends.
type statusServer struct {
	*httptest.Server
	mu     sync.Mutex
	counts map[string]*atomic.Int64
}

func newStatusServer(b testing.TB, sample string) *statusServer {
	b.Helper()
	body, err := os.ReadFile(filepath.Join("..", "dispatch", "smithy", "testdata", "samples", sample))
	if err != nil {
		b.Fatal(err)
	}
	s := &statusServer{counts: map[string]*atomic.Int64{}}
	stop := make(chan struct{})
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/hang" {
			select {
			case <-stop:
			case <-r.Context().Done():
			}
			return
		}
		key, _, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
		s.counter(key).Add(1)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	}))
	b.Cleanup(func() { close(stop); s.Close() })
	return s
}

func (s *statusServer) counter(key string) *atomic.Int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.counts[key]
	if !ok {
		c = &atomic.Int64{}
		s.counts[key] = c
	}
	return c
}

// status is the URL of target i of the exporter counted under key.
func (s *statusServer) status(key string, i int) string {
	return fmt.Sprintf("%s/%s/t%d/api/daemon/status", s.URL, key, i)
}

// hits is the number of status requests counted under key.
func (s *statusServer) hits(key string) int64 { return s.counter(key).Load() }

// TestFloorServer keeps the comparison's floor honest and building (go vet
// and go test skip testdata): one probe is one status fetch, and the answer
// is the size asked for, with a Content-Length.
func TestFloorServer(t *testing.T) {
	t.Parallel()
	srv := newStatusServer(t, "stuck.json")
	addr := freeAddr(t)
	startProc(t, "floor", buildFloor(t), "--listen="+addr, "--target="+srv.status("floor", 0), "--size=4051", "--lifetime=1m")
	waitHTTP(t, "http://"+addr+"/-/ready")
	for i := range 3 {
		resp, err := http.Get("http://" + addr + "/probe")
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 || len(body) != 4051 || resp.ContentLength != 4051 {
			t.Fatalf("HTTP %d, %d bytes (Content-Length %d), %v", resp.StatusCode, len(body), resp.ContentLength, err)
		}
		if got := srv.hits("floor"); got != int64(i+1) {
			t.Fatalf("%d status fetches after %d probes", got, i+1)
		}
	}
}
