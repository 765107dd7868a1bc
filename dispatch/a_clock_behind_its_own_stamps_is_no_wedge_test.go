package dispatch

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// behind is the daemon's clock minus the clock its cycle stamps keep, at
// our time s: computedAt lags its own stamps by that much.
type behindCase struct {
	behind func(s float64) time.Duration
	// refusedFrom: the first answer refused as contradicting itself (-1:
	// none); every later one is refused too.
	refusedFrom float64
}

var behindCases = map[string]behindCase{
	// A cycle that ran while the daemon computed its answer (the health
	// read awaits its store): both stamps a moment after computedAt.
	"a whole cycle 250ms after computedAt, always": {func(float64) time.Duration { return 250 * time.Millisecond }, -1},
	"stamps 5s after computedAt, always":           {func(float64) time.Duration { return 5 * time.Second }, -1},
	// Beyond a step's tolerance from the first look: judged by first
	// sightings on that look (a step back may have come before it), then
	// refused.
	"computedAt an hour behind its stamps, always": {func(float64) time.Duration { return time.Hour }, 5},
	// The mirror of a computedAt that jumps ahead of its stamps: the
	// step's own answer is judged by first sightings, every later one is
	// refused.
	"computedAt leaps back 30m at 100s, stamps keep the clock": {stepAt(100, 30*time.Minute), 105},
	"computedAt leaps back 2h at 100s, stamps keep the clock":  {stepAt(100, 2*time.Hour), 105},
}

// A daemon that cycles every second, whose computedAt lags its own cycle
// stamps, is never judged wedged and never restarted: the stamps were
// ignored as "after computedAt", leaving no cycle at all, and the loop
// turned WEDGED a threshold later (a page and a kill of a healthy process,
// again after every restart).
func TestAClockBehindItsOwnStampsNeverWedgesACyclingLoop(t *testing.T) {
	t.Parallel()
	for name, c := range behindCases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			run := newPolicyRun(t, 0, 3)
			for s := 0.0; s <= 600; s += 5 {
				r := cycling(s)
				r.ComputedAt = r.ComputedAt.Add(-c.behind(s))
				o := run.tr.Answer(r, pat(s))
				require.False(t, o.Assessment.Stale, "at %vs: %s", s, o.Assessment.Reason)
				require.False(t, run.live(o, s).Restart, "at %vs", s)
				if c.refusedFrom >= 0 && s >= c.refusedFrom {
					require.NotNil(t, o.Implausible, "at %vs: %s", s, o.Assessment.Reason)
					assert.Equal(t, "health.computedAt", o.Implausible.Field)
					assert.Equal(t, StateDown, o.Assessment.State)
				} else {
					require.Nil(t, o.Implausible, "at %vs: %v", s, o.Implausible)
					require.Equal(t, StateHealthy, o.Assessment.State, "at %vs: %s", s, o.Assessment.Reason)
				}
			}
			assert.Zero(t, run.asked)
		})
	}
}

// A wedge is still seen through a clock that lags its stamps: a real wedge
// (stamps frozen from 10s) whose daemon clock steps back 2h at 30s, and one
// whose clock stepped back an hour before the exporter first looked, turn
// WEDGED a threshold (60s) after the wedge is known.
func TestAWedgeIsSeenThroughAClockThatStepsBehindItsStamps(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		report   func(s float64) Report
		wedgedBy float64
	}{
		"wedged at 10s, the clock steps back 2h at 30s": {func(s float64) Report {
			c := pat(s)
			if s >= 30 {
				c = c.Add(-2 * time.Hour)
			}
			if s < 10 {
				return loopAt(c, pat(s-0.2), pat(s-0.1))
			}
			return loopAt(c, pat(10), pat(9.9))
		}, 75},
		"wedged, the clock stepped back 1h before the first look": {func(s float64) Report {
			return loopAt(pat(s).Add(-time.Hour), pat(-5), pat(-6))
		}, 65},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			tr := NewTracker(0)
			first := -1.0
			for s := 0.0; s <= 300; s += 5 {
				o := tr.Answer(c.report(s), pat(s))
				if o.Assessment.Stale && first < 0 {
					first = s
				}
				if first >= 0 {
					require.True(t, o.Assessment.Stale, "at %vs: %s", s, o.Assessment.Reason)
				}
			}
			assert.Equal(t, c.wedgedBy, first)
		})
	}
}
