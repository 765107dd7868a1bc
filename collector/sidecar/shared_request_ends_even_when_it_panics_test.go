package sidecar

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// flight runs fn on the caller's goroutine when nobody else waits, so a
// panic in fn goes up to that caller (net/http recovers it for a handler).
// The call ends all the same: the next caller of the target runs a request
// of its own instead of waiting for a call that never ends (a caller
// without a deadline would wait forever).
func TestSharedRequestEndsEvenWhenItPanics(t *testing.T) {
	t.Parallel()
	var f flight[int]
	require.Panics(t, func() {
		f.do(context.Background(), time.Second, func(context.Context) int { panic("bug in a status request") })
	}, "the panic goes up to the caller that ran it")

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	ran := false
	v, ok := f.do(ctx, 100*time.Millisecond, func(context.Context) int { ran = true; return 7 })
	assert.True(t, ran, "the next call runs: it does not wait for the call that panicked")
	assert.True(t, ok)
	assert.Equal(t, 7, v)
}
