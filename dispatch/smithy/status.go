// Package smithy is the status contract of Stoneforge's smithy daemon
// (GET /api/daemon/status, dispatch/smithy/testdata/STATUS.md): its JSON shape, a
// strict decoder, and the conversion of a status into a dispatch.Report, the
// input of dispatch.Tracker. It does no I/O.
package smithy

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"
)

// Status is the body of smithy's GET /api/daemon/status. Pointer fields are
// optional in the contract (or in older daemons) and nil when absent.
type Status struct {
	IsRunning     *bool         `json:"isRunning"`
	Available     *bool         `json:"available"`
	Reason        string        `json:"reason,omitempty"`
	ServerManaged *bool         `json:"serverManaged,omitempty"`
	Config        *Config       `json:"config,omitempty"`
	RateLimit     *RateLimit    `json:"rateLimit,omitempty"`
	Health        *HealthReport `json:"health,omitempty"`
}

// Config is the daemon's loop configuration.
type Config struct {
	// PollIntervalMs is the loop interval; smithy clamps it to 1000..60000.
	PollIntervalMs *float64 `json:"pollIntervalMs,omitempty"`
	// PollStaleThresholdMs is the daemon's staleness threshold, when it
	// reports one (smithy does not yet; the demo daemon does).
	PollStaleThresholdMs *float64 `json:"pollStaleThresholdMs,omitempty"`

	WorkerAvailabilityPollEnabled  *bool `json:"workerAvailabilityPollEnabled,omitempty"`
	InboxPollEnabled               *bool `json:"inboxPollEnabled,omitempty"`
	StewardTriggerPollEnabled      *bool `json:"stewardTriggerPollEnabled,omitempty"`
	WorkflowTaskPollEnabled        *bool `json:"workflowTaskPollEnabled,omitempty"`
	DirectorInboxForwardingEnabled *bool `json:"directorInboxForwardingEnabled,omitempty"`
}

// RateLimit says whether dispatch is paused on purpose.
type RateLimit struct {
	// IsPaused: every executable is rate-limited.
	IsPaused     bool       `json:"isPaused"`
	Limits       []Limit    `json:"limits"`
	SoonestReset *Timestamp `json:"soonestReset,omitempty"`
}

// Limit is one rate-limited executable.
type Limit struct {
	Executable string    `json:"executable"`
	ResetsAt   Timestamp `json:"resetsAt"`
}

// HealthReport is smithy's health object; absent when computing it threw.
type HealthReport struct {
	ReadyUnassignedTasks *int       `json:"readyUnassignedTasks,omitempty"`
	AvailableWorkers     *int       `json:"availableWorkers,omitempty"`
	Stuck                *bool      `json:"stuck,omitempty"`
	HasStuckQueue        *bool      `json:"hasStuckQueue,omitempty"`
	ComputedAt           *Timestamp `json:"computedAt,omitempty"`
	LastPollStartedAt    *Timestamp `json:"lastPollStartedAt,omitempty"`
	LastPollCompletedAt  *Timestamp `json:"lastPollCompletedAt,omitempty"`
	PollStale            *bool      `json:"pollStale,omitempty"`
}

// Timestamp is an ISO-8601 instant as JavaScript's toISOString writes it
// ("2026-11-26T20:59:15.830Z"); any RFC 3339 time is accepted on input.
type Timestamp time.Time

// isoMillis is the layout of JavaScript's Date.prototype.toISOString.
const isoMillis = "2006-01-02T15:04:05.000Z"

// Time is the instant.
func (t Timestamp) Time() time.Time { return time.Time(t) }

// MarshalJSON writes the instant as toISOString does.
func (t Timestamp) MarshalJSON() ([]byte, error) {
	return []byte(`"` + time.Time(t).UTC().Format(isoMillis) + `"`), nil
}

// UnmarshalJSON reads an RFC 3339 string; anything else is an error.
func (t *Timestamp) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("timestamp must be an ISO-8601 string, got %.40s", b)
	}
	v, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return fmt.Errorf("timestamp %q is not ISO-8601: %w", s, err)
	}
	*t = Timestamp(v)
	return nil
}

// Decode parses a status body strictly by type: a field of the wrong type,
// a missing required field (isRunning, available), a negative count or
// trailing data is an error. Unknown fields are ignored, so a newer daemon
// can add some; optional fields may be missing.
func Decode(body []byte) (*Status, error) {
	var st *Status
	if err := json.Unmarshal(body, &st); err != nil {
		return nil, fmt.Errorf("decode status: %w", err)
	}
	if st == nil {
		return nil, errors.New("decode status: body is null, not an object")
	}
	if err := st.validate(); err != nil {
		return nil, fmt.Errorf("decode status: %w", err)
	}
	return st, nil
}

func (st *Status) validate() error {
	if st.IsRunning == nil {
		return errors.New("missing required field isRunning")
	}
	if st.Available == nil {
		return errors.New("missing required field available")
	}
	if c := st.Config; c != nil {
		if c.PollIntervalMs != nil && *c.PollIntervalMs <= 0 {
			return fmt.Errorf("config.pollIntervalMs must be positive, got %v", *c.PollIntervalMs)
		}
		if c.PollStaleThresholdMs != nil && *c.PollStaleThresholdMs <= 0 {
			return fmt.Errorf("config.pollStaleThresholdMs must be positive, got %v", *c.PollStaleThresholdMs)
		}
	}
	if h := st.Health; h != nil {
		if h.ReadyUnassignedTasks != nil && *h.ReadyUnassignedTasks < 0 {
			return fmt.Errorf("health.readyUnassignedTasks must not be negative, got %d", *h.ReadyUnassignedTasks)
		}
		if h.AvailableWorkers != nil && *h.AvailableWorkers < 0 {
			return fmt.Errorf("health.availableWorkers must not be negative, got %d", *h.AvailableWorkers)
		}
	}
	return nil
}

// Interval is config.pollIntervalMs; zero when absent, saturated at
// time.Duration's range.
func (st *Status) Interval() time.Duration {
	if st.Config == nil || st.Config.PollIntervalMs == nil {
		return 0
	}
	return msDuration(*st.Config.PollIntervalMs)
}

// Threshold is config.pollStaleThresholdMs as sent; zero when absent,
// saturated at time.Duration's range. Report clamps it.
func (st *Status) Threshold() time.Duration {
	if st.Config == nil || st.Config.PollStaleThresholdMs == nil {
		return 0
	}
	return msDuration(*st.Config.PollStaleThresholdMs)
}

// msDuration converts milliseconds to a Duration, saturating at its range
// (about 292 years) rather than overflowing: a float beyond it converts to
// an undefined integer, which made 1e13 ms a negative threshold and the
// default rule apply in silence.
func msDuration(ms float64) time.Duration {
	ns := ms * float64(time.Millisecond)
	switch {
	case ns >= math.MaxInt64:
		return math.MaxInt64
	case ns <= math.MinInt64:
		return math.MinInt64
	}
	return time.Duration(ns)
}
