package e2e

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkScale1000Targets runs the exporter binary in multi-target mode
// with 1,000 configured targets (one local server answering on 1,000 paths;
// target t0 hangs, a slow daemon) and measures:
//
//   - idle RSS, and binary size;
//   - a realistic rate: every target probed every 15s, concurrently, for 30s
//     (CPU, RSS, goroutines, probe latency of the others while t0 hangs);
//   - an hour compressed: 240 probes per target, as fast as 32 clients go
//     (each on different targets: one client per target at any moment, as
//     Prometheus scrapes), then goroutines and heap afterwards (no leak).
//
// The status requests the local server received are counted, so each part
// prints fetches per probe (1.000: no probe was answered from another's
// request).
//
// Run: make bench-scale
func BenchmarkScale1000Targets(b *testing.B) {
	if testing.Short() {
		b.Skip("-short")
	}
	const (
		targets  = 1000
		every    = 15 * time.Second
		realTime = 30 * time.Second
		perHour  = 240 // one probe per target every 15s for an hour
	)
	srv := newStatusServer(b, "healthy.json")

	dir := b.TempDir()
	var cfg strings.Builder
	cfg.WriteString("targets:\n")
	for i := range targets {
		url := srv.status("scale", i)
		if i == 0 {
			url = srv.URL + "/hang"
		}
		fmt.Fprintf(&cfg, "  - {name: t%d, url: '%s', timeout: 2s}\n", i, url)
	}
	cfgPath := filepath.Join(dir, "targets.yml")
	if err := os.WriteFile(cfgPath, []byte(cfg.String()), 0o644); err != nil {
		b.Fatal(err)
	}
	bin := buildExporter(b)
	addr := freeAddr(b)
	p := startProc(b, "dispatch_exporter", bin, "--config.file="+cfgPath, "--web.listen-address="+addr, "--log.level=error")
	base := "http://" + addr
	waitHTTP(b, base+"/-/ready")
	pid := p.cmd.Process.Pid
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}, Timeout: 30 * time.Second}
	probe := func(i int) (time.Duration, error) {
		start := time.Now()
		// As Prometheus 3 scrapes, with the default 10s scrape timeout.
		resp, err := client.Do(scrapeRequest(fmt.Sprintf("%s/probe?target=t%d", base, i), 10*time.Second))
		if err != nil {
			return 0, err
		}
		defer resp.Body.Close()
		buf := make([]byte, 8<<10)
		for {
			if _, err := resp.Body.Read(buf); err != nil {
				break
			}
		}
		if resp.StatusCode != 200 {
			return 0, fmt.Errorf("t%d: HTTP %d", i, resp.StatusCode)
		}
		return time.Since(start), nil
	}
	goroutines := func() float64 { return metricNumber(b, scrape(b, base+"/metrics"), "go_goroutines") }
	heap := func() float64 {
		return metricNumber(b, scrape(b, base+"/metrics"), "go_memstats_heap_inuse_bytes") / (1 << 20)
	}
	stat, _ := os.Stat(bin)
	idleRSS := procStatusKiB(b, pid, "VmRSS") / 1024

	for b.Loop() {
		// A realistic rate: each target every 15s, probes concurrent.
		var mu sync.Mutex
		var others []time.Duration
		var slow []time.Duration
		var maxG atomic.Int64
		stopWatch := make(chan struct{})
		watchDone := make(chan struct{})
		go func() { // goroutines, once a second
			defer close(watchDone)
			for {
				if g := int64(goroutines()); g > maxG.Load() {
					maxG.Store(g)
				}
				select {
				case <-stopWatch:
					return
				case <-time.After(time.Second):
				}
			}
		}()
		cpu0, fetch0 := cpuSeconds(b, pid), srv.hits("scale")
		tick := time.NewTicker(every / targets)
		var wg sync.WaitGroup
		deadline := time.Now().Add(realTime)
		for i := 0; time.Now().Before(deadline); i++ {
			<-tick.C
			wg.Go(func() {
				d, err := probe(i % targets)
				if err != nil {
					b.Error(err)
					return
				}
				mu.Lock()
				if i%targets == 0 {
					slow = append(slow, d)
				} else {
					others = append(others, d)
				}
				mu.Unlock()
			})
		}
		tick.Stop()
		wg.Wait()
		realCPU := cpuSeconds(b, pid) - cpu0
		realFetches := srv.hits("scale") - fetch0
		realRSS := procStatusKiB(b, pid, "VmRSS") / 1024
		realProbes := len(others) + len(slow)
		close(stopWatch)
		<-watchDone
		gAfterReal := goroutines()

		// An hour compressed: 240 probes per target, 32 clients.
		cpu0, fetch0 = cpuSeconds(b, pid), srv.hits("scale")
		start := time.Now()
		var next atomic.Int64
		for range 32 {
			wg.Go(func() {
				for {
					n := int(next.Add(1)) - 1
					if n >= targets*perHour {
						return
					}
					if n%targets == 0 {
						continue // the hanging target once is enough; here we want throughput
					}
					if _, err := probe(n % targets); err != nil {
						b.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
		hourWall := time.Since(start)
		hourCPU := cpuSeconds(b, pid) - cpu0
		hourFetches := srv.hits("scale") - fetch0
		hourProbes := targets*perHour - perHour
		time.Sleep(3 * time.Second) // let idle connections and in-flight requests end
		client.CloseIdleConnections()
		time.Sleep(time.Second)
		gEnd, heapEnd := goroutines(), heap()
		peak := procStatusKiB(b, pid, "VmHWM") / 1024
		endRSS := procStatusKiB(b, pid, "VmRSS") / 1024

		sort.Slice(others, func(i, j int) bool { return others[i] < others[j] })
		fmt.Printf("\n1,000 targets in one exporter (multi-target mode, /probe?target=NAME; t0 hangs, 2s timeout):\n\n")
		fmt.Println("| measure | value |")
		fmt.Println("|---|---|")
		fmt.Printf("| binary size (default build) | %.1f MiB |\n", float64(stat.Size())/(1<<20))
		fmt.Printf("| RSS idle, 1,000 targets configured | %.1f MiB |\n", idleRSS)
		fmt.Printf("| each target every 15s for %s: probes | %d (%.0f/s), %.3f status fetches per probe of a live target |\n",
			realTime, realProbes, float64(realProbes)/realTime.Seconds(), float64(realFetches)/float64(len(others)))
		fmt.Printf("| ... CPU | %.1f%% of one core (%.0f µs per probe) |\n", 100*realCPU/realTime.Seconds(), 1e6*realCPU/float64(realProbes))
		fmt.Printf("| ... RSS | %.1f MiB |\n", realRSS)
		fmt.Printf("| ... goroutines, most seen | %d |\n", maxG.Load())
		fmt.Printf("| ... other targets' probe latency while t0 hangs: p50 / p99 / max | %s / %s / %s |\n",
			us(others[len(others)/2]), us(others[len(others)*99/100]), us(others[len(others)-1]))
		fmt.Printf("| ... t0's probes (hanging daemon) | %d, each answered in %s |\n", len(slow), durations(slow))
		fmt.Printf("| an hour compressed: %d probes, 32 clients | %s (%.0f/s), %.0f µs CPU per probe, %.3f status fetches per probe |\n",
			hourProbes, hourWall.Truncate(time.Millisecond), float64(hourProbes)/hourWall.Seconds(), 1e6*hourCPU/float64(hourProbes), float64(hourFetches)/float64(hourProbes))
		fmt.Printf("| ... goroutines after the real-rate run / after the hour | %.0f / %.0f |\n", gAfterReal, gEnd)
		fmt.Printf("| ... heap in use after the hour | %.1f MiB |\n", heapEnd)
		fmt.Printf("| ... RSS after the hour / peak RSS of the whole run | %.1f / %.1f MiB |\n", endRSS, peak)
		b.ReportMetric(peak, "peak_rss_MiB")
		b.ReportMetric(realRSS, "rss_1000_targets_MiB")
		b.ReportMetric(gEnd-gAfterReal, "goroutine_growth")
		if realFetches < int64(len(others)) || hourFetches < int64(hourProbes) {
			b.Errorf("fewer status fetches than probes (%d for %d, %d for %d): probes were answered from shared requests",
				realFetches, len(others), hourFetches, hourProbes)
		}
	}
}

func durations(ds []time.Duration) string {
	if len(ds) == 0 {
		return "-"
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	return fmt.Sprintf("%s to %s", ds[0].Truncate(time.Millisecond), ds[len(ds)-1].Truncate(time.Millisecond))
}
