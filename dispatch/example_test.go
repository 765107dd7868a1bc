package dispatch_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/stoneforge/dispatch_exporter/collector"
	"github.com/stoneforge/dispatch_exporter/dispatch"
)

// A daemon that keeps its own loop (a ticker, a scheduler) marks each
// cycle on a Monitor and registers a collector for it; the metrics, the
// watchdog's log lines and Liveness all read one decision.
func ExampleMonitor() {
	mon, err := dispatch.NewMonitor(dispatch.Options{Name: "dispatch", Interval: 5 * time.Second})
	if err != nil {
		panic(err)
	}
	c, err := collector.NewLoopCollector(mon)
	if err != nil {
		panic(err)
	}
	reg := prometheus.NewRegistry() // or prometheus.MustRegister(c)
	reg.MustRegister(c)

	ctx := context.Background() // the loop's own: cancelling it ends the run
	mon.Started(ctx)
	defer mon.Stopped()
	for range 2 { // the daemon's loop: for range ticker.C { ... }
		mon.Begin()
		mon.SetPhase("inbox") // a wedge then says where it hangs
		mon.SetQueue(3, 1)    // ready tasks, available workers
		mon.End(nil)          // the cycle's error, nil when none
	}

	_, decision := mon.Assess()
	fmt.Println(decision.State, mon.Stats().Results[dispatch.ResultOK])
	// Output: healthy 2
}

// Liveness answers a probe from the decision the metrics show: an error
// exactly when restarting the process is the fix.
func ExampleMonitor_Liveness() {
	mon, err := dispatch.NewMonitor(dispatch.Options{Name: "dispatch", Interval: 5 * time.Second})
	if err != nil {
		panic(err)
	}
	livez := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if err := mon.Liveness(); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
		}
	})

	rec := httptest.NewRecorder()
	livez.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/livez", nil))
	fmt.Println(rec.Code)
	// Output: 200
}
