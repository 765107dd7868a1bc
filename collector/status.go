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
}

func newTargetDescs() *targetDescs {
	var names descNames
	return &targetDescs{loop: newDescs(&names), status: newStatusDescs(&names)}
}

// Target reads one daemon's status endpoint at scrape time and judges its
// loop itself. Concurrent probes share one request in flight. The verdict
// survives the daemon going silent: see smithy.Tracker.
type Target struct {
	opts   TargetOptions
	descs  *targetDescs
	logger log.Logger
	flight flight[probeResult]

	mu          sync.Mutex
	tracker     *smithy.Tracker
	transitions *dispatch.Transitions
	last        *probeResult
	failures    map[string]uint64
	notes       []string
	episode     bool // a liveness episode is being reported
}

// probeResult is the outcome of one status request.
type probeResult struct {
	obs      smithy.Observation
	verdict  dispatch.Verdict
	duration time.Duration
	err      error // a *FetchError, or nil
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
		tracker:     smithy.NewTracker(opts.StaleThreshold),
		transitions: dispatch.NewTransitions(log.With(logger, "loop", opts.Loop), nil),
		failures:    map[string]uint64{},
	}
	for _, r := range FailureReasons() {
		t.failures[r] = 0
	}
	return t
}

// Name is the target's name.
func (t *Target) Name() string { return t.opts.Name }

// Probe reads the target now, within ctx's deadline and the target's
// timeout, joining a request already in flight. When ctx ends first, the
// result says so (dispatch_up 0, timeout) and still carries the verdict
// judged from the last good response; the request goes on and its answer
// serves the next probe.
func (t *Target) Probe(ctx context.Context) Probe {
	ctx, cancel := context.WithTimeout(ctx, t.opts.Timeout)
	defer cancel()
	start := t.opts.Now()
	r, ok := t.flight.do(ctx, t.request)
	if !ok {
		t.mu.Lock()
		obs := t.tracker.Fail(false, t.opts.Now())
		t.mu.Unlock()
		r = probeResult{obs: obs, verdict: judge(obs), duration: t.opts.Now().Sub(start),
			err: &FetchError{ReasonTimeout, fmt.Errorf("no answer within the scrape's deadline: %w", context.Cause(ctx))}}
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
		t.failures[fe.Reason]++
		obs = t.tracker.Fail(fe.Reason == ReasonConnect, end)
	} else {
		obs = t.tracker.Observe(st, end)
	}
	r := probeResult{obs: obs, verdict: judge(obs), duration: end.Sub(start), err: err}
	t.logChanges(r)
	t.last = &r
	return r
}

func judge(obs smithy.Observation) dispatch.Verdict {
	if obs.Health == nil {
		return dispatch.Verdict{}
	}
	return dispatch.Judge(*obs.Health)
}

// logChanges logs what changed since the previous request, once per change:
// the target going down or up, a new oddity in its answers, and the loop's
// own transitions. Called with t.mu held.
func (t *Target) logChanges(r probeResult) {
	prev := t.last
	switch {
	case r.err != nil && (prev == nil || prev.err == nil || failureReason(prev.err) != failureReason(r.err)):
		level.Warn(t.logger).Log("msg", "status request failing; logged again only when the reason changes",
			"reason", failureReason(r.err), "err", r.err)
	case r.err == nil && prev != nil && prev.err != nil:
		level.Info(t.logger).Log("msg", "status readable again")
	}
	if r.obs.Up && !slices.Equal(r.obs.Notes, t.notes) {
		for _, n := range r.obs.Notes {
			if !slices.Contains(t.notes, n) {
				level.Warn(t.logger).Log("msg", "odd status: "+n)
			}
		}
		t.notes = r.obs.Notes
	}
	if r.obs.Restarted {
		level.Info(t.logger).Log("msg", "daemon restart noticed: a fresh grace period starts", "grace", r.verdict.Threshold)
	}
	if r.obs.Health != nil {
		t.transitions.Observe(*r.obs.Health, r.verdict)
	}
}

func failureReason(err error) string {
	var fe *FetchError
	if errors.As(err, &fe) {
		return fe.Reason
	}
	return ReasonOther
}

// State is the target's latest verdict in words, without probing.
func (t *Target) State() LoopState {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.last == nil {
		return LoopState{Name: t.opts.Name, State: dispatch.StateDown, Reason: "not probed yet"}
	}
	return t.last.state(t.opts.Name)
}

func (r probeResult) state(name string) LoopState {
	s := newLoopState(name, r.obs.Up, r.obs.Health, r.verdict, r.err)
	s.Restartable = r.obs.Restartable(r.verdict)
	return s
}

// Probe is the outcome of one probe of a Target: a prometheus.Collector of
// its metrics and the verdict in words.
type Probe struct {
	target *Target
	result probeResult
}

// State is the probe's verdict in words.
func (p Probe) State() LoopState { return p.result.state(p.target.opts.Name) }

// Liveness answers a liveness probe from this result: whether the daemon's
// process should be restarted. In shadow mode it logs "would restart" once
// per episode and never asks for a restart.
func (p Probe) Liveness(shadow bool) bool {
	t, restart := p.target, p.result.obs.Restartable(p.result.verdict)
	t.mu.Lock()
	defer t.mu.Unlock()
	if restart == t.episode {
		return restart && !shadow
	}
	t.episode = restart
	switch {
	case restart && shadow:
		level.Warn(t.logger).Log("msg", "liveness (shadow mode): would restart the daemon; answering 200", "reason", p.result.verdict.Reason)
	case restart:
		level.Error(t.logger).Log("msg", "liveness failing: the daemon's process should be restarted", "reason", p.result.verdict.Reason)
	default:
		level.Info(t.logger).Log("msg", "liveness passing again")
	}
	return restart && !shadow
}

// Describe implements prometheus.Collector.
func (p Probe) Describe(ch chan<- *prometheus.Desc) {
	p.target.descs.loop.describe(ch)
	p.target.descs.status.describe(ch)
}

// Collect implements prometheus.Collector.
func (p Probe) Collect(ch chan<- prometheus.Metric) {
	t, r := p.target, p.result
	t.descs.loop.collect(ch, sample{loop: t.opts.Loop, up: r.obs.Up, health: r.obs.Health}, r.verdict)

	t.mu.Lock()
	failures := make(map[string]uint64, len(t.failures))
	for k, v := range t.failures {
		failures[k] = v
	}
	t.mu.Unlock()
	t.descs.status.collect(ch, t.opts.Loop, r, failures)
}

// redact hides user info and query values in a URL, for logs.
func redact(raw string) string { return RedactURL(raw) }
