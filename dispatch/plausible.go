package dispatch

import (
	"fmt"
	"time"
)

// The bounds of what a daemon's fields can mean. A field outside them is no
// fact about the daemon: the loop's timestamps make the whole answer
// unusable (Observation.Implausible), anything else is dropped or clamped,
// and each is named in an Oddity.
const (
	// MaxClockSkew is how far ahead of ours a daemon's clock
	// (health.computedAt, its cycle stamps) may be and still be a clock:
	// beyond a mistaken time zone (+14 h) and hours of drift or steps,
	// short of the years a broken clock or a hand-written answer shows.
	// Skew and steps within it are legitimate and handled by the judging
	// clock; a timestamp further ahead is in no daemon's present. A clock
	// behind ours by any amount (back to 1970) is judged on its own terms.
	MaxClockSkew = 24 * time.Hour
	// MinPollInterval and MaxPollInterval bound config.pollIntervalMs:
	// smithy clamps its own to 1 s..60 s; a loop polling its store more
	// than a thousand times a second, or less than hourly, is no dispatch
	// loop. An interval under the minimum is dropped (the default rule
	// applies), one over the maximum clamped to it.
	MinPollInterval = time.Millisecond
	MaxPollInterval = time.Hour
	// MaxCount bounds health.readyUnassignedTasks and availableWorkers: a
	// billion is more than any daemon's store holds, and exact in a float64.
	MaxCount = 1_000_000_000
	// MaxRateLimitHorizon is how far from our clock a rate limit's reset may
	// lie: providers' windows run from hours to a week; a month and the
	// clock skew above leave room for any.
	MaxRateLimitHorizon = 31*24*time.Hour + MaxClockSkew
)

// epoch is the earliest instant a daemon can stamp: JavaScript's zero date
// (new Date(0)); before it is garbage (year 1, a negative time).
var epoch = time.Unix(0, 0)

// Oddity is one field of a daemon's answer outside what a daemon can mean:
// the answer refused for it, or the field dropped or clamped.
type Oddity struct {
	// Field is the field as the status contract names it
	// (health.computedAt, config.pollStaleThresholdMs, ...).
	Field string
	// Note says what it was and what was done, in words.
	Note string
}

func (o Oddity) String() string { return o.Field + ": " + o.Note }

// StaleThresholdBounds is the range a daemon's own staleness threshold is
// clamped to, for its poll interval (zero: unknown). Below twice the
// interval a healthy loop would be called wedged between two cycles (with
// no interval known, the default rule's 60 s floor stands in); above ten
// intervals or an hour (whichever is longer) a wedge would go unseen for
// longer than anyone configures on purpose. The default rule,
// max(60s, 10 × interval), always lies within.
func StaleThresholdBounds(interval time.Duration) (lo, hi time.Duration) {
	lo = MinStaleThreshold
	if interval > 0 {
		lo = 2 * interval
	}
	return lo, max(time.Hour, 10*interval)
}

// ClampStaleThreshold clamps a daemon's threshold into StaleThresholdBounds;
// the Oddity, when it had to, says so. Zero (not reported) stays zero.
func ClampStaleThreshold(threshold, interval time.Duration) (time.Duration, *Oddity) {
	if threshold <= 0 {
		return 0, nil
	}
	lo, hi := StaleThresholdBounds(interval)
	var c time.Duration
	switch {
	case threshold < lo:
		c = lo
	case threshold > hi:
		c = hi
	default:
		return threshold, nil
	}
	return c, &Oddity{Field: "config.pollStaleThresholdMs", Note: fmt.Sprintf(
		"%s is outside %s..%s (twice the poll interval, or 60s with no interval, to the longer of an hour and ten intervals): %s used",
		skewWords(threshold), lo, hi, c)}
}

// PlausibleStamp reports whether t can be a daemon's timestamp when our
// clock reads now: no earlier than 1970 (JavaScript's zero date) and no
// further ahead of our clock than MaxClockSkew.
func PlausibleStamp(t, now time.Time) bool {
	return !t.Before(epoch) && !t.After(now.Add(MaxClockSkew))
}

// PlausibleRateLimitReset reports whether t can be when a rate limit resets,
// with our clock at now: within MaxRateLimitHorizon of it either way.
func PlausibleRateLimitReset(t, now time.Time) bool {
	return !t.Before(now.Add(-MaxRateLimitHorizon)) && !t.After(now.Add(MaxRateLimitHorizon))
}

// implausible is the first of a report's loop timestamps that is no
// daemon's, at our time now: computedAt more than MaxClockSkew ahead of our
// clock; a cycle stamp outside PlausibleStamp; or a cycle stamp more than
// MaxClockSkew after computedAt (no step of one clock between the stamp
// and the answer goes that far). A computedAt far behind ours is a clock
// (a dead RTC counts from 1970): the stamps are judged on it. Nil when all
// are plausible.
func implausible(r Report, now time.Time) *Oddity {
	if r.Implausible != nil {
		return r.Implausible
	}
	c := r.ComputedAt
	if !c.IsZero() && !PlausibleStamp(c, now) {
		return &Oddity{Field: "health.computedAt", Note: unlikeAnyClock(c, now)}
	}
	for _, s := range []struct {
		field string
		t     time.Time
	}{{"health.lastPollStartedAt", r.LastStarted}, {"health.lastPollCompletedAt", r.LastCompleted}} {
		switch {
		case s.t.IsZero():
		case !PlausibleStamp(s.t, now):
			return &Oddity{Field: s.field, Note: unlikeAnyClock(s.t, now)}
		case !c.IsZero() && s.t.Sub(c) > MaxClockSkew:
			return &Oddity{Field: "health.computedAt", Note: fmt.Sprintf(
				"%s is %s before %s %s, more than any step of the daemon's clock: no evidence of the loop",
				stampOf(c), skewWords(s.t.Sub(c)), s.field, stampOf(s.t))}
		}
	}
	return nil
}

// unlikeAnyClock says why t, outside PlausibleStamp at our time now, is no
// daemon's timestamp.
func unlikeAnyClock(t, now time.Time) string {
	if t.Before(epoch) {
		return stampOf(t) + " is before 1970: no evidence of the loop"
	}
	return fmt.Sprintf("%s is %s ahead of our clock, more than the %s a daemon's clock may be: no evidence of the loop",
		stampOf(t), skewWords(t.Sub(now)), MaxClockSkew)
}

// stampOf writes an instant of any year (time.Format pads a year past 9999
// and before 0 oddly, but never fails).
func stampOf(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// skewWords is a duration that may have saturated time.Duration's range
// (about 292 years) in words.
func skewWords(d time.Duration) string {
	if d >= time.Duration(1<<63-1) || d <= time.Duration(-1<<63) {
		return "over 292 years"
	}
	return roundAge(d).String()
}
