package collector

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/stoneforge/dispatch_exporter/dispatch"
	"github.com/stoneforge/dispatch_exporter/dispatch/smithy"
)

// TargetOptions configure a Target.
type TargetOptions struct {
	// Name identifies the target (/probe?target=NAME, logs, landing page).
	Name string
	// URL of the daemon's status endpoint.
	URL string
	// Client sends the requests. Default: http.DefaultClient's transport.
	Client *http.Client
	// Timeout bounds each status request. Default 5s.
	Timeout time.Duration
	// StaleThreshold overrides the daemon's threshold and the default rule.
	StaleThreshold time.Duration
	// RestartWindow is how long liveness asks for the restart of a daemon
	// that hangs before a hang that goes on counts afresh; it should equal
	// the livenessProbe's failureThreshold × periodSeconds. Default
	// smithy.DefaultRestartWindow.
	RestartWindow time.Duration
	// MaxBodyBytes caps a status body. Default DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// Loop is the loop label of the target's metrics. Default "dispatch".
	Loop string
	// Logger receives state changes, once each. Default: none.
	Logger log.Logger
	// Now is our clock (monotonic). Default time.Now.
	Now func() time.Time

	// shared are descriptors to share with other targets (Targets passes
	// one set to all: a thousand targets need not hold a thousand copies).
	shared *targetDescs
}

// targetDescs are a target's descriptors: the shared families and the
// status endpoint's own.
type targetDescs struct {
	loop   *descs
	status *statusDescs
	labels sync.Map // loop name → *loopLabels: a thousand targets of loop "dispatch" share one set
}

// labelsOf returns the shared label pairs of loop.
func (d *targetDescs) labelsOf(loop string) *loopLabels {
	if l, ok := d.labels.Load(loop); ok {
		return l.(*loopLabels)
	}
	l, _ := d.labels.LoadOrStore(loop, newLoopLabels(loop))
	return l.(*loopLabels)
}

func newTargetDescs() *targetDescs {
	var names descNames
	return &targetDescs{loop: newDescs(&names), status: newStatusDescs(&names)}
}

// Target reads one daemon's status endpoint at scrape time and judges its
// loop itself, through the evidence model of smithy.Tracker and
// dispatch.Decide. Concurrent probes share one request in flight.
type Target struct {
	opts   TargetOptions
	descs  *targetDescs
	logger log.Logger
	labels *loopLabels
	flight flight[probeResult]

	mu          sync.Mutex
	tracker     *smithy.Tracker
	transitions *dispatch.Transitions
	last        *probeResult  // the latest request's result
	gaveUp      time.Duration // how long the latest caller that gave up waited; 0 once a request decides
	slowWarned  bool          // "answered after a caller gave up" was logged
	failures    failureCounts
	notes       []string
	episode     bool // a liveness episode is being reported
}

// probeResult is the outcome of one status request: the decision and
// everything its outputs show, fixed when it was taken.
type probeResult struct {
	obs      smithy.Observation
	duration time.Duration
	err      error         // a *FetchError, or nil
	failures failureCounts // the failure counters after this request
	at       time.Time     // our clock when it was decided
}

// NewTarget returns a Target that has not yet been probed.
func NewTarget(opts TargetOptions) *Target {
	if opts.Client == nil {
		opts.Client = &http.Client{}
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 5 * time.Second
	}
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if opts.Loop == "" {
		opts.Loop = "dispatch"
	}
	if opts.Logger == nil {
		opts.Logger = log.NewNopLogger()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.shared == nil {
		opts.shared = newTargetDescs()
	}
	logger := log.With(opts.Logger, "target", opts.Name, "url", redact(opts.URL))
	t := &Target{
		opts:        opts,
		descs:       opts.shared,
		logger:      logger,
		labels:      opts.shared.labelsOf(opts.Loop),
		tracker:     smithy.NewTracker(opts.StaleThreshold, opts.RestartWindow),
		transitions: dispatch.NewTransitions(log.With(logger, "loop", opts.Loop), nil),
	}
	return t
}

// Name is the target's name.
func (t *Target) Name() string { return t.opts.Name }

// Probe reads the target now, joining a request already in flight. The
// request runs under the target's own timeout; the caller waits until ctx
// ends. When ctx ends first, the result is the latest decision, unchanged
// (no new evidence), with dispatch_up 0 for this caller; the request goes on
// and decides for the next probe.
func (t *Target) Probe(ctx context.Context) Probe {
	start := t.opts.Now()
	r, ok := t.flight.do(ctx, t.opts.Timeout, t.request)
	if !ok {
		now := t.opts.Now()
		t.mu.Lock()
		r = probeResult{obs: t.tracker.Last("no answer within this caller's deadline; the request goes on"),
			duration: now.Sub(start), failures: t.failures, at: now,
			err: &FetchError{ReasonTimeout, fmt.Errorf("no answer within the caller's deadline: %w", context.Cause(ctx))}}
		t.gaveUp = now.Sub(start)
		t.mu.Unlock()
	}
	return Probe{target: t, result: r}
}

// request sends one status request and records its outcome.
func (t *Target) request(ctx context.Context) probeResult {
	start := t.opts.Now()
	st, err := fetchStatus(ctx, t.opts.Client, t.opts.URL, t.opts.MaxBodyBytes)
	end := t.opts.Now()

	t.mu.Lock()
	defer t.mu.Unlock()
	var obs smithy.Observation
	if err != nil {
		var fe *FetchError
		if !errors.As(err, &fe) {
			fe = &FetchError{ReasonOther, err}
			err = fe
		}
		t.failures.add(fe.Reason)
		obs = t.tracker.Fail(fe.Evidence(), fe.Reason+": "+fe.Error(), start, end)
	} else {
		obs = t.tracker.Answer(st, end)
	}
	r := probeResult{obs: obs, duration: end.Sub(start), err: err, failures: t.failures, at: end}
	t.logChanges(r)
	if t.gaveUp > 0 && err == nil && !t.slowWarned {
		t.slowWarned = true
		level.Warn(t.logger).Log("msg", "the status answered after a caller gave up waiting (a scrape, or /-/target/healthy after --liveness.timeout): that caller reported dispatch_up 0 (DOWN) although the daemon answers; give Prometheus' scrape_timeout more than --target.timeout plus --target.timeout-offset and the liveness probe more than --liveness.timeout, or lower --target.timeout",
			"answered_in", r.duration, "caller_waited", t.gaveUp, "timeout", t.opts.Timeout)
	}
	t.gaveUp = 0
	t.last = &r
	return r
}

// logChanges logs what changed since the previous request, once per change:
// the target going down or up, a new oddity in its answers, and the loop's
// own transitions. Called with t.mu held.
func (t *Target) logChanges(r probeResult) {
	prev := t.last
	switch {
	case r.err != nil && (prev == nil || prev.err == nil || failureReason(prev.err) != failureReason(r.err)):
		level.Warn(t.logger).Log("msg", "status request failing; logged again only when the reason changes",
			"reason", failureReason(r.err), "evidence", r.obs.Assessment.Evidence, "err", r.err)
	case r.err == nil && prev != nil && prev.err != nil:
		level.Info(t.logger).Log("msg", "status readable again")
	}
	if r.obs.Status != nil && !slices.Equal(r.obs.Notes, t.notes) {
		for _, n := range r.obs.Notes {
			if !slices.Contains(t.notes, n) {
				level.Warn(t.logger).Log("msg", "odd status: "+n)
			}
		}
		t.notes = r.obs.Notes
	}
	if r.obs.Restarted {
		level.Info(t.logger).Log("msg", "daemon restart noticed: a fresh grace period starts", "grace", r.obs.Assessment.Verdict.Threshold)
	}
	if r.obs.RestartWindowEnded {
		level.Warn(t.logger).Log("msg", "liveness asked for a restart for a whole --liveness.restart-window and the daemon still hangs; what hangs now may be a new process, so its hang counts afresh. If the kubelet needs longer (failureThreshold × periodSeconds of the daemon's livenessProbe), raise --liveness.restart-window to match, or it never restarts a hung daemon")
	}
	if r.obs.NewRun {
		level.Info(t.logger).Log("msg", "loop started again; a cycle still in flight from before keeps its age")
	}
	t.transitions.Observe(r.obs.Health, r.obs.Assessment)
}

func failureReason(err error) string {
	var fe *FetchError
	if errors.As(err, &fe) {
		return fe.Reason
	}
	return ReasonOther
}

// State is the target's latest decision in words, without probing, with
// when it was taken.
func (t *Target) State() LoopState {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.last == nil {
		a := dispatch.Decide(dispatch.Look{})
		return newLoopState(t.opts.Name, nil, a, nil, time.Time{})
	}
	s := t.last.state(t.opts.Name)
	if s.State == dispatch.StateStuck {
		s.StuckSince = t.transitions.StuckSince()
	}
	return s
}

func (r probeResult) state(name string) LoopState {
	return newLoopState(name, r.obs.Health, r.obs.Assessment, r.err, r.at)
}

// Probe is the outcome of one probe of a Target: a prometheus.Collector of
// its metrics and the decision in words, both from one snapshot.
type Probe struct {
	target *Target
	result probeResult
}

// State is the probe's decision in words.
func (p Probe) State() LoopState { return p.result.state(p.target.opts.Name) }

// Liveness reports a probe to the target's liveness episode: whether the
// daemon's process should be restarted, from the probe's decision. It logs
// once when an episode starts and once when it ends; in shadow mode it logs
// "would restart" and never asks for a restart.
func (t *Target) Liveness(p Probe, shadow bool) bool {
	restart := p.result.obs.Assessment.Restart
	t.mu.Lock()
	defer t.mu.Unlock()
	if restart {
		// In shadow mode too, so that everything but the answer is what
		// enforce mode would show.
		t.tracker.RestartAnswered(t.opts.Now())
	}
	if restart == t.episode {
		return restart && !shadow
	}
	t.episode = restart
	reason := p.result.obs.Assessment.Reason
	switch {
	case restart && shadow:
		level.Warn(t.logger).Log("msg", "liveness (shadow mode): would restart the daemon; answering 200", "reason", reason)
	case restart:
		level.Error(t.logger).Log("msg", "liveness failing: the daemon's process should be restarted", "reason", reason)
	default:
		level.Info(t.logger).Log("msg", "liveness passing again", "reason", reason)
	}
	return restart && !shadow
}

// Describe implements prometheus.Collector.
func (p Probe) Describe(ch chan<- *prometheus.Desc) {
	p.target.descs.loop.describe(ch)
	p.target.descs.status.describe(ch)
}

// Collect implements prometheus.Collector: the probe's snapshot, nothing
// read live.
func (p Probe) Collect(ch chan<- prometheus.Metric) {
	t, r := p.target, p.result
	t.descs.loop.collect(ch, sample{loop: t.opts.Loop, labels: t.labels, health: r.obs.Health, assessment: r.obs.Assessment})
	t.descs.status.collect(ch, t.labels, r)
}

// redact hides user info and query values in a URL, for logs.
func redact(raw string) string { return RedactURL(raw) }
