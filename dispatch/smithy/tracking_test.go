package smithy

import (
	"time"

	"github.com/stoneforge/dispatch_exporter/dispatch"
)

// Observation is the tracker's decision, as these tests read it.
type Observation = dispatch.Observation

// Tracker feeds decoded smithy answers to a dispatch.Tracker: what the
// sidecar does with each status it reads.
type Tracker struct{ *dispatch.Tracker }

// NewTracker is a tracker with a threshold override (zero: the daemon's).
func NewTracker(threshold time.Duration) *Tracker {
	return &Tracker{dispatch.NewTracker(threshold)}
}

// Answer takes a decoded status, converted as the sidecar converts it.
func (t *Tracker) Answer(st *Status, at time.Time) Observation {
	return t.Tracker.Answer(st.Report(), at)
}
