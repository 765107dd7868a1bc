package sidecar

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stoneforge/dispatch_exporter/dispatch"
	"github.com/stoneforge/dispatch_exporter/dispatch/dispatchtest"
)

// History (shadow mode, the rollout step the README recommends first): the
// daemon reports a wedge and, every other answer, cannot compute its health.
// The kubelet probes every second for two minutes. The page stays up
// (WEDGED throughout), but the liveness "episode" follows each answer:
// "liveness (shadow mode): would ask for a restart" and "liveness passing"
// alternate, one pair every two seconds, 120 log lines for one wedge, and
// "liveness passing" claims a recovery that did not happen.
func TestShadowLivenessLogsOnceForOneWedge(t *testing.T) {
	t.Parallel()
	fd := &fakeDaemon{now: t0}
	var logs dispatchtest.Logs
	tgt := newTestTarget(t, "http://smithy:3457/api/daemon/status", &logs, func(o *TargetOptions) {
		o.Client = &http.Client{Transport: fd}
		o.Now = func() time.Time { return fd.now }
	})
	n := 0
	fd.resp = func(req *http.Request) (*http.Response, error) {
		n++
		if n%2 == 0 {
			return answer(req, 200, `{"isRunning":true,"available":true,"config":{"pollIntervalMs":5000}}`), nil
		}
		return answer(req, 200, wedgedBody(fd.now)), nil
	}
	for range 120 {
		p, _ := tgt.Liveness(context.Background(), true)
		require.Equal(t, dispatch.StateWedged, p.State().State)
		fd.now = fd.now.Add(time.Second)
	}
	assert.Equal(t, 1, logs.Count("would ask for a restart"), "one wedge, one line")
	assert.Zero(t, logs.Count("liveness passing"), "nothing passed: the wedge went on")
}
