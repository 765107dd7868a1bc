package server

import (
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// connLimit keeps the exporter's client connections within max, so that
// its own file descriptors never run out (accept4: too many open files)
// and its probes keep answering however many connections others hold.
//
// netutil.LimitListener would block Accept at the limit: a liveness probe
// would then wait in the kernel's backlog until some connection ended, up
// to an idle timeout, past the probe's timeoutSeconds. Instead, a new
// connection at the limit closes the oldest one that is not serving a
// request (idle between requests, or opened and not yet sent one): the
// newcomer is served at once, and a client whose idle keep-alive
// connection was closed opens another, as HTTP allows. Only when every
// connection is serving a request (each bounded by the server's timeouts)
// is the newcomer closed instead.
type connLimit struct {
	max  int
	shed prometheus.Counter

	mu    sync.Mutex
	conns map[*trackedConn]struct{}
}

// trackedConn is one accepted connection and what the server last said of
// it (http.Server.ConnState).
type trackedConn struct {
	net.Conn
	state http.ConnState
	since time.Time // when it entered state
}

// newConnLimit allows max connections at once; shed counts those closed.
func newConnLimit(max int, shed prometheus.Counter) *connLimit {
	return &connLimit{max: max, shed: shed, conns: map[*trackedConn]struct{}{}}
}

// listener wraps l: each connection it accepts is tracked and, at the
// limit, makes room for itself.
func (c *connLimit) listener(l net.Listener) net.Listener {
	return &limitedListener{Listener: l, limit: c}
}

type limitedListener struct {
	net.Listener
	limit *connLimit
}

func (l *limitedListener) Accept() (net.Conn, error) {
	for {
		conn, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if tc := l.limit.admit(conn); tc != nil {
			return tc, nil
		}
	}
}

// admit tracks conn, closing the oldest connection that serves no request
// when the limit is reached; it returns nil (and closes conn) when every
// connection is serving one.
func (c *connLimit) admit(conn net.Conn) *trackedConn {
	tc := &trackedConn{Conn: conn, state: http.StateNew, since: time.Now()}
	c.mu.Lock()
	var victim *trackedConn
	if len(c.conns) >= c.max {
		for o := range c.conns {
			if o.state != http.StateActive && (victim == nil || o.since.Before(victim.since)) {
				victim = o
			}
		}
		if victim == nil {
			c.mu.Unlock()
			c.shed.Inc()
			_ = conn.Close()
			return nil
		}
		delete(c.conns, victim)
	}
	c.conns[tc] = struct{}{}
	c.mu.Unlock()
	if victim != nil {
		c.shed.Inc()
		_ = victim.Conn.Close() // its server goroutine sees the error and ends
	}
	return tc
}

// connState is the server's ConnState hook: it records each connection's
// state, and forgets it once closed or hijacked.
func (c *connLimit) connState(conn net.Conn, state http.ConnState) {
	if nc, ok := conn.(interface{ NetConn() net.Conn }); ok { // *tls.Conn around ours
		conn = nc.NetConn()
	}
	tc, ok := conn.(*trackedConn)
	if !ok {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	switch state {
	case http.StateClosed, http.StateHijacked:
		delete(c.conns, tc)
	default:
		tc.state, tc.since = state, time.Now()
	}
}

// open is how many connections are tracked now.
func (c *connLimit) open() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.conns)
}
