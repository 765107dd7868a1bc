package sidecar

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stoneforge/dispatch_exporter/collector/family/familytest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stoneforge/dispatch_exporter/dispatch"
	"github.com/stoneforge/dispatch_exporter/dispatch/dispatchtest"
)

// liveBody is a healthy daemon's answer now (real clock), interval 100ms.
func liveBody() string {
	now := time.Now().UTC()
	return fmt.Sprintf(`{"isRunning":true,"available":true,"config":{"pollIntervalMs":100},"health":{"readyUnassignedTasks":0,"availableWorkers":1,"computedAt":%q,"lastPollStartedAt":%q,"lastPollCompletedAt":%q}}`,
		now.Format(time.RFC3339Nano), now.Add(-50*time.Millisecond).Format(time.RFC3339Nano), now.Add(-40*time.Millisecond).Format(time.RFC3339Nano))
}

// holdingListener is the kernel's accept backlog of a daemon whose event
// loop is blocked: TCP connections are accepted, nothing reads them.
type holdingListener struct {
	net.Listener
	blocked *atomic.Bool
	mu      sync.Mutex
	held    []net.Conn
}

func (l *holdingListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil || !l.blocked.Load() {
			return c, err
		}
		l.mu.Lock()
		l.held = append(l.held, c)
		l.mu.Unlock()
	}
}

func (l *holdingListener) closeHeld() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, c := range l.held {
		c.Close()
	}
}

// A daemon whose event loop blocks, served over HTTPS: the kernel accepts
// the TCP connection and the handshake never completes. That is a hang of
// the daemon (the connection was made), judged as over plain HTTP.
func TestBlockedDaemonOverHTTPSIsJudged(t *testing.T) {
	for _, tlsOn := range []bool{false, true} {
		t.Run(fmt.Sprint("tls=", tlsOn), func(t *testing.T) {
			var blocked atomic.Bool
			stop := make(chan struct{})
			srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if blocked.Load() {
					select {
					case <-stop:
					case <-r.Context().Done():
					}
					return
				}
				fmt.Fprint(w, liveBody())
			}))
			hl := &holdingListener{Listener: srv.Listener, blocked: &blocked}
			srv.Listener = hl
			if tlsOn {
				srv.StartTLS()
			} else {
				srv.Start()
			}
			defer func() { close(stop); hl.closeHeld(); srv.Close() }()
			var logs dispatchtest.Logs
			tgt := newTestTarget(t, srv.URL, &logs, func(o *TargetOptions) {
				o.Client = srv.Client()
				o.Timeout = 100 * time.Millisecond
				o.StaleThreshold = 300 * time.Millisecond
			})
			require.Equal(t, dispatch.StateHealthy, tgt.Probe(context.Background()).State().State)
			blocked.Store(true)
			var evidences []string
			judged := false
			for deadline := time.Now().Add(1500 * time.Millisecond); time.Now().Before(deadline); {
				st := tgt.Probe(context.Background()).State()
				if len(evidences) == 0 || evidences[len(evidences)-1] != st.Evidence.String() {
					evidences = append(evidences, st.Evidence.String())
				}
				if st.State == dispatch.StateWedged && st.Restart {
					judged = true
					break
				}
			}
			t.Logf("tls=%v: evidence sequence %v, judged wedged and restartable: %v", tlsOn, evidences, judged)
			assert.True(t, judged, "a daemon blocked for 5x the threshold is WEDGED and restarted, HTTP or HTTPS")
		})
	}
}

// fakeDaemon answers through an in-memory transport on a fake clock.
type fakeDaemon struct {
	now  time.Time
	resp func(req *http.Request) (*http.Response, error)
}

func (f *fakeDaemon) RoundTrip(req *http.Request) (*http.Response, error) { return f.resp(req) }

func answer(req *http.Request, code int, body string) *http.Response {
	return &http.Response{StatusCode: code, Status: fmt.Sprintf("%d %s", code, http.StatusText(code)),
		Header: http.Header{}, Body: io.NopCloser(strings.NewReader(body)), Request: req}
}

// wedgedBody: a cycle in flight since t0-70s, on a daemon whose clock is ours.
func wedgedBody(now time.Time) string {
	ts := func(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }
	return fmt.Sprintf(`{"isRunning":true,"available":true,"config":{"pollIntervalMs":5000},"health":{"readyUnassignedTasks":0,"availableWorkers":1,"computedAt":%q,"lastPollStartedAt":%q,"lastPollCompletedAt":%q}}`,
		ts(now), ts(t0.Add(-70*time.Second)), ts(t0.Add(-75*time.Second)))
}

// A name that no longer resolves (a deleted pod's DNS name) means nothing
// listens there: like a refusal, it ends a wedge judged before.
func TestNoSuchHostEndsAWedge(t *testing.T) {
	fd := &fakeDaemon{now: t0}
	gone := false
	fd.resp = func(req *http.Request) (*http.Response, error) {
		if gone {
			return nil, &net.OpError{Op: "dial", Net: "tcp", Err: &net.DNSError{Err: "no such host", Name: "smithy-0.smithy", IsNotFound: true}}
		}
		return answer(req, 200, wedgedBody(fd.now)), nil
	}
	var logs dispatchtest.Logs
	tgt := newTestTarget(t, "http://smithy-0.smithy:3457/api/daemon/status", &logs, func(o *TargetOptions) {
		o.Client = &http.Client{Transport: fd}
		o.Now = func() time.Time { return fd.now }
	})
	require.Equal(t, dispatch.StateWedged, tgt.Probe(context.Background()).State().State)
	gone = true
	wedged := 0
	for i := 0; i < 20; i++ { // 10 minutes of NXDOMAIN
		fd.now = fd.now.Add(30 * time.Second)
		p := tgt.Probe(context.Background())
		st := p.State()
		if i == 19 {
			t.Logf("after 10 minutes of 'no such host': evidence %s, state %s, stale %v: %s", st.Evidence, st.State, familytest.Values(t, p)["dispatch_poll_stale"], st.Reason)
		}
		if st.State != dispatch.StateDown {
			wedged++
		}
	}
	assert.Zero(t, wedged, "probes of 20 not DOWN while the host does not exist (README: no such host = refused)")
}

// Shadow mode changes only the liveness answer: the same evidence gives the
// same dispatch_poll_stale and state as enforce mode.
func TestShadowModeChangesOnlyTheLivenessAnswer(t *testing.T) {
	run := func(shadow bool) (states []dispatch.State, stale []float64) {
		fd := &fakeDaemon{now: t0}
		starting := false
		fd.resp = func(req *http.Request) (*http.Response, error) {
			if starting {
				return answer(req, 503, `{"error":"starting"}`), nil
			}
			return answer(req, 200, wedgedBody(fd.now)), nil
		}
		var logs dispatchtest.Logs
		tgt := newTestTarget(t, "http://daemon/api/daemon/status", &logs, func(o *TargetOptions) {
			o.Client = &http.Client{Transport: fd}
			o.Now = func() time.Time { return fd.now }
		})
		for i := 0; i < 3; i++ { // the kubelet's liveness probes, 15s apart
			tgt.Liveness(context.Background(), shadow)
			fd.now = fd.now.Add(15 * time.Second)
		}
		starting = true // the process was replaced; the new one starts, answering 503
		for i := 0; i < 3; i++ {
			p := tgt.Probe(context.Background())
			states = append(states, p.State().State)
			stale = append(stale, familytest.Values(t, p)["dispatch_poll_stale"])
			fd.now = fd.now.Add(15 * time.Second)
		}
		return states, stale
	}
	enforceStates, enforceStale := run(false)
	shadowStates, shadowStale := run(true)
	t.Logf("new process starting (503): enforce %v stale %v; shadow %v stale %v", enforceStates, enforceStale, shadowStates, shadowStale)
	assert.Equal(t, enforceStates, shadowStates, "shadow mode changes only the liveness answer")
	assert.Equal(t, enforceStale, shadowStale)
}
