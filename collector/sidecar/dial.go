package sidecar

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"time"
)

// net/http detaches a dial from the request that asked for it (a dial the
// request gave up on goes on, for a later request to use), and so from the
// request's deadline: to a host that drops SYNs, each such dial lived for
// the kernel's SYN retries (over two minutes), a goroutine and a pending
// connection each. The request's deadline travels in the context's values,
// which the detached dial keeps, and bounds the connection until a request
// takes it.

// requestDeadlineKey is the context key of a status request's deadline.
type requestDeadlineKey struct{}

// withRequestDeadline records ctx's deadline for the dial of a connection
// for ctx's request (dialWithinRequest).
func withRequestDeadline(ctx context.Context) context.Context {
	if d, ok := ctx.Deadline(); ok {
		return context.WithValue(ctx, requestDeadlineKey{}, d)
	}
	return ctx
}

// maxDialTimeout bounds a dial for a request without a deadline, as
// net/http's DefaultTransport does.
const maxDialTimeout = 30 * time.Second

// dialKeepAlive is the TCP keep-alive period of a status connection, as
// net/http's DefaultTransport sets it.
const dialKeepAlive = 30 * time.Second

// dialWithinRequest dials addr by the deadline of the request that asked
// for the connection, and leaves that deadline on the connection: the TLS
// handshake and a proxy's CONNECT, which net/http runs detached too, end
// with the request. The request that takes the connection lifts it
// (releaseRequestDeadline); a connection no request took fails at the
// deadline, and is dropped rather than kept idle.
func dialWithinRequest(ctx context.Context, network, addr string) (net.Conn, error) {
	deadline, bounded := ctx.Value(requestDeadlineKey{}).(time.Time)
	if !bounded {
		deadline = time.Now().Add(maxDialTimeout)
	}
	d := net.Dialer{Deadline: deadline, KeepAlive: dialKeepAlive}
	conn, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	if bounded {
		if err := conn.SetDeadline(deadline); err != nil {
			conn.Close()
			return nil, fmt.Errorf("bound the connection by the request's deadline: %w", err)
		}
	}
	return conn, nil
}

// releaseRequestDeadline lifts the dial's deadline from a connection a
// request has taken: from then on the request's own context bounds it
// (net/http closes the connection when it ends), and the connection may
// stay idle for the next request.
func releaseRequestDeadline(conn net.Conn) {
	if conn != nil {
		_ = conn.SetDeadline(time.Time{}) // a closed connection fails the request anyway
	}
}

// defaultClient is a target's client when its options name none:
// net/http's default transport, whose dials end with their request
// (dialWithinRequest) as those of a configured target's client do.
func defaultClient() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.DialContext = dialWithinRequest
	return &http.Client{Transport: t}
}
