package collector

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/stoneforge/dispatch_exporter/dispatch"
	"github.com/stoneforge/dispatch_exporter/dispatch/dispatchtest"
)

// BenchmarkScrapeInProcess is one full /metrics scrape (gather and encode
// the text format) of the in-process collector, for 1 and 10 loops.
func BenchmarkScrapeInProcess(b *testing.B) {
	for _, n := range []int{1, 10} {
		b.Run(fmt.Sprintf("loops=%d", n), func(b *testing.B) {
			var loops []Monitored
			for i := range n {
				l, err := dispatch.NewLoop(func(context.Context) error { return nil },
					dispatch.Options{Name: fmt.Sprintf("loop%d", i), Interval: time.Hour})
				if err != nil {
					b.Fatal(err)
				}
				l.SetQueue(3, 1)
				loops = append(loops, l)
			}
			c, err := NewLoopCollector(loops...)
			if err != nil {
				b.Fatal(err)
			}
			reg := prometheus.NewRegistry()
			reg.MustRegister(c)
			h := promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
			req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
			b.ReportAllocs()
			for b.Loop() {
				h.ServeHTTP(dispatchtest.DiscardResponse{}, req)
			}
		})
	}
}
