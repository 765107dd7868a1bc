package server

import (
	"errors"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestConnectionLimitShedsTheOldestIdleFirst: at the limit a new
// connection closes the oldest one serving no request (no handler runs on
// it, whatever net/http's state), never one serving a request; when every one is, the newcomer is closed instead. The count
// never exceeds the limit.
func TestConnectionLimitShedsTheOldestIdleFirst(t *testing.T) {
	t.Parallel()
	shed := prometheus.NewCounter(prometheus.CounterOpts{Name: "shed_total", Help: "Shed."})
	limit := newConnLimit(3, shed)
	type end struct{ server, client net.Conn }
	open := func() (end, *trackedConn) {
		s, c := net.Pipe()
		t.Cleanup(func() { _ = s.Close(); _ = c.Close() })
		return end{s, c}, limit.admit(s)
	}
	closed := func(e end) bool {
		// A pipe reports its far end closed before a deadline passed.
		_ = e.client.SetReadDeadline(time.Unix(1, 0))
		_, err := e.client.Read(make([]byte, 1))
		return errors.Is(err, io.EOF)
	}

	busyEnd, busy := open()
	oldIdleEnd, oldIdle := open()
	newIdleEnd, newIdle := open()
	require.NotNil(t, busy)
	limit.connState(busy, http.StateActive)
	limit.enter(busy)
	limit.connState(oldIdle, http.StateIdle)
	limit.connState(newIdle, http.StateIdle)
	assert.Equal(t, 3, limit.open())

	freshEnd, fresh := open()
	require.NotNil(t, fresh, "a newcomer is served")
	assert.True(t, closed(oldIdleEnd), "the oldest idle one made room")
	assert.False(t, closed(busyEnd), "never one serving a request, though older")
	assert.False(t, closed(newIdleEnd))
	assert.Equal(t, 3, limit.open())
	assert.Equal(t, 1.0, testutil.ToFloat64(shed))

	limit.connState(newIdle, http.StateActive)
	limit.enter(newIdle)
	limit.connState(fresh, http.StateActive)
	limit.enter(fresh)
	refusedEnd, refused := open()
	assert.Nil(t, refused, "every connection serves a request: the newcomer waits for none")
	assert.True(t, closed(refusedEnd))
	assert.False(t, closed(freshEnd))
	assert.Equal(t, 3, limit.open())
	assert.Equal(t, 2.0, testutil.ToFloat64(shed))

	limit.connState(busy, http.StateClosed)
	assert.Equal(t, 2, limit.open(), "a closed connection is forgotten")
	_, again := open()
	assert.NotNil(t, again, "and its place taken without shedding")
	assert.Equal(t, 2.0, testutil.ToFloat64(shed))
}
