package collector

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
	done chan struct{}
	val  T
}

// do returns fn's result, starting fn only if no call is in flight. fn runs
// on a goroutine of its own with a context that keeps ctx's deadline but not
// its cancellation, so a caller that goes away does not fail the others. The
// caller that started the call waits for its result; one that joined it
// and whose ctx ends first gets ok == false, and the call goes on.
func (f *flight[T]) do(ctx context.Context, fn func(context.Context) T) (val T, ok bool) {
	f.mu.Lock()
	c := f.call
	started := c == nil
	if started {
		c = &flightCall[T]{done: make(chan struct{})}
		f.call = c
		callCtx, cancel := detach(ctx)
		go func() {
			defer cancel()
			c.val = fn(callCtx)
			f.mu.Lock()
			f.call = nil
			f.mu.Unlock()
			close(c.done)
		}()
	}
	f.mu.Unlock()

	if started {
		// fn runs under ctx's deadline: wait for its own answer, so the
		// caller that started a call always reports that call's outcome.
		<-c.done
		return c.val, true
	}
	select {
	case <-c.done:
		return c.val, true
	case <-ctx.Done():
		return val, false
	}
}

// detach keeps ctx's deadline, and none of its cancellation or values.
func detach(ctx context.Context) (context.Context, context.CancelFunc) {
	if deadline, ok := ctx.Deadline(); ok {
		return context.WithDeadline(context.Background(), deadline)
	}
	return context.WithTimeout(context.Background(), time.Minute) // callers always set one; a bound all the same
}
