package dispatch

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// The whole server hangs (SIGSTOP-like); threshold 10s, the kubelet probes
// every second and restarts after 3 failures. Request 1 is answered its
// count at 13s and the kubelet kills the container; the hung process
// ignores SIGTERM, so it keeps accepting (and hanging) for the whole
// termination grace, 30s (Kubernetes' default), and the kubelet does not
// probe meanwhile. SIGKILL at 43s finds no request of ours in flight (the
// scrapes of 15s and 30s had timed out), so no cut connection is seen, and
// the new process listens at 43.5s: its start-up accepts and answers
// nothing for 9s (under the threshold), then it cycles.
//
// The new process never hung for a threshold: it must not be killed. The
// hang the policy acts on began before request 1, in the process that was
// killed; the grace (threshold × 2 = 20s from the last 503) ran out while
// that process was still terminating.
func TestRestartSparesAStartUpAfterALongTermination(t *testing.T) {
	t.Parallel()
	r := newPolicyRun(t, 10*time.Second, 3)
	r.tr.Answer(cycling(0), pat(0))
	killedAt := -1.0
	for s := 1.0; s <= 13; s++ {
		if _, killed := r.probe(r.hang(s, 1), s); killed {
			killedAt = s
			break
		}
	}
	assert.Equal(t, 1, r.kills, "the hang of the old process is restarted")
	// Termination: scrapes at 15s and 30s hang for the target's 5s timeout.
	r.tr.Fail(EvidenceHung, "timeout", pat(15), pat(20))
	r.tr.Fail(EvidenceHung, "timeout", pat(30), pat(35))
	newStart := killedAt + 30.5
	for s := newStart + 1; s <= newStart+60; s++ {
		var o Observation
		if s-newStart >= 9 {
			o = r.tr.Answer(cycling(s), pat(s))
		} else {
			o = r.hang(s, 1)
		}
		l, killed := r.probe(o, s)
		if l.Restart {
			assert.GreaterOrEqual(t, s-newStart, 10.0, "%vs: 503 to a process %.1fs into its start-up (threshold 10s): %s", s, s-newStart, l.Reason)
		}
		if killed {
			newStart = s + 0.5 // it dies at once: it was only starting
		}
	}
	assert.Equal(t, 1, r.kills, "one kill: the new process was only starting")
}
