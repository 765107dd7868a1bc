package main

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// BenchmarkCompareJSONExporter runs dispatch_exporter (sidecar mode) and
// prometheus-community/json_exporter v0.7.0 (configured as well as it
// allows, collector/testdata/bench/json_exporter.yml) against the same
// local server serving a real smithy sample, drives both with the same
// closed-loop load in alternating rounds (to cancel machine drift), and
// prints requests/s, latency, CPU per scrape (from /proc), peak RSS and the
// ratios ours/theirs. Both are read on their /probe endpoint, which holds
// only the target's metrics.
//
// Run: make bench-compare
func BenchmarkCompareJSONExporter(b *testing.B) {
	je := os.Getenv("JSON_EXPORTER")
	if je == "" {
		b.Skip("JSON_EXPORTER not set: make bench-compare installs json_exporter v0.7.0")
	}
	const (
		concurrency = 4
		roundTime   = 3 * time.Second
		rounds      = 6 // alternating: ours, theirs, ours, ...
	)
	srv := sampleServer(b, "stuck.json", "/hang")

	oursAddr, theirsAddr := freeAddr(b), freeAddr(b)
	ours := startProc(b, "dispatch_exporter", buildExporter(b), "--target.url="+srv.URL+"/api/daemon/status", "--web.listen-address="+oursAddr, "--log.level=error")
	theirs := startProc(b, "json_exporter", je, "--config.file="+filepath.Join("collector", "testdata", "bench", "json_exporter.yml"), "--web.listen-address="+theirsAddr, "--log.level=error")
	sides := []*side{
		{name: "dispatch_exporter", proc: ours, url: "http://" + oursAddr + "/probe?target=default"},
		{name: "json_exporter", proc: theirs, url: "http://" + theirsAddr + "/probe?module=smithy&target=" + srv.URL + "/api/daemon/status"},
	}
	for _, s := range sides {
		waitHTTP(b, s.url)
	}

	for b.Loop() {
		for _, s := range sides {
			load(b, s.url, concurrency, time.Second) // warm up
		}
		for r := range rounds {
			s := sides[r%2]
			cpu0 := cpuSeconds(b, s.proc.cmd.Process.Pid)
			lat := load(b, s.url, concurrency, roundTime)
			s.cpu += cpuSeconds(b, s.proc.cmd.Process.Pid) - cpu0
			s.wall += roundTime
			s.lat = append(s.lat, lat...)
		}
	}

	fmt.Printf("\nSame load on both (%d concurrent clients, closed loop, %d alternating rounds of %s), %s:\n\n",
		concurrency, rounds, roundTime, "smithy sample stuck.json")
	fmt.Println("| | requests/s | p50 | p99 | CPU per scrape | peak RSS |")
	fmt.Println("|---|---|---|---|---|---|")
	for _, s := range sides {
		s.summarize(b)
		fmt.Printf("| %s | %.0f | %s | %s | %.0f µs | %.1f MiB |\n", s.name, s.rps, us(s.p50), us(s.p99), s.cpuPerScrape*1e6, s.peakRSS)
	}
	o, t := sides[0], sides[1]
	fmt.Printf("| ours/theirs | %.2f | %.2f | %.2f | %.2f | %.2f |\n", o.rps/t.rps,
		o.p50.Seconds()/t.p50.Seconds(), o.p99.Seconds()/t.p99.Seconds(), o.cpuPerScrape/t.cpuPerScrape, o.peakRSS/t.peakRSS)
	b.ReportMetric(o.cpuPerScrape/t.cpuPerScrape, "cpu_ratio")
	b.ReportMetric(o.p99.Seconds()/t.p99.Seconds(), "p99_ratio")
	b.ReportMetric(o.peakRSS/t.peakRSS, "rss_ratio")

	// What each does when the daemon hangs, as Prometheus would ask.
	fmt.Println("\nA daemon whose status endpoint hangs, scraped with a 2s scrape timeout:")
	fmt.Println()
	for _, s := range []struct{ name, url string }{
		{"dispatch_exporter", "http://" + oursAddr + "/metrics"},
		{"json_exporter", "http://" + theirsAddr + "/probe?module=smithy&target=" + srv.URL + "/hang"},
	} {
		if s.name == "dispatch_exporter" { // its flag target is the good one; probe the hanging one through a second instance
			addr := freeAddr(b)
			startProc(b, "dispatch_exporter-hang", ours.cmd.Path, "--target.url="+srv.URL+"/hang", "--web.listen-address="+addr, "--log.level=error")
			waitHTTP(b, "http://"+addr+"/-/ready")
			s.url = "http://" + addr + "/metrics"
		}
		took, code, excerpt := timedScrape(s.url, 2*time.Second)
		fmt.Printf("- %s: answered %s after %s: %s\n", s.name, code, took.Truncate(time.Millisecond), excerpt)
	}
}

type side struct {
	name         string
	proc         *proc
	url          string
	lat          []time.Duration
	cpu          float64
	wall         time.Duration
	rps          float64
	p50, p99     time.Duration
	cpuPerScrape float64
	peakRSS      float64 // MiB
}

func (s *side) summarize(b testing.TB) {
	sort.Slice(s.lat, func(i, j int) bool { return s.lat[i] < s.lat[j] })
	n := len(s.lat)
	s.rps = float64(n) / s.wall.Seconds()
	s.p50, s.p99 = s.lat[n/2], s.lat[n*99/100]
	s.cpuPerScrape = s.cpu / float64(n)
	s.peakRSS = procStatusKiB(b, s.proc.cmd.Process.Pid, "VmHWM") / 1024
}

func us(d time.Duration) string { return fmt.Sprintf("%.0f µs", float64(d)/1e3) }

// load runs a closed loop of clients GETting url for d; it returns every
// request's latency, and fails on any non-200 answer.
func load(b testing.TB, url string, clients int, d time.Duration) []time.Duration {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients}}
	defer client.CloseIdleConnections()
	deadline := time.Now().Add(d)
	var mu sync.Mutex
	var all []time.Duration
	var wg sync.WaitGroup
	for range clients {
		wg.Go(func() {
			var mine []time.Duration
			for time.Now().Before(deadline) {
				start := time.Now()
				resp, err := client.Get(url)
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

// timedScrape GETs url as Prometheus would with the given scrape timeout.
func timedScrape(url string, timeout time.Duration) (time.Duration, string, string) {
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.Header.Set("X-Prometheus-Scrape-Timeout-Seconds", strconv.FormatFloat(timeout.Seconds(), 'f', -1, 64))
	client := &http.Client{Timeout: 3 * timeout}
	start := time.Now()
	resp, err := client.Do(req)
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

// sampleServer serves a smithy sample on every path but hang, where it
// never answers until the benchmark ends.
func sampleServer(b testing.TB, sample, hang string) *httptest.Server {
	b.Helper()
	body, err := os.ReadFile(filepath.Join("dispatch", "smithy", "testdata", "samples", sample))
	if err != nil {
		b.Fatal(err)
	}
	stop := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == hang {
			select {
			case <-stop:
			case <-r.Context().Done():
			}
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	}))
	b.Cleanup(func() { close(stop); srv.Close() })
	return srv
}
