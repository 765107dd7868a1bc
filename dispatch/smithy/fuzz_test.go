package smithy

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stoneforge/dispatch_exporter/dispatch"
)

// FuzzDecode feeds arbitrary bodies to the decoder and whatever it accepts
// to a Tracker and Judge: nothing may panic, an implausible answer is no
// evidence, a daemon's threshold in force lies within its bounds, and
// whatever is accepted must survive a round trip through JSON unchanged in
// meaning.
func FuzzDecode(f *testing.F) {
	for _, body := range samples(f) {
		f.Add(body)
	}
	f.Add([]byte(`{"isRunning":true,"available":true,"health":{"readyUnassignedTasks":"3"}}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, body []byte) {
		st, err := Decode(body)
		if err != nil {
			return
		}
		tr := NewTracker(0)
		o := tr.Answer(st, ours)
		if o.Assessment.Stale && !o.Assessment.Up {
			t.Fatalf("stale without a usable answer: %+v", o.Assessment)
		}
		if o.Implausible != nil && (o.Assessment.Up || o.Health != nil) {
			t.Fatalf("an implausible answer taken as evidence: %+v", o.Assessment)
		}
		if h := o.Health; h != nil {
			if lo, hi := dispatch.StaleThresholdBounds(h.Interval); h.Threshold != 0 && (h.Threshold < lo || h.Threshold > hi) {
				t.Fatalf("the daemon's threshold %s in force outside %s..%s", h.Threshold, lo, hi)
			}
		}
		o = tr.Fail(dispatch.EvidenceHung, "hung", ours, ours.Add(time.Minute))
		if o.Assessment.Up || (o.Assessment.Restart && !o.Assessment.Stale) {
			t.Fatalf("a hang decided %+v", o.Assessment)
		}
		o = tr.Fail(dispatch.EvidenceRefused, "refused", ours.Add(2*time.Minute), ours.Add(2*time.Minute))
		if o.Assessment.Stale || o.Assessment.Restart || o.Health != nil {
			t.Fatalf("a refusal decided %+v", o.Assessment)
		}

		again, err := json.Marshal(st)
		if err != nil {
			t.Fatalf("accepted body does not re-encode: %v", err)
		}
		st2, err := Decode(again)
		if err != nil {
			t.Fatalf("re-encoded body %s does not decode: %v", again, err)
		}
		if *st2.IsRunning != *st.IsRunning || *st2.Available != *st.Available || st2.Interval() != st.Interval() {
			t.Fatalf("round trip changed the status: %s", again)
		}
	})
}
