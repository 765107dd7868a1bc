package smithy

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The threshold a daemon is judged by never shrinks as the interval it
// reports grows: an interval of an hour gave ten hours, one of an hour and
// a millisecond was dropped and gave the 60s default, with or without a
// threshold of the daemon's own.
func TestALongerPollIntervalNeverShortensTheThreshold(t *testing.T) {
	t.Parallel()
	for _, own := range []float64{0, 10 * 3_660_000} {
		prev := time.Duration(0)
		for _, ms := range []float64{1000, 60_000, 3_599_999, 3_600_000, 3_600_001, 3_660_000, 7_200_000, 1e12, 1e300} {
			st := status(t, 0, 0, true, d(-1), d(-0.5))
			iv := ms
			st.Config.PollIntervalMs = &iv
			if own > 0 {
				th := own
				st.Config.PollStaleThresholdMs = &th
			}
			got := NewTracker(0).Answer(st, ours).Health.StaleThreshold()
			assert.GreaterOrEqual(t, got, prev, "interval %v ms, own threshold %v ms: %s after %s", ms, own, got, prev)
			prev = got
		}
	}
}

// A daemon that reports a poll interval of 61 minutes, and cycles at it, is
// never judged wedged: it was, 60s after each cycle, and restarted after
// each (a restart loop from a field the exporter calls absurd).
func TestALoopCyclingAtALongReportedIntervalIsNotWedged(t *testing.T) {
	t.Parallel()
	tr := NewTracker(0)
	const every = 3660.0
	for s := 0.0; s <= 4*every; s += 15 {
		last := float64(int(s/every)) * every
		st := status(t, 0, sec(s), true, d(last), d(last+0.5))
		if s == last {
			st.Health.LastPollCompletedAt = nil // the first cycle in flight
		}
		iv := every * 1000
		st.Config.PollIntervalMs = &iv
		o := tr.Answer(st, ours.Add(sec(s)))
		require.False(t, o.Assessment.Stale, "at %vs: %s", s, o.Assessment.Reason)
		require.False(t, o.Assessment.Restart)
	}
}
