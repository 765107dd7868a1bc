package sidecar

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/stoneforge/dispatch_exporter/collector/config"
	"github.com/stoneforge/dispatch_exporter/collector/family"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

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
	// Secrets are those the requests carry by the target's client config
	// (config.TargetSecrets), scrubbed from every error and excerpt of an
	// answer, with the URL's and the credential headers each request
	// wrote.
	Secrets []string
	// Timeout bounds each status request, its dial included. Default 5s.
	Timeout time.Duration
	// StaleThreshold overrides the daemon's threshold and the default rule.
	StaleThreshold time.Duration
	// FailureThreshold is how many 503s one restart request answers: the
	// daemon's livenessProbe's failureThreshold. Default
	// dispatch.DefaultFailureThreshold.
	FailureThreshold int
	// RestartBudget is how many restart requests liveness makes for one
	// hang before it stops asking (restarts are not fixing it). Default
	// dispatch.DefaultRestartBudget.
	RestartBudget int
	// TerminationGrace is how long a process the kubelet kills may go on
	// serving: the pod's terminationGracePeriodSeconds. Default
	// dispatch.DefaultTerminationGrace.
	TerminationGrace time.Duration
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

// targetDescs are what every target shares: the families' descriptors and
// each loop name's label pairs (a thousand targets of loop "dispatch" share
// one set).
type targetDescs struct {
	set    *family.Set
	labels sync.Map // loop name → *family.Labels
}

// labelsOf returns the shared label pairs of loop.
func (d *targetDescs) labelsOf(loop string) *family.Labels {
	if l, ok := d.labels.Load(loop); ok {
		return l.(*family.Labels)
	}
	l, _ := d.labels.LoadOrStore(loop, family.NewLabels(loop))
	return l.(*family.Labels)
}

func newTargetDescs() *targetDescs { return &targetDescs{set: family.NewSet()} }

// Target reads one daemon's status endpoint at scrape time and judges its
// loop itself, through the evidence model of dispatch.Tracker and
// dispatch.Decide; its liveness answer comes from a dispatch.RestartPolicy
// that reads those decisions. Concurrent probes share one request in
// flight.
type Target struct {
	opts   TargetOptions
	descs  *targetDescs
	logger log.Logger
	labels *family.Labels

	// What is known of the daemon; shared with the target that replaces
	// this one on a reload that kept its URL (see adopt).
	*targetState
}

// targetState is what a Target knows of its daemon, under mu, and its
// request in flight: a target that replaces another on a reload shares both.
type targetState struct {
	flight flight[probeResult]

	mu          sync.Mutex
	tracker     *dispatch.Tracker
	transitions *dispatch.Transitions
	policy      dispatch.RestartPolicy
	last        *probeResult  // the latest request's result
	started     time.Time     // when the request in flight began (our clock)
	gaveUp      time.Duration // how long the latest scrape that gave up waited; 0 once a request decides
	slowWarned  bool          // "answered after a scrape gave up" was logged
	failures    failureCounts
	restarts    restartCounts // restart requests made, by reason
	notes       []string
	// oddLogged holds the fields logged as outside what a daemon can mean:
	// each is logged once per target, not per scrape (bounded by the
	// contract's field names).
	oddLogged map[string]bool
	episode   bool // a liveness episode is being reported (enforce: 503s; shadow: would-be 503s until the wedge ends)
}

// restartCounts counts restart requests: [0] hang, [1] stale.
type restartCounts [2]uint64

// livenessSnapshot is what a probe's metrics show of the restart policy.
type livenessSnapshot struct {
	restarts restartCounts
	spent    bool
	requests int
	reason   string // the latest liveness answer's reason
}

// probeResult is the outcome of one status request: the decision and
// everything its outputs show, fixed when it was taken.
type probeResult struct {
	obs      dispatch.Observation
	status   *smithy.Status // the decoded body; nil unless the daemon answered in the contract
	duration time.Duration
	err      error         // a *FetchError, or nil
	failures failureCounts // the failure counters after this request
	liveness livenessSnapshot
	at       time.Time // our clock when it was decided
}

// NewTarget returns a Target that has not yet been probed.
func NewTarget(opts TargetOptions) *Target {
	if opts.Client == nil {
		opts.Client = defaultClient()
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
	if opts.TerminationGrace <= 0 {
		opts.TerminationGrace = dispatch.DefaultTerminationGrace
	}
	if opts.shared == nil {
		opts.shared = newTargetDescs()
	}
	// The URL's secrets, listed once here rather than on each failed
	// request (config.TargetSecrets has them already: each kept once).
	secrets := append(config.URLSecrets(opts.URL), opts.Secrets...)
	slices.Sort(secrets)
	opts.Secrets = slices.Compact(secrets)
	logger := log.With(opts.Logger, "target", opts.Name, "url", config.RedactURL(opts.URL))
	t := &Target{
		opts:   opts,
		descs:  opts.shared,
		logger: logger,
		labels: opts.shared.labelsOf(opts.Loop),
		targetState: &targetState{
			tracker:     dispatch.NewTracker(opts.StaleThreshold),
			transitions: dispatch.NewTransitions(log.With(logger, "loop", opts.Loop), nil),
			policy: dispatch.RestartPolicy{FailureThreshold: opts.FailureThreshold, Budget: opts.RestartBudget,
				TerminationGrace: opts.TerminationGrace},
		},
	}
	return t
}

// adopt takes over what old knows of the daemon (same URL, so the same
// daemon): the tracker, the restart policy, the counters and the latest
// decision. A reload that changed only a timeout or a threshold forgets
// nothing; the new options take effect from the next request.
//
// The state is shared, not copied: a request of the old target still in
// flight decides into it, under the same lock.
func (t *Target) adopt(old *Target) {
	t.targetState = old.targetState
	t.mu.Lock()
	defer t.mu.Unlock()
	t.tracker.SetThreshold(t.opts.StaleThreshold)
	t.policy.FailureThreshold, t.policy.Budget, t.policy.TerminationGrace = t.opts.FailureThreshold, t.opts.RestartBudget, t.opts.TerminationGrace
}

// Name is the target's name.
func (t *Target) Name() string { return t.opts.Name }

// Probe reads the target now, joining a request already in flight. The
// request runs under the target's own timeout; the caller waits until ctx
// ends. When ctx ends first, the result is decided on the request still
// unanswered (dispatch.Tracker.Pending: a hang under way goes on counting,
// nothing else is new evidence), with dispatch_up 0 for this caller; the
// request goes on and decides for the next probe.
func (t *Target) Probe(ctx context.Context) Probe {
	return Probe{target: t, result: t.probe(ctx, false)}
}

func (t *Target) probe(ctx context.Context, liveness bool) probeResult {
	start := t.opts.Now()
	r, ok := t.flight.do(ctx, t.opts.Timeout, t.request)
	if ok {
		return r
	}
	now := t.opts.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	began := t.started
	if began.IsZero() || began.After(start) {
		began = start
	}
	r = probeResult{obs: t.tracker.Pending("no answer within this caller's deadline; the request goes on", began, now),
		duration: now.Sub(start), failures: t.failures, liveness: t.livenessSnapshot(), at: now,
		err: &FetchError{ReasonTimeout, fmt.Errorf("no answer within the caller's deadline: %w", context.Cause(ctx))}}
	if !liveness {
		t.gaveUp = now.Sub(start)
	}
	return r
}

// request sends one status request and records its outcome.
func (t *Target) request(ctx context.Context) probeResult {
	t.mu.Lock()
	start := t.opts.Now()
	t.started = start
	t.mu.Unlock()
	st, err := fetchStatus(ctx, t.opts.Client, t.opts.URL, t.opts.Secrets, t.opts.MaxBodyBytes)
	end := t.opts.Now()

	t.mu.Lock()
	defer t.mu.Unlock()
	t.started = time.Time{}
	var obs dispatch.Observation
	if err != nil {
		var fe *FetchError
		if !errors.As(err, &fe) {
			fe = &FetchError{ReasonOther, err}
			err = fe
		}
		t.failures.add(fe.Reason)
		if fe.connectionLost() {
			t.tracker.ConnectionLost(end)
		}
		obs = t.tracker.Fail(fe.Evidence(), fe.Reason+": "+fe.Error(), start, end)
	} else {
		var odd []dispatch.Oddity
		st, odd = st.Plausible(end)
		obs = t.tracker.Answer(st.Report(), end)
		obs.Oddities = append(obs.Oddities, odd...)
		if o := obs.Implausible; o != nil {
			// The body decoded, but is no evidence: counted and shown as a
			// failed request, its fields exported as nothing.
			err = &FetchError{family.ReasonImplausible, fmt.Errorf("implausible %s", o)}
			t.failures.add(family.ReasonImplausible)
		}
	}
	r := probeResult{obs: obs, status: st, duration: end.Sub(start), err: err, failures: t.failures,
		liveness: t.livenessSnapshot(), at: end}
	t.logChanges(r)
	if t.gaveUp > 0 && err == nil && !t.slowWarned {
		t.slowWarned = true
		level.Warn(t.logger).Log("msg", "the status answered after a scrape stopped waiting for it: that scrape showed dispatch_up 0 (DOWN) although the daemon answers; give Prometheus' scrape_timeout more than --target.timeout plus --target.timeout-offset, or lower --target.timeout",
			"answered_in", r.duration, "scrape_waited", t.gaveUp, "timeout", t.opts.Timeout)
	}
	t.gaveUp = 0
	t.last = &r
	return r
}

// livenessSnapshot is the restart policy as a probe's metrics show it.
// Called with t.mu held.
func (t *Target) livenessSnapshot() livenessSnapshot {
	s := livenessSnapshot{restarts: t.restarts, spent: t.policy.Spent(), requests: t.policy.Requests()}
	if t.last != nil {
		s.reason = t.last.liveness.reason
	}
	return s
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
	if r.status != nil && !slices.Equal(r.obs.Notes, t.notes) {
		for _, n := range r.obs.Notes {
			if !slices.Contains(t.notes, n) {
				level.Warn(t.logger).Log("msg", "odd status: "+n)
			}
		}
		t.notes = r.obs.Notes
	}
	for _, o := range r.obs.Oddities {
		if !t.oddLogged[o.Field] {
			if t.oddLogged == nil {
				t.oddLogged = map[string]bool{}
			}
			t.oddLogged[o.Field] = true
			level.Warn(t.logger).Log("msg", "a status field outside what a daemon can mean; logged once per target", "field", o.Field, "note", o.Note)
		}
	}
	if r.obs.Restarted {
		level.Info(t.logger).Log("msg", "daemon restart noticed: a fresh grace period starts", "grace", r.obs.Assessment.Verdict.Threshold)
	}
	if r.obs.NewRun {
		if h := r.obs.Health; h != nil && h.InFlight() {
			level.Info(t.logger).Log("msg", "loop started again; the cycle in flight since before it was started keeps its age", "cycle_started", h.LastStarted)
		} else {
			level.Info(t.logger).Log("msg", "loop started again")
		}
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
func (t *Target) State() family.LoopState {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.last == nil {
		a := dispatch.Decide(dispatch.Look{})
		return family.NewLoopState(t.opts.Name, nil, a, nil, time.Time{})
	}
	s := t.last.state(t.opts.Name)
	if s.State == dispatch.StateStuck {
		s.StuckSince = t.transitions.StuckSince()
	}
	return s
}

func (r probeResult) state(name string) family.LoopState {
	s := family.NewLoopState(name, r.obs.Health, r.obs.Assessment, r.err, r.at)
	s.Liveness, s.RestartRequests, s.RestartBudgetSpent = r.liveness.reason, r.liveness.requests, r.liveness.spent
	return s
}

// Probe is the outcome of one probe of a Target: its metrics (a
// prometheus.Collector for a registry, and a prometheus.Gatherer for
// promhttp without one) and the decision in words, all from one snapshot.
type Probe struct {
	target *Target
	result probeResult
}

// State is the probe's decision in words.
func (p Probe) State() family.LoopState { return p.result.state(p.target.opts.Name) }

// Liveness probes the target within ctx and answers the daemon's liveness
// probe from the probe's decision, through the target's restart policy
// (dispatch.RestartPolicy): restart true means answer 503. It logs once
// when an episode of restart answers starts and once when it ends, and
// once when the restart budget is spent. In shadow mode it answers false
// and logs "would restart": the policy is previewed, not committed, so
// shadow mode spends no budget and counts no request.
func (t *Target) Liveness(ctx context.Context, shadow bool) (Probe, dispatch.Liveness) {
	r := t.probe(ctx, true)
	now := t.opts.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	next, l := t.policy.Next(r.obs, now)
	if !shadow {
		t.policy = next
		if l.Began {
			t.restarts[restartReason(r.obs.Assessment)]++
		}
	}
	if shadow && l.Restart {
		l.Reason = "shadow mode, would ask: " + l.Reason
	}
	if t.last != nil {
		t.last.liveness = t.livenessSnapshot()
		t.last.liveness.reason = l.Reason
	}
	if l.GaveUp && !shadow {
		level.Error(t.logger).Log("msg", "restart budget spent: restarts are not bringing dispatch back; liveness stops asking for them until a cycle completes, and a person must look",
			"requests", l.Requests, "reason", r.obs.Assessment.Reason)
	}
	episode := l.Restart
	if shadow && t.episode && !l.Restart {
		// Shadow mode previews each answer afresh; the episode it reports
		// ends only on evidence that the wedge did: a usable answer that
		// is not stale, or a process gone.
		a := r.obs.Assessment
		episode = !(a.Evidence == dispatch.EvidenceUsable && !a.Stale || a.Evidence == dispatch.EvidenceRefused)
	}
	if episode != t.episode {
		t.episode = episode
		switch {
		case l.Restart && shadow:
			level.Warn(t.logger).Log("msg", "liveness (shadow mode): would ask for a restart of the daemon; answering 200", "reason", l.Reason)
		case l.Restart:
			level.Error(t.logger).Log("msg", "liveness failing: asking for a restart of the daemon's process", "reason", l.Reason)
		default:
			level.Info(t.logger).Log("msg", "liveness passing", "reason", l.Reason)
		}
	}
	if shadow {
		l.Restart = false
	}
	return Probe{target: t, result: r}, l
}

func restartReason(a dispatch.Assessment) int {
	if a.Evidence == dispatch.EvidenceHung {
		return family.RestartHang
	}
	return family.RestartStale
}

// Describe implements prometheus.Collector.
func (p Probe) Describe(ch chan<- *prometheus.Desc) { p.target.descs.set.Describe(ch, true) }

// Collect implements prometheus.Collector: the probe's snapshot, nothing
// read live.
func (p Probe) Collect(ch chan<- prometheus.Metric) { p.target.descs.set.Collect(ch, p.sample()) }

// Gather implements prometheus.Gatherer: the probe's snapshot as metric
// families, built without a registry (family.Sample.Gather).
func (p Probe) Gather() ([]*dto.MetricFamily, error) { return p.sample().Gather() }

// sample is what the probe read, as its metrics show it.
func (p Probe) sample() family.Sample {
	t, r := p.target, p.result
	body := r.status
	if r.err != nil {
		body = nil // an implausible answer's fields are no facts
	}
	return family.Sample{Labels: t.labels, Health: r.obs.Health, Assessment: r.obs.Assessment,
		Status: &family.Status{Duration: r.duration, Failures: r.failures, Restarts: r.liveness.restarts,
			BudgetSpent: r.liveness.spent, Body: body}}
}
