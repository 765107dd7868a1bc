package dispatch

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A loop wedged while its HTTP server answers: restart request 1 is
// answered its count and the kubelet kills the container. A wedged
// process does not stop on SIGTERM (its shutdown waits for the wedged
// loop), so for the termination grace (Kubernetes' default 30s) it goes on
// answering scrapes with the very stamps it showed before the request:
// answers about the old process, which no new process could give. The
// kubelet does not probe a container it is restarting. Then the new
// process starts (no refusal seen: the port was free only for a moment)
// and answers 503 "starting" while it starts, as start-ups do. Its first
// probes, a second or two into its life, must not answer 503: the only
// evidence of a restart is the terminating process's answer, and an
// unusable answer is no evidence (a hanging start-up is already given its
// grace: the hang's start is known).
func TestRestartWaitsForTheNewProcessNotTheTerminatingOne(t *testing.T) {
	t.Parallel()
	r := killedWhileWedged(t)
	// SIGKILL at 33s; the new process listens at 33.5s and answers 503
	// "starting" for 9s. The kubelet probes it every second from 34.5s.
	for s := 34.5; s < 42.5; s++ {
		o := r.tr.Fail(EvidenceUnusable, "HTTP 503: starting", pat(s), pat(s))
		l := r.live(o, s)
		assert.False(t, l.Restart, "%vs: the new process answers 503 starting; the 503 rests on the terminating process's answer: %s", s, l.Reason)
	}
	assert.Equal(t, 1, r.requests, "one request: the new process gave no evidence of a wedge")
}

// The same with the probe that stops waiting (--liveness.timeout 2s <
// --target.timeout 5s): the first probe of the freshly started process is
// decided on the request still unanswered, and must not carry a 503 from
// the decision about the process that was terminating.
func TestFirstProbeOfANewProcessCarriesNoRestartFromTheTerminatingOne(t *testing.T) {
	t.Parallel()
	r := killedWhileWedged(t)
	// The new process listens at 33.5s; the probe at 34.5s gives up after 2s.
	o := r.tr.Pending("no answer within this caller's deadline; the request goes on", pat(34.5), pat(36.5))
	l := r.live(o, 36.5)
	assert.False(t, l.Restart, "a probe that stopped waiting 3s into the new process's life answered 503 on the old one's decision: %s", l.Reason)
}

// killedWhileWedged is the history both tests share, up to the old
// process's SIGKILL at 33s: liveness every second, request 1 answers 503
// three times (the kubelet kills at 3s); then the terminating process
// answers scrapes every 5s with the same stamps, and is not probed.
func killedWhileWedged(t *testing.T) *policyRun {
	t.Helper()
	r := newPolicyRun(t, 3*time.Second, 3)
	for s := 1.0; s <= 3; s++ {
		_, killed := r.probe(r.tr.Answer(wedged(s), pat(s)), s)
		require.Equal(t, s == 3, killed, "%vs: request 1 answers 503, the kubelet kills at its third", s)
	}
	require.Equal(t, 1, r.requests, "the terminating process was asked to restart")
	for s := 5.0; s <= 30; s += 5 {
		r.tr.Answer(wedged(s), pat(s))
	}
	return r
}
