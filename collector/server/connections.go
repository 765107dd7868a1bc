package server

import (
	"context"
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
//
// "Serving a request" is one of the exporter's handlers running on it
// (serving), not net/http's StateActive: a connection is active from its
// request's headers until net/http has read what is left of the body
// (up to 256 KiB, within the 2m read timeout), after the handler and
// after a 401 from the login that never reaches one. A client announcing a
// small body and never sending it would otherwise hold a place for 2m
// without a login, and enough of them would close every probe.
type connLimit struct {
	max  int
	shed prometheus.Counter

	mu    sync.Mutex
	conns map[*trackedConn]struct{}
}

// trackedConn is one accepted connection: since when it last changed state
// (http.Server.ConnState) or last ended a request, and how many of our
// handlers run on it.
type trackedConn struct {
	net.Conn
	since   time.Time // its last change of state or end of a request
	serving int       // handlers running on it (HTTP/2: one per stream)
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
	tc := &trackedConn{Conn: conn, since: time.Now()}
	c.mu.Lock()
	var victim *trackedConn
	if len(c.conns) >= c.max {
		for o := range c.conns {
			if o.serving == 0 && (victim == nil || o.since.Before(victim.since)) {
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

// connState is the server's ConnState hook: it notes when each connection
// changed state, and forgets it once closed or hijacked. Which state it is
// in is never asked: serving, not net/http's state, decides what is shed.
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
		tc.since = time.Now()
	}
}

// connKey is the context key under which connContext keeps a request's
// connection.
type connKey struct{}

// connContext is the server's ConnContext hook: it keeps each
// connection in its requests' contexts, for serving.
func (c *connLimit) connContext(ctx context.Context, conn net.Conn) context.Context {
	if nc, ok := conn.(interface{ NetConn() net.Conn }); ok { // *tls.Conn around ours
		conn = nc.NetConn()
	}
	if tc, ok := conn.(*trackedConn); ok {
		return context.WithValue(ctx, connKey{}, tc)
	}
	return ctx
}

// serving wraps h: while it runs, its request's connection serves a
// request and is never shed.
func (c *connLimit) serving(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tc, _ := r.Context().Value(connKey{}).(*trackedConn)
		if tc == nil {
			h.ServeHTTP(w, r)
			return
		}
		c.enter(tc)
		defer c.leave(tc)
		h.ServeHTTP(w, r)
	})
}

// enter and leave bracket a handler running on tc.
func (c *connLimit) enter(tc *trackedConn) {
	c.mu.Lock()
	defer c.mu.Unlock()
	tc.serving++
}

func (c *connLimit) leave(tc *trackedConn) {
	c.mu.Lock()
	defer c.mu.Unlock()
	tc.serving--
	tc.since = time.Now()
}

// open is how many connections are tracked now.
func (c *connLimit) open() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.conns)
}
