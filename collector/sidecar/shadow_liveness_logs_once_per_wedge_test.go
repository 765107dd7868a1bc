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

// Shadow mode (the rollout step the README recommends first): the daemon
// reports a wedge and, every other answer, cannot compute its health; the
// kubelet probes every second for two minutes. The page stays up (WEDGED
// throughout), and the liveness log follows the wedge, not each answer:
// one "would ask for a restart" for the one wedge, and no "liveness
// passing", for nothing recovered.
func TestShadowLivenessLogsOnceForOneWedge(t *testing.T) {
	t.Parallel()
	sd := &scriptedDaemon{now: t0}
	var logs dispatchtest.Logs
	tgt := newTestTarget(t, "http://smithy:3457/api/daemon/status", &logs, func(o *TargetOptions) {
		sd.wire(o)
	})
	n := 0
	sd.resp = func(req *http.Request) (*http.Response, error) {
		n++
		if n%2 == 0 {
			return answer(req, 200, healthLessBody()), nil
		}
		return answer(req, 200, wedgedBody(sd.now)), nil
	}
	for range 120 {
		p, _ := tgt.Liveness(context.Background(), true)
		require.Equal(t, dispatch.StateWedged, p.State().State)
		sd.now = sd.now.Add(time.Second)
	}
	assert.Equal(t, 1, logs.Count("would ask for a restart"), "one wedge, one line")
	assert.Zero(t, logs.Count("liveness passing"), "nothing passed: the wedge went on")
}
