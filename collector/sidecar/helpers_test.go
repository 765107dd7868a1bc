package sidecar

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/stoneforge/dispatch_exporter/dispatch"
	"github.com/stoneforge/dispatch_exporter/dispatch/smithy"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var t0 = time.Date(2026, 11, 26, 21, 0, 0, 0, time.UTC)

// statusBody is the status a smithy daemon serves for h, written by
// smithy.FromHealth as the demo daemon writes it: the one way these tests
// build a status body (real captured answers come from smithySample).
func statusBody(h dispatch.Health) string {
	b, err := json.Marshal(smithy.FromHealth(h, dispatch.Judge(h)))
	if err != nil {
		panic(fmt.Sprintf("a smithy status always encodes: %v", err))
	}
	return string(b)
}

// runningStatus is a running daemon's status at its time now: one worker
// available, no task ready, its latest cycle started and completed at the
// given times (zero: not reported).
func runningStatus(now time.Time, interval time.Duration, started, completed time.Time) string {
	return statusBody(dispatch.Health{Now: now, LastStarted: started, LastCompleted: completed, Running: true,
		Interval: interval, Observed: true, QueueKnown: true, AvailableWorkers: 1})
}

// cyclingBody is a healthy daemon at now (interval 1s): its latest cycle
// started a second ago and completed.
func cyclingBody(now time.Time) string {
	return runningStatus(now, time.Second, now.Add(-time.Second), now.Add(-time.Second+time.Millisecond))
}

// wedgedBody is a daemon at now (interval 5s) whose cycle has been in
// flight since t0-70s: wedged, by its own answer, from t0 on.
func wedgedBody(now time.Time) string {
	return runningStatus(now, 5*time.Second, t0.Add(-70*time.Second), t0.Add(-75*time.Second))
}

// healthLessBody is a running daemon that could not compute its health
// object: an answer in the contract that says nothing of the loop.
func healthLessBody() string {
	return statusBody(dispatch.Health{Running: true, Interval: 5 * time.Second})
}

// scriptedDaemon is a daemon reached through an in-memory transport: the
// test scripts its answers in resp and moves its clock, now, which the
// target under test reads as its own.
type scriptedDaemon struct {
	now  time.Time
	resp func(req *http.Request) (*http.Response, error)
}

func (d *scriptedDaemon) RoundTrip(req *http.Request) (*http.Response, error) { return d.resp(req) }

// wire makes a target ask d, on d's clock.
func (d *scriptedDaemon) wire(o *TargetOptions) {
	o.Client = &http.Client{Transport: d}
	o.Now = func() time.Time { return d.now }
}

// answer is an HTTP response of code with body, as a scriptedDaemon gives it.
func answer(req *http.Request, code int, body string) *http.Response {
	return &http.Response{StatusCode: code, Status: fmt.Sprintf("%d %s", code, http.StatusText(code)),
		Header: http.Header{}, Body: io.NopCloser(strings.NewReader(body)), Request: req}
}
