//go:build linux

package sidecar

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// net/http runs a dial (and a TLS handshake) detached from the request
// that asked for it. Without a bound, a dial to a host that drops SYNs
// lives for the kernel's SYN retries (over two minutes) after a request
// of a second, a goroutine and a pending connection each; a handshake a
// daemon never answers lives for the transport's 10s handshake timeout.
// Each must end with the request, whatever its callers did.

// synDroppingAddr is a local address whose host drops SYNs, as a
// firewalled or partitioned one does: a socket listening with a backlog of
// 0 whose accept queue is filled and never accepted from, so the kernel
// drops every further SYN.
func synDroppingAddr(t *testing.T) (addr string, port int) {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	require.NoError(t, err)
	t.Cleanup(func() { syscall.Close(fd) })
	require.NoError(t, syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}))
	require.NoError(t, syscall.Listen(fd, 0))
	sa, err := syscall.Getsockname(fd)
	require.NoError(t, err)
	port = sa.(*syscall.SockaddrInet4).Port
	addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	for filled := false; !filled; {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err != nil {
			var ne net.Error
			require.True(t, errors.As(err, &ne) && ne.Timeout(), "filling the accept queue: %v", err)
			filled = true
			continue
		}
		t.Cleanup(func() { c.Close() })
	}
	return addr, port
}

// pendingDials counts this host's connections to port still sending SYNs
// (state SYN_SENT in /proc/net/tcp).
func pendingDials(t *testing.T, port int) int {
	t.Helper()
	f, err := os.Open("/proc/net/tcp")
	require.NoError(t, err)
	defer f.Close()
	remote := fmt.Sprintf(":%04X", port)
	n := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) > 3 && strings.HasSuffix(fields[2], remote) && fields[3] == "02" {
			n++
		}
	}
	require.NoError(t, sc.Err())
	return n
}

// labelledGoroutines counts the goroutines carrying the pprof label
// key=value: those a call under pprof.Do started, and those they started
// in turn (net/http's dials among them), whatever other tests run.
func labelledGoroutines(t *testing.T, key, value string) int {
	t.Helper()
	var buf bytes.Buffer
	require.NoError(t, pprof.Lookup("goroutine").WriteTo(&buf, 1))
	marker := fmt.Sprintf("%q:%q", key, value)
	n := 0
	for _, record := range strings.Split(buf.String(), "\n\n") {
		first, rest, _ := strings.Cut(record, "\n")
		count, _, found := strings.Cut(first, " @ ")
		if !found || !strings.HasPrefix(rest, "# labels: ") || !strings.Contains(strings.SplitN(rest, "\n", 2)[0], marker) {
			continue
		}
		c, err := strconv.Atoi(count)
		require.NoError(t, err, "goroutine profile record %q", first)
		n += c
	}
	return n
}

// probeUnderLabel probes tgt from clients goroutines, rounds times each,
// all labelled key=value, until they have all returned; during is called
// while they run.
func probeUnderLabel(tgt *Target, key, value string, clients, rounds int, during func()) []Probe {
	var (
		mu  sync.Mutex
		out []Probe
		wg  sync.WaitGroup
	)
	pprof.Do(context.Background(), pprof.Labels(key, value), func(ctx context.Context) {
		for range clients {
			wg.Go(func() {
				for range rounds {
					pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
					p := tgt.Probe(pctx)
					cancel()
					mu.Lock()
					out = append(out, p)
					mu.Unlock()
				}
			})
		}
	})
	during()
	wg.Wait()
	return out
}

// A daemon whose host drops SYNs, probed by four clients: each request
// ends by its timeout as "connect" (no connection made, no hang), and the
// dials end with it: no SYN still pending, no goroutine left, shortly
// after the last request (the kernel alone would retry for two minutes).
func TestDialToAHostDroppingSYNsEndsWithTheRequest(t *testing.T) {
	t.Parallel()
	addr, port := synDroppingAddr(t)
	targets := NewTargets(TargetDefaults{Timeout: 300 * time.Millisecond})
	require.NoError(t, targets.Apply(SingleTarget("http://"+addr+"/api/daemon/status")))
	tgt, ok := targets.Get(DefaultTargetName)
	require.True(t, ok)

	const label = "requests-of"
	probes := probeUnderLabel(tgt, label, t.Name(), 4, 3, func() {
		require.Eventually(t, func() bool { return pendingDials(t, port) > 0 }, 2*time.Second, 10*time.Millisecond,
			"the host drops SYNs: a dial is pending while the requests run")
	})
	require.Len(t, probes, 12)
	for _, p := range probes {
		var fe *FetchError
		require.ErrorAs(t, p.result.err, &fe)
		require.Contains(t, []string{ReasonConnect, ReasonTimeout}, fe.Reason, "%v", fe)
	}
	var last *FetchError
	require.ErrorAs(t, probes[len(probes)-1].result.err, &last)
	require.Equal(t, ReasonConnect, last.Reason, "no connection was ever made: %v", last)

	require.EventuallyWithT(t, func(c *assert.CollectT) {
		assert.Zero(c, pendingDials(t, port), "SYNs still pending: a dial outlived its request")
		assert.Zero(c, labelledGoroutines(t, label, t.Name()), "goroutines left: a dial outlived its request")
	}, 5*time.Second, 20*time.Millisecond)
}

// A daemon whose event loop blocks accepts the TCP connection and never
// answers the TLS handshake: the request ends by its timeout as a hang,
// and so does the handshake net/http runs detached from it, well before
// the transport's own 10s handshake timeout.
func TestTLSHandshakeNeverAnsweredEndsWithTheRequest(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	held := make(chan net.Conn, 64)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			held <- c
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		for {
			select {
			case c := <-held:
				c.Close()
			default:
				return
			}
		}
	})
	targets := NewTargets(TargetDefaults{Timeout: 300 * time.Millisecond})
	require.NoError(t, targets.Apply(SingleTarget("https://"+ln.Addr().String()+"/api/daemon/status")))
	tgt, ok := targets.Get(DefaultTargetName)
	require.True(t, ok)

	const label = "requests-of"
	probes := probeUnderLabel(tgt, label, t.Name(), 4, 2, func() {})
	require.NotEmpty(t, held, "the daemon accepted the connections")
	var fe *FetchError
	require.ErrorAs(t, probes[len(probes)-1].result.err, &fe)
	require.Equal(t, ReasonTimeout, fe.Reason, "a connection made and never answered is a hang: %v", fe)

	require.EventuallyWithT(t, func(c *assert.CollectT) {
		assert.Zero(c, labelledGoroutines(t, label, t.Name()), "goroutines left: a handshake outlived its request")
	}, 3*time.Second, 20*time.Millisecond)
}

// A target built without a client (a library's NewTarget) gets the same
// bounded dial as a configured one: nothing of it outlives its request.
func TestDialOfATargetWithoutAClientEndsWithTheRequest(t *testing.T) {
	t.Parallel()
	addr, port := synDroppingAddr(t)
	tgt := NewTarget(TargetOptions{URL: "http://" + addr + "/api/daemon/status", Timeout: 300 * time.Millisecond})

	const label = "requests-of"
	probes := probeUnderLabel(tgt, label, t.Name(), 2, 2, func() {
		require.Eventually(t, func() bool { return pendingDials(t, port) > 0 }, 2*time.Second, 10*time.Millisecond,
			"the host drops SYNs: a dial is pending while the requests run")
	})
	require.Len(t, probes, 4)
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		assert.Zero(c, pendingDials(t, port), "SYNs still pending: a dial outlived its request")
		assert.Zero(c, labelledGoroutines(t, label, t.Name()), "goroutines left: a dial outlived its request")
	}, 5*time.Second, 20*time.Millisecond)
}
