package sidecar

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

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
