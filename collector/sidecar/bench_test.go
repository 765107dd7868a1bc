package sidecar

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/stoneforge/dispatch_exporter/dispatch/smithy"
)

// BenchmarkSidecarProbe is the sidecar's own work for one probe of a real
// smithy sample: decode the body, update the tracker, judge, and collect
// the metrics (the HTTP round trip excluded). Goal: ≤ 20 µs of CPU.
func BenchmarkSidecarProbe(b *testing.B) {
	body := []byte(smithySample(b, "stuck.json"))
	tgt := NewTarget(TargetOptions{Name: "smithy", URL: "http://unused"})
	ch := make(chan prometheus.Metric, 64)
	b.ReportAllocs()
	for b.Loop() {
		st, err := smithy.Decode(body)
		if err != nil {
			b.Fatal(err)
		}
		tgt.mu.Lock()
		obs := tgt.tracker.Answer(st.Report(), time.Now())
		tgt.mu.Unlock()
		p := Probe{target: tgt, result: probeResult{obs: obs, failures: tgt.failures}}
		p.Collect(ch)
		for len(ch) > 0 {
			<-ch
		}
	}
}

// BenchmarkDecode is the status decoder alone, on the same sample.
func BenchmarkDecode(b *testing.B) {
	body := []byte(smithySample(b, "stuck.json"))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := smithy.Decode(body); err != nil {
			b.Fatal(err)
		}
	}
}
