package dispatch

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// The daemon answers a completed cycle at 0s, then its whole server hangs
// (SIGSTOP) for 300s; threshold 10s. It is judged WEDGED at ~11s. At 100s
// one request fails without a usable status and without a hang: a dial
// timeout (the hung process's accept backlog is full, so SYNs are
// dropped), a reset, or a 502 from a proxy in front. The hang goes on.
//
//	  0s   usable, healthy                 stale 0
//	 11s   hung 11s > threshold            stale 1   (page)
//	100s   one unusable answer             stale 1   (carried: no evidence it ended)
//	101s.. hung again                      stale 1   (one page for the one hang)
//
// An unusable answer is no evidence that the wedge ended: the wedge is
// carried through it, so one blip after a long hang neither resolves the
// page nor starts the hang's count again.
func TestAHangStaysWedgedThroughOneUnusableAnswer(t *testing.T) {
	t.Parallel()
	tr := NewTracker(10 * time.Second)
	tr.Answer(cycling(0), pat(0))
	judged, flips := false, 0
	var lastDrop float64
	for s := 1.0; s <= 300; s++ {
		var o Observation
		if s == 100 {
			o = tr.Fail(EvidenceUnusable, "connect: dial tcp 10.0.0.7:3457: i/o timeout", pat(s-1), pat(s))
		} else {
			o = tr.Fail(EvidenceHung, "timeout", pat(s-1), pat(s))
		}
		if judged && !o.Assessment.Stale {
			flips++
			lastDrop = s
		}
		judged = judged || o.Assessment.Stale
	}
	assert.True(t, judged)
	assert.Zero(t, flips, "dispatch_poll_stale fell to 0 during one continuous hang (last at %vs)", lastDrop)
}
