package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// BenchmarkDetectionLatency measures, on the end-to-end stack (real
// Prometheus and Alertmanager; scrape and evaluation every 1s, threshold 3s,
// for: 1s, group_wait 1s), how long each stage takes from the moment a
// cycle wedges, against its floor:
//
//	exporter: stale visible on /metrics     floor: threshold
//	prometheus: alert firing                floor: + up to scrape + evaluation interval, + for:
//	webhook: notification received          floor: + group_wait
//
// Run: make bench-latency (go test -run '^$' -bench DetectionLatency -benchtime 1x . in e2e/)
func BenchmarkDetectionLatency(b *testing.B) {
	const threshold = 3 * time.Second
	const rounds = 3
	s := startStack(b, threshold.String())
	for b.Loop() {
		var rows [][]string
		stages := map[string][]time.Duration{}
		for round := range rounds {
			for _, inst := range s.instances() {
				waitNotFiring(b, s, inst)
			}
			s.post(b, "/demo/wedge?phase=orphan-recovery")
			wedgedAt := wedgeStart(b, s.demoURL)
			// Watch every stage of both exporters at once.
			type seen struct{ stale, firing, notified time.Time }
			at := map[string]*seen{}
			for _, inst := range s.instances() {
				at[inst] = &seen{}
			}
			pollUntil(b, func() bool {
				done := true
				for inst, t := range at {
					now := time.Now()
					if t.stale.IsZero() && metricValue(b, "http://"+inst+"/metrics", `dispatch_poll_stale{loop="dispatch"}`) == "1" {
						t.stale = now
					}
					if t.firing.IsZero() && alertState(b, s.prom, "DispatchDaemonWedged", inst) == "firing" {
						t.firing = now
					}
					if n, ok := s.hook.first("DispatchDaemonWedged", inst, "firing", wedgedAt); ok && t.notified.IsZero() {
						t.notified = n.At
					}
					done = done && !t.stale.IsZero() && !t.firing.IsZero() && !t.notified.IsZero()
				}
				return done
			})
			for _, inst := range s.instances() {
				t := at[inst]
				kind := "in-process"
				if inst == s.sideAddr {
					kind = "sidecar"
				}
				stages[kind+" exporter"] = append(stages[kind+" exporter"], t.stale.Sub(wedgedAt.Add(threshold)))
				stages[kind+" prometheus"] = append(stages[kind+" prometheus"], t.firing.Sub(t.stale))
				stages[kind+" webhook"] = append(stages[kind+" webhook"], t.notified.Sub(t.firing))
				rows = append(rows, []string{fmt.Sprint(round + 1), kind, ms(t.stale.Sub(wedgedAt)), ms(t.firing.Sub(wedgedAt)), ms(t.notified.Sub(wedgedAt))})
			}
			s.post(b, "/demo/unwedge")
		}
		fmt.Printf("\nDetection latency from the wedge (threshold %s; scrape and evaluation 1s; for: 1s; group_wait 1s):\n\n", threshold)
		fmt.Println("| round | exporter | stale on /metrics | alert firing | notification |")
		fmt.Println("|---|---|---|---|---|")
		for _, r := range rows {
			fmt.Printf("| %s |\n", strings.Join(r, " | "))
		}
		fmt.Println("\nMedian time each stage adds, against its floor:")
		fmt.Println()
		fmt.Println("| stage | median | floor |")
		fmt.Println("|---|---|---|")
		floors := map[string]string{"exporter": "0 (threshold already subtracted)", "prometheus": "1s to 3s (for: + up to one scrape + one evaluation)", "webhook": "1s (group_wait)"}
		names := make([]string, 0, len(stages))
		for k := range stages {
			names = append(names, k)
		}
		sort.Strings(names)
		for _, k := range names {
			med := median(stages[k])
			fmt.Printf("| %s | %s | %s |\n", k, ms(med), floors[k[strings.LastIndex(k, " ")+1:]])
			b.ReportMetric(med.Seconds(), strings.ReplaceAll(k, " ", "_")+"_s")
		}
	}
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2fs", d.Seconds()) }

func median(ds []time.Duration) time.Duration {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

// pollUntil polls cond every 5ms (for up to a minute) and returns when it held.
func pollUntil(b testing.TB, cond func() bool) time.Time {
	b.Helper()
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		if cond() {
			return time.Now()
		}
		time.Sleep(5 * time.Millisecond)
	}
	b.Fatal("condition never held")
	return time.Time{}
}

// wedgeStart is when the wedged cycle started: its last_started once it is
// in flight (the demo hangs at the start of the phase the wedge names).
func wedgeStart(b testing.TB, demo string) time.Time {
	b.Helper()
	var started string
	pollUntil(b, func() bool {
		body := scrape(b, demo+"/metrics")
		if metric(body, `dispatch_poll_in_flight{loop="dispatch"}`) != "1" {
			return false
		}
		time.Sleep(300 * time.Millisecond) // past any phase delay: still in flight means wedged
		body = scrape(b, demo+"/metrics")
		started = metric(body, `dispatch_poll_last_started_seconds{loop="dispatch"}`)
		return metric(body, `dispatch_poll_in_flight{loop="dispatch"}`) == "1"
	})
	secs, err := strconv.ParseFloat(started, 64)
	if err != nil {
		b.Fatal(err)
	}
	return time.Unix(0, int64(secs*1e9))
}

// scrape is a GET of url's body, whatever its status.
func scrape(b testing.TB, url string) string {
	b.Helper()
	resp, err := http.Get(url)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		b.Fatal(err)
	}
	return string(body)
}

func metricValue(b testing.TB, url, series string) string { return metric(scrape(b, url), series) }

// alertState is the state of an alert for an instance in Prometheus:
// "firing", "pending" or "".
func alertState(b testing.TB, prom, alertname, instance string) string {
	resp, err := http.Get(prom + "/api/v1/alerts")
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Data struct {
			Alerts []struct {
				Labels map[string]string `json:"labels"`
				State  string            `json:"state"`
			} `json:"alerts"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		b.Fatal(err)
	}
	for _, a := range body.Data.Alerts {
		if a.Labels["alertname"] == alertname && a.Labels["instance"] == instance {
			return a.State
		}
	}
	return ""
}

func waitNotFiring(b testing.TB, s *stack, instance string) {
	b.Helper()
	pollUntil(b, func() bool { return alertState(b, s.prom, "DispatchDaemonWedged", instance) == "" })
}
