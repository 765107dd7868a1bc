package sidecar

import (
	"testing"
	"time"

	"github.com/stoneforge/dispatch_exporter/dispatch/smithy"
)

// BenchmarkSidecarProbe is the sidecar's own work for one probe of a real
// smithy sample: decode the body, update the tracker, judge, and gather
// the metric families as /probe and /metrics do (the HTTP round trip and
// the encoding excluded). Goal: ≤ 20 µs of CPU.
func BenchmarkSidecarProbe(b *testing.B) {
	body := []byte(smithySample(b, "stuck.json"))
	tgt := NewTarget(TargetOptions{Name: "smithy", URL: "http://unused"})
	b.ReportAllocs()
	for b.Loop() {
		st, err := smithy.Decode(body)
		if err != nil {
			b.Fatal(err)
		}
		tgt.mu.Lock()
		obs := tgt.tracker.Answer(st.Report(), time.Now())
		live := tgt.livenessSnapshot()
		tgt.mu.Unlock()
		p := Probe{target: tgt, result: probeResult{obs: obs, status: st, failures: tgt.failures, liveness: live}}
		if _, err := p.Gather(); err != nil {
			b.Fatal(err)
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
