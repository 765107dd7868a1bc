package sidecar

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-kit/log"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stoneforge/dispatch_exporter/dispatch"
	"github.com/stoneforge/dispatch_exporter/dispatch/dispatchtest"
)

// A hang of the daemon is a connection it accepted and never answered: the
// evidence that can judge it wedged. A connection never made is not one.

// liveBody is a healthy daemon's answer now, on the real clock (interval
// 100ms, its latest cycle completed 40ms ago).
func liveBody() string {
	now := time.Now()
	return runningStatus(now, 100*time.Millisecond, now.Add(-50*time.Millisecond), now.Add(-40*time.Millisecond))
}

// holdingListener is the kernel's accept backlog of a daemon whose event
// loop is blocked: while blocked, TCP connections are accepted and nothing
// reads them.
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

// A daemon whose event loop blocks: the kernel accepts the TCP connection
// and nothing answers, over HTTPS not even the handshake. That is a hang
// of the daemon (the connection was made), judged WEDGED and restartable
// within five thresholds over HTTPS as over plain HTTP.
func TestBlockedDaemonIsJudgedWedgedOverHTTPAndHTTPS(t *testing.T) {
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
			assert.True(t, judged, "blocked for 5x the threshold: WEDGED and restarted; evidence went %v", evidences)
		})
	}
}

// Over HTTPS the connection is made before the TLS handshake: a daemon
// that accepts TCP and never answers the handshake times out (a hang),
// never fails to connect (unreachable, no evidence of the loop).
func TestUnansweredTLSHandshakeIsATimeout(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var blocked atomic.Bool
	blocked.Store(true)
	hl := &holdingListener{Listener: ln, blocked: &blocked}
	accepting := make(chan struct{})
	go func() { defer close(accepting); _, _ = hl.Accept() }() // holds every connection until ln closes
	defer func() { ln.Close(); <-accepting; hl.closeHeld() }()

	tgt := NewTarget(TargetOptions{Name: "smithy", URL: "https://" + ln.Addr().String() + "/api/daemon/status",
		Timeout: 300 * time.Millisecond, Logger: log.NewNopLogger()})
	p := tgt.Probe(context.Background())
	var fe *FetchError
	require.ErrorAs(t, p.result.err, &fe)
	assert.Equal(t, ReasonTimeout, fe.Reason, "TCP accepted, TLS handshake never answered: %v", fe.Err)
	assert.Equal(t, dispatch.EvidenceHung, fe.Evidence())
}

// A connection that is never made (a dial timeout: packets dropped, a
// partition) is no hang of the daemon: never a wedge, never a restart.
func TestTargetDialTimeoutIsNoHang(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, liveBody())
	}))
	defer srv.Close()
	var partitioned atomic.Bool
	dialer := &net.Dialer{}
	stop := make(chan struct{})
	t.Cleanup(func() { close(stop) })
	tr := &http.Transport{DisableKeepAlives: true, DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		if partitioned.Load() { // what net.Dialer returns when SYNs go unanswered
			select {
			case <-ctx.Done():
			case <-stop:
			}
			return nil, &net.OpError{Op: "dial", Net: network, Err: context.DeadlineExceeded}
		}
		return dialer.DialContext(ctx, network, addr)
	}}
	var logs dispatchtest.Logs
	tgt := newTestTarget(t, srv.URL, &logs, func(o *TargetOptions) {
		o.Client = &http.Client{Transport: tr}
		o.Timeout = 100 * time.Millisecond
		o.StaleThreshold = 300 * time.Millisecond
	})
	require.Equal(t, dispatch.StateHealthy, tgt.Probe(context.Background()).State().State)
	partitioned.Store(true)
	for deadline := time.Now().Add(time.Second); time.Now().Before(deadline); {
		st := tgt.Probe(context.Background()).State()
		require.Equal(t, dispatch.StateDown, st.State, st.Reason)
		require.False(t, st.Restart)
	}
	assert.Contains(t, logs.String(), "reason=connect")
}
