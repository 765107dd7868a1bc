package sidecar

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stoneforge/dispatch_exporter/collector/config"

	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stoneforge/dispatch_exporter/dispatch/dispatchtest"
)

// A daemon answers slowly (300ms). A scrape's status request is in flight
// when config reloads change only that target's timeout (the same URL: the
// new Target adopts the tracker and the policy), while the kubelet's
// liveness probes arrive. The new Target shares the request in flight
// rather than sending a second one to the sick daemon: one daemon (one URL,
// one tracker), one status request at a time, across reloads. Run with
// -race, with Probe, Liveness and Apply concurrent.
func TestAReloadThatKeepsTheURLKeepsOneRequestInFlight(t *testing.T) {
	t.Parallel()
	var inFlight, maxInFlight atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for m := maxInFlight.Load(); n > m && !maxInFlight.CompareAndSwap(m, n); m = maxInFlight.Load() {
		}
		time.Sleep(300 * time.Millisecond)
		fmt.Fprint(w, cyclingBody(time.Now()))
	}))
	t.Cleanup(srv.Close)
	var logs dispatchtest.Logs
	targets := NewTargets(TargetDefaults{Timeout: 2 * time.Second, Logger: logs.Logger()})
	cfg := func(timeout time.Duration) *config.Config {
		c := SingleTarget(srv.URL)
		c.Targets[0].Timeout = model.Duration(timeout)
		return c
	}
	require.NoError(t, targets.Apply(cfg(2*time.Second)))

	var wg sync.WaitGroup
	old, _ := targets.Get(DefaultTargetName)
	wg.Add(1)
	go func() { defer wg.Done(); old.Probe(context.Background()) }() // a scrape in flight
	time.Sleep(50 * time.Millisecond)
	for i := range 4 {
		wg.Add(2)
		go func() { defer wg.Done(); require.NoError(t, targets.Apply(cfg(time.Duration(3+i)*time.Second))) }()
		go func() {
			defer wg.Done()
			tgt, _ := targets.Get(DefaultTargetName)
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			tgt.Liveness(ctx, false)
		}()
	}
	wg.Wait()
	assert.Equal(t, int32(1), maxInFlight.Load(), "one daemon (one URL, one tracker): one status request in flight at a time")
}
