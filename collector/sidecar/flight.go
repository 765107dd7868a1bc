package sidecar

import (
	"context"
	"sync"
	"time"
)

// flight shares one call among concurrent callers: a caller that arrives
// while a call is in flight waits for that call instead of starting another,
// so concurrent scrapes send one request to a sick daemon, not many.
type flight[T any] struct {
	mu   sync.Mutex
	call *flightCall[T]
}

type flightCall[T any] struct {
	done     chan struct{}
	val      T
	panicked bool // fn panicked: val is not a result
}

// do returns fn's result, starting fn only if no call is in flight. fn runs
// under a timeout of its own, whatever the callers' deadlines, with none of
// their cancellation: the call is the target's, and a caller in a hurry (a
// liveness probe, a client sending a tiny scrape timeout) cannot cut it
// short for the others. Each caller waits until its own ctx ends; one whose
// ctx ends first gets ok == false, and the call goes on.
//
// When the caller that starts a call would wait for all of it anyway (its
// deadline is no earlier than the call's), fn runs on the caller's own
// goroutine: no hand-off when, as usual, nobody else is waiting.
func (f *flight[T]) do(ctx context.Context, timeout time.Duration, fn func(context.Context) T) (val T, ok bool) {
	f.mu.Lock()
	if c := f.call; c != nil {
		f.mu.Unlock()
		return c.wait(ctx)
	}
	c := &flightCall[T]{done: make(chan struct{})}
	f.call = c
	f.mu.Unlock()

	callCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
	run := func() {
		// Whatever fn does, even panic, the call ends: no later caller
		// waits for a call that will never finish.
		c.panicked = true
		defer func() {
			cancel()
			f.mu.Lock()
			f.call = nil
			f.mu.Unlock()
			close(c.done)
		}()
		c.val = fn(callCtx)
		c.panicked = false
	}
	callDeadline, _ := callCtx.Deadline()
	if deadline, has := ctx.Deadline(); !has || !deadline.Before(callDeadline) {
		run() // a panic goes on up to this caller, after the call has ended
		return c.val, true
	}
	go run()
	return c.wait(ctx)
}

func (c *flightCall[T]) wait(ctx context.Context) (val T, ok bool) {
	select {
	case <-c.done:
		return c.val, !c.panicked
	case <-ctx.Done():
		return val, false
	}
}
