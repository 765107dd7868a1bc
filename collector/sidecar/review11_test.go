package sidecar

// Cases a reviewer of issue 11 found: flight runs fn on the caller's
// goroutine when nobody else waits, so a panic in fn (recovered by
// net/http) must still end the call, or every later caller of that target
// would wait for a call that never ends; and a daemon over HTTPS that
// accepts TCP but never finishes the handshake is a hang, not unreachable.

import (
	"errors"
	"net"
	"sync"

	"context"
	"testing"
	"time"

	"github.com/go-kit/log"
)

func TestReview11FlightPanicWedgesTheTarget(t *testing.T) {
	break11b(t)
	var f flight[int]
	func() {
		defer func() { _ = recover() }() // what net/http does for a handler
		f.do(context.Background(), time.Second, func(context.Context) int { panic("bug in a status request") })
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	start := time.Now()
	ran := false
	v, ok := f.do(ctx, 100*time.Millisecond, func(context.Context) int { ran = true; return 7 })
	t.Logf("next call: value %d ok %v, fn ran %v, after %s", v, ok, ran, time.Since(start).Round(time.Millisecond))
	if !ran {
		t.Errorf("after one recovered panic, no later call of this target ever runs: it waits for a call that never ends (a caller without a deadline waits forever)")
	}
}

// An https daemon whose process is wedged: the kernel still completes the
// TCP handshake (its listening socket's backlog), but nobody answers the
// TLS handshake. The connection was made; the daemon hangs. GotConn fires
// only after the TLS handshake, so the timeout is reported as connect
// ("unreachable") with no evidence: never a wedge.
func TestReview11WedgedHTTPSDaemonIsCalledUnreachable(t *testing.T) {
	break11b(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var held []net.Conn
	var mu sync.Mutex
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			held = append(held, c) // accepted, never answered
			mu.Unlock()
		}
	}()
	defer func() {
		mu.Lock()
		for _, c := range held {
			c.Close()
		}
		mu.Unlock()
	}()
	tgt := NewTarget(TargetOptions{Name: "smithy", URL: "https://" + ln.Addr().String() + "/api/daemon/status", Timeout: 300 * time.Millisecond, Logger: log.NewNopLogger()})
	p := tgt.Probe(context.Background())
	var fe *FetchError
	if !errors.As(p.result.err, &fe) {
		t.Fatalf("no FetchError: %v", p.result.err)
	}
	t.Logf("reason %s, evidence %v: %v", fe.Reason, fe.Evidence(), fe.Err)
	if fe.Reason != ReasonTimeout {
		t.Errorf("TCP accepted, TLS handshake never answered: reason %q (evidence %v), want timeout (a hang)", fe.Reason, fe.Evidence())
	}
}

func break11b(t *testing.T) { t.Helper(); t.Parallel() }
