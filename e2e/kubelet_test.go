package e2e

import (
	"context"
	"math/rand/v2"
	"time"

	"github.com/stoneforge/dispatch_exporter/collector/sidecar"
)

// restartBudget is how many restarts of one hang the exporter may ask for
// before it should give up (TargetOptions.RestartBudget's default).
const restartBudget = 3

// kubeletConfig is a daemon container's livenessProbe (and startupProbe).
type kubeletConfig struct {
	period           time.Duration // periodSeconds
	timeout          time.Duration // timeoutSeconds: the probe's deadline
	failureThreshold time.Duration // as a count; a Duration to multiply by period
	startupWindow    time.Duration // a startupProbe: no liveness checks this long after a start
	grace            time.Duration // terminationGracePeriodSeconds
}

func newKubeletConfig(rng *rand.Rand) *kubeletConfig {
	k := &kubeletConfig{
		period:           time.Duration(1+rng.IntN(10)) * time.Second,
		timeout:          time.Duration(1+rng.IntN(5)) * time.Second,
		failureThreshold: time.Duration(1 + rng.IntN(5)),
		grace:            time.Duration(rng.IntN(31)) * time.Second,
	}
	if rng.IntN(2) == 0 {
		k.startupWindow = time.Duration(10+rng.IntN(290)) * time.Second
	}
	return k
}

// kubelet probes /-/target/healthy of one daemon's container (the
// Target's Liveness, as the sidecar's handler calls it) and, when enforce,
// kills the container's process after failureThreshold failures in a row.
type kubelet struct {
	cfg     *kubeletConfig
	d       *daemon
	tgt     *sidecar.Target
	shadow  bool
	rng     *rand.Rand
	kills   int
	probes  int
	fail503 int
}

func (k *kubelet) run(ctx context.Context) {
	failures, proc := 0, 0
	next := time.Now().Add(time.Duration(k.rng.Int64N(int64(k.cfg.period))))
	for {
		if !sleepUntil(ctx, next) {
			return
		}
		start := time.Now()
		next = start.Add(k.cfg.period)
		k.d.mu.Lock()
		p := k.d.proc
		restarting := k.d.term != nil || start.Before(p.spawn)
		k.d.mu.Unlock()
		if restarting {
			continue // the container is not running: no probes
		}
		if p.id != proc {
			failures, proc = 0, p.id // a new container: its count starts afresh
		}
		if start.Before(p.spawn.Add(k.cfg.startupWindow)) {
			continue
		}
		pctx, cancel := context.WithTimeout(ctx, k.cfg.timeout)
		probe, l := k.tgt.Liveness(pctx, k.shadow)
		cancel()
		if ctx.Err() != nil {
			return
		}
		restart := l.Restart
		k.probes++
		st := probe.State()
		code := 200
		k.d.mu.Lock()
		k.d.truth.answered(k.d, restart, time.Now())
		k.d.mu.Unlock()
		if restart {
			code = 503
			failures++
			k.fail503++
		} else {
			failures = 0
		}
		k.d.log.add(k.d.name+" kubelet", "%d %s (%s) restart=%v: %s; liveness: %s [%d/%d]", code, st.State, st.Evidence, st.Restart, st.Reason, l.Reason, failures, k.cfg.failureThreshold)
		if failures < int(k.cfg.failureThreshold) || k.shadow {
			continue
		}
		failures = 0
		k.d.mu.Lock()
		now := time.Now()
		k.d.advance(now)
		if k.d.proc.id == proc && !now.Before(k.d.proc.spawn) {
			j := k.d.truth.judgeKill(k.d, now, k.cfg.failureThreshold*k.cfg.period+k.cfg.timeout)
			k.kills++
			what := "kills"
			if j.needless {
				what = "HARM needless kill of"
				if j.exception != "" {
					what = "kills (exception: " + j.exception + ")"
				}
			}
			k.d.log.add(k.d.name+" kubelet", "%s process %d", what, proc)
			k.d.kill(now, "killed by the kubelet", k.cfg.grace)
		}
		k.d.mu.Unlock()
	}
}

// sleepUntil sleeps on the bubble's clock; false when ctx ended first.
func sleepUntil(ctx context.Context, t time.Time) bool {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err() == nil
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-timer.C:
		return true
	}
}
