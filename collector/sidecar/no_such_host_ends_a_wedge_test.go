package sidecar

import (
	"context"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/stoneforge/dispatch_exporter/collector/family/familytest"

	"github.com/stretchr/testify/require"

	"github.com/stoneforge/dispatch_exporter/dispatch"
	"github.com/stoneforge/dispatch_exporter/dispatch/dispatchtest"
)

// A name that no longer resolves (a deleted pod's DNS name) means nothing
// listens there: like a refusal, it ends a wedge judged before, and ten
// minutes of it are DOWN throughout, never stale.
func TestNoSuchHostEndsAWedge(t *testing.T) {
	t.Parallel()
	sd := &scriptedDaemon{now: t0}
	gone := false
	sd.resp = func(req *http.Request) (*http.Response, error) {
		if gone {
			return nil, &net.OpError{Op: "dial", Net: "tcp", Err: &net.DNSError{Err: "no such host", Name: "smithy-0.smithy", IsNotFound: true}}
		}
		return answer(req, 200, wedgedBody(sd.now)), nil
	}
	var logs dispatchtest.Logs
	tgt := newTestTarget(t, "http://smithy-0.smithy:3457/api/daemon/status", &logs, func(o *TargetOptions) {
		sd.wire(o)
	})
	require.Equal(t, dispatch.StateWedged, tgt.Probe(context.Background()).State().State)
	gone = true
	for range 20 { // 10 minutes of NXDOMAIN
		sd.now = sd.now.Add(30 * time.Second)
		p := tgt.Probe(context.Background())
		st := p.State()
		at := sd.now.Sub(t0)
		require.Equal(t, dispatch.StateDown, st.State, "%s: no such host is refused (README): %s", at, st.Reason)
		require.Equal(t, dispatch.EvidenceRefused, st.Evidence, "%s", at)
		require.Zero(t, familytest.ValueOf(t, familytest.Values(t, p), "dispatch_poll_stale"), "%s", at)
	}
}
