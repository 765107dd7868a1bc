package dispatch

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var (
	year9999 = time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)
	// year1 is not Go's zero time (absent); see dispatch/smithy for that.
	year1 = time.Date(1, 6, 1, 0, 0, 0, 0, time.UTC)
)

// loopAt is a running daemon's report: its "now" and cycle stamps, on its
// own clock (zero: absent), interval 1s.
func loopAt(now, started, completed time.Time) Report {
	return Report{Available: true, Running: true, HealthKnown: true, Interval: time.Second,
		ComputedAt: now, LastStarted: started, LastCompleted: completed}
}

// Each report is healthy but for one field no daemon can mean at our time
// pat(s), named by field.
var implausibleReports = map[string]struct {
	report func(s float64) Report
	field  string
}{
	"computedAt in year 9999, cycles current": {func(s float64) Report {
		return loopAt(year9999, pat(s-0.2), pat(s-0.1))
	}, "health.computedAt"},
	"computedAt 25h ahead of our clock": {func(s float64) Report {
		return loopAt(pat(s).Add(25*time.Hour), pat(s-0.2).Add(25*time.Hour), pat(s-0.1).Add(25*time.Hour))
	}, "health.computedAt"},
	"computedAt in year 1, cycles current": {func(s float64) Report {
		return loopAt(year1, pat(s-0.2), pat(s-0.1))
	}, "health.computedAt"},
	"a completion stamped in year 9999": {func(s float64) Report {
		return loopAt(pat(s), pat(s-0.2), year9999)
	}, "health.lastPollCompletedAt"},
	"a cycle started in year 1": {func(s float64) Report {
		return loopAt(pat(s), year1, pat(s-0.1))
	}, "health.lastPollStartedAt"},
	"stamps from the future, no computedAt": {func(s float64) Report {
		return loopAt(time.Time{}, pat(s).Add(48*time.Hour), pat(s).Add(48*time.Hour))
	}, "health.lastPollStartedAt"},
}

// An answer with a field no daemon can mean is the unusable row: DOWN,
// never a wedge however long it lasts, never a restart, the field named.
func TestImplausibleAnswersNeverStartAWedge(t *testing.T) {
	t.Parallel()
	for name, c := range implausibleReports {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			tr := NewTracker(10 * time.Second)
			for s := 0.0; s <= 5; s++ {
				require.False(t, tr.Answer(cycling(s), pat(s)).Assessment.Stale)
			}
			for s := 6.0; s <= 600; s += 3 {
				o := tr.Answer(c.report(s), pat(s))
				require.NotNil(t, o.Implausible, "at %vs", s)
				assert.Equal(t, c.field, o.Implausible.Field)
				a := o.Assessment
				require.Equal(t, EvidenceUnusable, a.Evidence)
				require.False(t, a.Up)
				require.False(t, a.Stale, "at %vs: %s", s, a.Reason)
				require.False(t, a.Restart)
				require.Equal(t, StateDown, a.State)
				require.Contains(t, a.Reason, c.field)
			}
			// The last usable answer still stands: the daemon cycling is
			// healthy at once.
			o := tr.Answer(cycling(601), pat(601))
			assert.Equal(t, StateHealthy, o.Assessment.State)
			assert.Nil(t, o.Implausible)
		})
	}
}

// On the first answer, too: no history to contradict, the field alone.
func TestImplausibleFirstAnswerIsUnusable(t *testing.T) {
	t.Parallel()
	for name, c := range implausibleReports {
		o := NewTracker(0).Answer(c.report(0), pat(0))
		require.NotNil(t, o.Implausible, name)
		assert.Equal(t, c.field, o.Implausible.Field, name)
		assert.Equal(t, StateDown, o.Assessment.State, name)
		assert.False(t, o.Assessment.Stale, name)
		assert.Nil(t, o.Health, "%s: nothing known of the loop", name)
	}
}

// A wedge judged before is carried through implausible answers, as through
// any unusable one, and ended only by a usable answer.
func TestImplausibleAnswersDoNotEndAWedge(t *testing.T) {
	t.Parallel()
	for name, c := range implausibleReports {
		tr := NewTracker(10 * time.Second)
		wedged := loopAt(pat(0), pat(-30), pat(-31)) // a cycle in flight for 30s
		require.True(t, tr.Answer(wedged, pat(0)).Assessment.Stale, name)
		for s := 1.0; s <= 9; s++ {
			o := tr.Answer(c.report(s), pat(s))
			require.NotNil(t, o.Implausible, name)
			assert.True(t, o.Assessment.Stale, "%s at %vs: no evidence the wedge ended", name, s)
			assert.Equal(t, StateWedged, o.Assessment.State, name)
			assert.False(t, o.Assessment.Restart, "%s: a restart never rests on an unusable answer", name)
		}
		o := tr.Answer(cycling(10), pat(10))
		assert.False(t, o.Assessment.Stale, "%s: a usable answer ends it", name)
	}
}

// The daemon's clock may be off ours, and step, within MaxClockSkew: its
// stamps move with it, and it is judged on its own clock. computedAt that
// jumps while its stamps keep the old clock contradicts them.
func TestComputedAtIsEvidenceOnlyWhereItFitsTheStamps(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		// skew is the daemon's clock minus ours at our time s; stampSkew
		// the same for the clock its cycle stamps are taken from.
		skew, stampSkew func(s float64) time.Duration
		implausible     bool
	}{
		"23h ahead, steady": {func(float64) time.Duration { return 23 * time.Hour },
			func(float64) time.Duration { return 23 * time.Hour }, false},
		"three days behind, steady": {func(float64) time.Duration { return -72 * time.Hour },
			func(float64) time.Duration { return -72 * time.Hour }, false},
		"a real 2h step at 100s":      {stepAt(100, 2*time.Hour), stepAt(100, 2*time.Hour), false},
		"a real 2h step back at 100s": {stepAt(100, -2*time.Hour), stepAt(100, -2*time.Hour), false},
		"computedAt steps 2h at 100s, stamps keep the old clock": {stepAt(100, 2*time.Hour),
			func(float64) time.Duration { return 0 }, true},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			tr := NewTracker(10 * time.Second)
			refused := 0
			for s := 0.0; s <= 300; s += 2 {
				sk := c.stampSkew(s)
				o := tr.Answer(loopAt(pat(s).Add(c.skew(s)), pat(s-0.2).Add(sk), pat(s-0.1).Add(sk)), pat(s))
				require.False(t, o.Assessment.Stale, "at %vs: %s", s, o.Assessment.Reason)
				require.False(t, o.Assessment.Restart)
				if o.Implausible != nil {
					refused++
					assert.Equal(t, "health.computedAt", o.Implausible.Field)
					assert.Contains(t, o.Implausible.Note, "contradicts health.last")
					assert.Equal(t, StateDown, o.Assessment.State)
				} else {
					assert.Equal(t, StateHealthy, o.Assessment.State, "at %vs: %s", s, o.Assessment.Reason)
				}
			}
			if c.implausible {
				// The answer that shows the step is judged by first
				// sightings (it may be real); every later one contradicts.
				assert.Equal(t, 100, refused)
			} else {
				assert.Zero(t, refused)
			}
		})
	}
}

func stepAt(at float64, by time.Duration) func(s float64) time.Duration {
	return func(s float64) time.Duration {
		if s >= at {
			return by
		}
		return 0
	}
}

func TestStaleThresholdIsClampedToWhatTheIntervalAllows(t *testing.T) {
	t.Parallel()
	ms := func(v float64) time.Duration { return time.Duration(v * float64(time.Millisecond)) }
	cases := []struct {
		name                string
		threshold, interval time.Duration
		want                time.Duration
		clamped             bool
	}{
		{"not reported", 0, 5 * time.Second, 0, false},
		{"within", 30 * time.Second, 5 * time.Second, 30 * time.Second, false},
		{"twice the interval", 10 * time.Second, 5 * time.Second, 10 * time.Second, false},
		{"0.001 ms: would wedge a healthy loop", ms(0.001), 5 * time.Second, 10 * time.Second, true},
		{"under the interval", 3 * time.Second, 5 * time.Second, 10 * time.Second, true},
		{"no interval: the default floor", ms(0.001), 0, MinStaleThreshold, true},
		{"fast test loops keep theirs", 300 * time.Millisecond, 10 * time.Millisecond, 300 * time.Millisecond, false},
		{"1e12 ms: a wedge never seen", ms(1e12), 5 * time.Second, time.Hour, true},
		{"saturated (1e13 ms and beyond)", time.Duration(1<<63 - 1), 5 * time.Second, time.Hour, true},
		{"ten long intervals", 10 * time.Hour, time.Hour, 10 * time.Hour, false},
		{"more than ten long intervals", 11 * time.Hour, time.Hour, 10 * time.Hour, true},
	}
	for _, c := range cases {
		got, odd := ClampStaleThreshold(c.threshold, c.interval)
		assert.Equal(t, c.want, got, c.name)
		if assert.Equal(t, c.clamped, odd != nil, c.name) && odd != nil {
			assert.Equal(t, "config.pollStaleThresholdMs", odd.Field, c.name)
		}
		// The default rule always lies within the bounds.
		if c.interval > 0 {
			lo, hi := StaleThresholdBounds(c.interval)
			def := DefaultStaleThreshold(c.interval)
			assert.True(t, lo <= def && def <= hi, "%s: default %s within %s..%s", c.name, def, lo, hi)
		}
	}
}

// A healthy loop is never wedged by the threshold it reports, however
// small, and a wedge is seen within the clamp however large.
func TestClampedThresholdsNeverWedgeAHealthyLoop(t *testing.T) {
	t.Parallel()
	tiny := Report{Available: true, Running: true, HealthKnown: true, Interval: 5 * time.Second}
	tiny.Threshold, _ = ClampStaleThreshold(time.Microsecond, tiny.Interval)
	tr := NewTracker(0)
	for s := 0.0; s <= 120; s++ {
		r := tiny
		last := float64(int(s/5) * 5) // a cycle every 5s, 0.5s long
		r.ComputedAt, r.LastStarted, r.LastCompleted = pat(s), pat(last), pat(last+0.5)
		if s == last {
			r.LastCompleted = pat(last - 4.5)
		}
		o := tr.Answer(r, pat(s))
		require.False(t, o.Assessment.Stale, "at %vs: %s", s, o.Assessment.Reason)
	}

	huge := Report{Available: true, Running: true, HealthKnown: true, Interval: 5 * time.Second,
		ComputedAt: pat(0), LastStarted: pat(0), LastCompleted: pat(-1)}
	huge.Threshold, _ = ClampStaleThreshold(time.Duration(1<<63-1), huge.Interval)
	tr = NewTracker(0)
	assert.False(t, tr.Answer(huge, pat(0)).Assessment.Stale)
	huge.ComputedAt = pat(3601)
	o := tr.Answer(huge, pat(3601))
	assert.True(t, o.Assessment.Stale, "a cycle in flight for an hour and a second: %s", o.Assessment.Reason)
}
