package dispatch

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// TestDecide walks the decision table of Decide, row by row.
func TestDecide(t *testing.T) {
	t.Parallel()
	healthy := func() *Health {
		h := running()
		h.LastStarted, h.LastCompleted = at(-2*time.Second), at(-1900*time.Millisecond)
		return &h
	}
	wedged := func() *Health {
		h := running()
		h.LastStarted, h.LastCompleted = at(-90*time.Second), at(-95*time.Second)
		return &h
	}
	// completed 50s ago: stale once extrapolated 11s further
	aging := func() *Health {
		h := running()
		h.LastStarted, h.LastCompleted = at(-50*time.Second), at(-50*time.Second)
		h.Now = at(11 * time.Second)
		return &h
	}
	// a cycle started 50s ago, seen in flight: stale once extrapolated 11s further
	inFlight := func() *Health {
		h := running()
		h.LastStarted, h.LastCompleted = at(-50*time.Second), at(-55*time.Second)
		h.Now = at(11 * time.Second)
		return &h
	}
	stopped := func() *Health {
		h := running()
		h.Running = false
		h.LastStarted, h.LastCompleted = at(-10*time.Minute), at(-10*time.Minute)
		return &h
	}
	stuck := func() *Health {
		h := healthy()
		h.ReadyUnassignedTasks, h.AvailableWorkers = 2, 0
		return h
	}
	wedgedAndStuck := func() *Health {
		h := wedged()
		h.ReadyUnassignedTasks, h.AvailableWorkers = 2, 0
		return h
	}
	noDaemon := &Health{Now: t0}

	cases := []struct {
		name           string
		look           Look
		state          State
		up, stale, fix bool
	}{
		{"nothing known yet", Look{}, StateUnknown, false, false, false},

		{"usable, healthy", Look{Evidence: EvidenceUsable, Health: healthy()}, StateHealthy, true, false, false},
		{"usable, stuck", Look{Evidence: EvidenceUsable, Health: stuck()}, StateStuck, true, false, false},
		{"usable, wedged", Look{Evidence: EvidenceUsable, Health: wedged()}, StateWedged, true, true, true},
		{"usable, wedged and stuck: wedged wins", Look{Evidence: EvidenceUsable, Health: wedgedAndStuck()}, StateWedged, true, true, true},
		{"usable, stopped", Look{Evidence: EvidenceUsable, Health: stopped()}, StateStopped, true, false, false},
		{"usable, no daemon at all", Look{Evidence: EvidenceUsable, Health: noDaemon, Detail: "no git"}, StateStopped, true, false, false},
		{"usable, no health", Look{Evidence: EvidenceUsable}, StateUnknown, true, false, false},

		{"unusable, no wedge before", Look{Evidence: EvidenceUnusable, Health: aging(), Detail: "HTTP 401"}, StateDown, false, false, false},
		{"unusable after a wedge: carried on, no restart", Look{Evidence: EvidenceUnusable, Health: wedged(), WasStale: true, Detail: "HTTP 500"}, StateWedged, false, true, false},
		{"refused after a wedge", Look{Evidence: EvidenceRefused, Health: nil, WasStale: true, Detail: "connection refused"}, StateDown, false, false, false},

		{"hung, nothing known", Look{Evidence: EvidenceHung, HungFor: time.Hour, Detail: "timeout"}, StateDown, false, false, false},
		{"hung briefly, last known healthy", Look{Evidence: EvidenceHung, Health: healthy(), HungFor: 5 * time.Second, Detail: "timeout"}, StateDown, false, false, false},
		{"hung briefly, extrapolated stale: may be a new process starting", Look{Evidence: EvidenceHung, Health: aging(), HungFor: 11 * time.Second, Detail: "timeout"}, StateDown, false, false, false},
		{"hung briefly, a cycle seen in flight extrapolated past the threshold", Look{Evidence: EvidenceHung, Health: inFlight(), HungFor: 11 * time.Second, Detail: "timeout"}, StateWedged, false, true, false},
		{"hung longer than the threshold, extrapolated stale", Look{Evidence: EvidenceHung, Health: aging(), HungFor: 61 * time.Second, Detail: "timeout"}, StateWedged, false, true, true},
		{"hung briefly after a wedge: the wedge goes on, no restart yet", Look{Evidence: EvidenceHung, Health: wedged(), WasStale: true, HungFor: 5 * time.Second, Detail: "timeout"}, StateWedged, false, true, false},
		{"hung longer than the threshold after a wedge", Look{Evidence: EvidenceHung, Health: wedged(), WasStale: true, HungFor: 61 * time.Second, Detail: "timeout"}, StateWedged, false, true, true},
		{"hung, last known stopped", Look{Evidence: EvidenceHung, Health: stopped(), HungFor: time.Hour, Detail: "timeout"}, StateDown, false, false, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			a := Decide(c.look)
			assert.Equal(t, c.state, a.State, a.Reason)
			assert.Equal(t, c.up, a.Up, "up")
			assert.Equal(t, c.stale, a.Stale, "stale")
			assert.Equal(t, c.fix, a.Restart, "restart")
			assert.Equal(t, c.look.Evidence, a.Evidence)
			assert.NotEmpty(t, a.Reason)
			if a.Restart {
				assert.True(t, a.Stale, "a restart is asked only for a wedge")
			}
			if a.State == StateWedged {
				assert.True(t, a.Stale, "WEDGED is dispatch_poll_stale 1 and nothing else")
			}
		})
	}
}

func TestDecideStuckSaysWhatWaits(t *testing.T) {
	t.Parallel()
	h := running()
	h.LastStarted, h.LastCompleted = at(-2*time.Second), at(-time.Second)
	h.ReadyUnassignedTasks, h.AvailableWorkers = 3, 0
	a := Decide(Look{Evidence: EvidenceUsable, Health: &h})
	assert.Equal(t, StateStuck, a.State)
	assert.Contains(t, a.Reason, "3 ready task(s), no available worker")
}
