package sidecar

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	promconfig "github.com/prometheus/common/config"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stoneforge/dispatch_exporter/collector/config"
	"github.com/stoneforge/dispatch_exporter/dispatch"
)

// The landing page reads a target that nothing has read lately, instead of
// showing UNKNOWN until a scrape comes; a target read recently is shown as
// it was read, with no request.
func TestFreshStatesReadsOnlyTargetsNotReadLately(t *testing.T) {
	t.Parallel()
	var requests atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		fmt.Fprint(w, cyclingBody(time.Now()))
	}))
	t.Cleanup(srv.Close)
	targets := NewTargets(TargetDefaults{Timeout: time.Second})
	require.NoError(t, targets.Apply(SingleTarget(srv.URL)))
	require.Equal(t, dispatch.StateUnknown, targets.States()[0].State, "nothing read yet")

	states := targets.FreshStates(context.Background(), time.Minute)
	assert.Equal(t, dispatch.StateHealthy, states[0].State, "read for the page: %s", states[0].Reason)
	assert.EqualValues(t, 1, requests.Load())

	states = targets.FreshStates(context.Background(), time.Minute)
	assert.Equal(t, dispatch.StateHealthy, states[0].State)
	assert.EqualValues(t, 1, requests.Load(), "read within the minute: shown as read, not read again")
}

// A read of the landing page with many unread targets reads each, but no
// more than landingProbes at once: a thousand targets never read are not
// a thousand requests, nor a thousand goroutines, at the same moment.
func TestFreshStatesReadsAtMostLandingProbesAtOnce(t *testing.T) {
	t.Parallel()
	var requests, inFlight, most atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
		time.Sleep(20 * time.Millisecond)
		fmt.Fprint(w, cyclingBody(time.Now()))
	}))
	t.Cleanup(srv.Close)
	const n = 3 * landingProbes
	cfg := &config.Config{}
	for i := range n {
		cfg.Targets = append(cfg.Targets, config.TargetConfig{Name: fmt.Sprint("t", i), URL: srv.URL,
			HTTPClientConfig: promconfig.DefaultHTTPClientConfig})
	}
	targets := NewTargets(TargetDefaults{Timeout: 5 * time.Second})
	require.NoError(t, targets.Apply(cfg))

	states := targets.FreshStates(context.Background(), time.Minute)
	for _, st := range states {
		assert.Equal(t, dispatch.StateHealthy, st.State, "%s: %s", st.Name, st.Reason)
	}
	assert.EqualValues(t, n, requests.Load(), "each unread target read once")
	assert.LessOrEqual(t, most.Load(), int32(landingProbes), "reads at once")
}
