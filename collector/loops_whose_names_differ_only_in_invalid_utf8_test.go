package collector

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/stoneforge/dispatch_exporter/dispatch"
)

// TestLoopsWhoseNamesDifferOnlyInInvalidUTF8: the loop label replaces bytes
// that are not valid UTF-8 with U+FFFD, so two loops named "a\xff" and
// "a\xfe" (or "a\xff" and "a\uFFFD") export the same series. Either
// NewLoopCollector refuses them, as it refuses two loops of one name, or a
// registry gathers them without error; accepting them and then failing every
// scrape (a registry's "collected before with the same name and label
// values") is what breaks.
func TestLoopsWhoseNamesDifferOnlyInInvalidUTF8(t *testing.T) {
	t.Parallel()
	for _, names := range [][2]string{{"a\xff", "a\xfe"}, {"a\xff", "a\uFFFD"}} {
		a, err := dispatch.NewMonitor(dispatch.Options{Name: names[0], Interval: time.Second})
		require.NoError(t, err)
		b, err := dispatch.NewMonitor(dispatch.Options{Name: names[1], Interval: time.Second})
		require.NoError(t, err)
		c, err := NewLoopCollector(a, b)
		if err != nil {
			continue // refused: fine
		}
		reg := prometheus.NewPedanticRegistry()
		require.NoError(t, reg.Register(c))
		_, err = reg.Gather()
		require.NoError(t, err, "loops %q and %q accepted, but the scrape fails", names[0], names[1])
	}
}
