package dispatch

import "time"

// Report is what one answer of a daemon's status endpoint says, converted
// from its wire format (see dispatch/smithy) into the evidence model's
// terms: the Tracker's input. Times are as the daemon stamped them; zero
// means absent.
type Report struct {
	// Available is false when the server has no dispatch daemon at all;
	// Reason then says why, and nothing else is read.
	Available bool
	// Reason is the server's reason for having no daemon.
	Reason string
	// Running is the loop's started flag (smithy's isRunning).
	Running bool
	// Interval and Threshold are the daemon's configured poll interval and
	// staleness threshold; zero when not reported.
	Interval, Threshold time.Duration
	// HealthKnown is false when the answer carried no health (the daemon
	// could not compute it): then nothing below is known.
	HealthKnown bool
	// ComputedAt is the daemon's "now" when it computed the answer.
	ComputedAt time.Time
	// LastStarted and LastCompleted are the latest cycle's start and the
	// latest completion.
	LastStarted, LastCompleted time.Time
	// QueueKnown is true when Ready and Workers were both reported.
	QueueKnown bool
	// Ready counts ready tasks with no assignee; Workers available workers.
	Ready, Workers int
	// Oddities are fields the conversion dropped or clamped as outside
	// what a daemon can mean (see MaxCount, ClampStaleThreshold): the
	// Tracker passes them on in its Observation.
	Oddities []Oddity
	// Implausible is a loop field the conversion found no daemon can mean
	// where the Report cannot carry it (a stamp at the zero instant, which
	// a zero time.Time would read as absent): the Tracker takes the answer
	// as unusable, as for the fields it checks itself. Nil otherwise.
	Implausible *Oddity
}
