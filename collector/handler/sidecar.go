// Package handler holds dispatch_exporter's HTTP endpoints beyond /metrics
// of a plain registry: the sidecar's scrape, probe and liveness endpoints,
// config reload, and a landing page that shows each loop's verdict.
package handler

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/stoneforge/dispatch_exporter/collector/sidecar"
)

// Sidecar serves the targets of a sidecar.
type Sidecar struct {
	// Targets are the configured targets.
	Targets *sidecar.Targets
	// Self gathers the exporter's own metrics (build info, reload, Go).
	Self prometheus.Gatherer
	// Default is the target /metrics includes and /-/target/healthy serves
	// without ?target=; empty when targets come from a config file.
	Default string
	// TimeoutOffset is subtracted from Prometheus' scrape timeout header,
	// leaving time to answer.
	TimeoutOffset time.Duration
	// LivenessShadow makes /-/target/healthy answer 200 and only log
	// "would restart".
	LivenessShadow bool
	// LivenessTimeout bounds /-/target/healthy's wait for the target; past
	// it the answer comes from the last good response.
	LivenessTimeout time.Duration
	// Logger receives handler errors.
	Logger log.Logger
	// UnknownTargets counts requests for a target that is not configured;
	// nil counts none.
	UnknownTargets prometheus.Counter
	// Now is our clock, for spacing log lines; default time.Now.
	Now func() time.Time

	// unknownLogged is when the last "no configured target" line was
	// logged (Unix nanoseconds; 0: never): one a minute at most, whatever
	// the names asked for, so memory and log lines stay bounded.
	unknownLogged atomic.Int64
	// unknownSince counts the requests for unknown targets since the
	// last such line.
	unknownSince atomic.Int64
}

// unknownLogInterval is the least time between two log lines about
// requests for unknown targets.
const unknownLogInterval = time.Minute

// maxEchoedName is the most of an unknown target's name the answer and the
// log repeat (a configured name fits many times over).
const maxEchoedName = 128

// Metrics serves the exporter's own metrics and, with a default target,
// that target's, read now: the two gatherers joined by
// prometheus.Gatherers, served by promhttp.
func (s *Sidecar) Metrics(w http.ResponseWriter, r *http.Request) {
	var g prometheus.Gatherers
	if s.Self != nil {
		g = append(g, s.Self)
	}
	if s.Default != "" {
		if t, ok := s.Targets.Get(s.Default); ok {
			g = append(g, s.probe(r, t))
		}
	}
	Exposition(g, s.Logger, true).ServeHTTP(w, r)
}

// Probe serves one configured target: /probe?target=NAME. Unknown names get
// 400 and are never fetched: this is not an open proxy. The probe's
// families are gathered from its snapshot, without a registry, and served
// by promhttp. The answer (about 4 KB for a real smithy status) goes out
// uncompressed even when the scraper asks for gzip: gzip costs about a
// third of a probe's CPU (BenchmarkProbeHandlerGzip) to save three
// kilobytes on the sidecar's link.
func (s *Sidecar) Probe(w http.ResponseWriter, r *http.Request) {
	t, ok := s.target(w, r)
	if !ok {
		return
	}
	Exposition(s.probe(r, t), s.Logger, false).ServeHTTP(w, r)
}

// TargetHealthy is a liveness probe for the daemon's container: 503 only
// when the target's restart policy asks for a restart (Target.Liveness:
// on evidence about the process that serves now, with grace, back-off and
// a budget), else 200. It fails open: a missing or unknown target name (a
// config changed under a running pod) answers 200 with a body that says
// why and logs one warning, since the kubelet would restart a healthy
// daemon on any answer of 400 or more.
func (s *Sidecar) TargetHealthy(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	name, t, ok := s.lookup(r)
	if !ok {
		msg := "no target given and no default target"
		if name != "" {
			msg = fmt.Sprintf("unknown target %q", echoName(name))
		}
		s.logUnknown(msg)
		fmt.Fprintf(w, "%s: answering 200 (fail open): no evidence about any daemon\n", msg)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.LivenessTimeout)
	defer cancel()
	p, l := t.Liveness(ctx, s.LivenessShadow)
	st := p.State()
	switch {
	case l.Restart:
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintf(w, "%s: %s: %s; restart the daemon's process\n", st.Name, st.State, l.Reason)
	case s.LivenessShadow && st.Restart:
		fmt.Fprintf(w, "%s: %s: %s (shadow mode: would restart)\n", st.Name, st.State, st.Reason)
	case l.Reason != "":
		fmt.Fprintf(w, "%s: %s: %s\n", st.Name, st.State, l.Reason)
	default:
		fmt.Fprintf(w, "%s: %s: %s\n", st.Name, st.State, st.Reason)
	}
}

// logUnknown logs problem, a liveness probe for no configured target, the
// first time and then at most once a minute, with how many such requests
// came since the last line. Nothing is kept per name: a caller asking for
// thousands of names costs no memory and a line a minute.
func (s *Sidecar) logUnknown(problem string) {
	s.unknownSince.Add(1)
	now := time.Now().UnixNano()
	if s.Now != nil {
		now = s.Now().UnixNano()
	}
	last := s.unknownLogged.Load()
	if last != 0 && now-last < int64(unknownLogInterval) || !s.unknownLogged.CompareAndSwap(last, now) {
		return
	}
	level.Warn(s.Logger).Log("msg", "liveness probe for no configured target: answering 200 (fail open)", "problem", problem,
		"requests_since_last_line", s.unknownSince.Swap(0), "next_line_after", unknownLogInterval)
}

// echoName is name as an answer or a log line may repeat it: cut (at a
// character's start) after maxEchoedName bytes, saying how long it was.
func echoName(name string) string {
	if len(name) <= maxEchoedName {
		return name
	}
	cut := maxEchoedName
	for cut > 0 && !utf8.RuneStart(name[cut]) {
		cut--
	}
	return fmt.Sprintf("%s... (%d bytes)", name[:cut], len(name))
}

// lookup resolves ?target=NAME, or the default target when none is given,
// and counts a request for no configured target (an unknown name, or none
// without a default) in UnknownTargets.
func (s *Sidecar) lookup(r *http.Request) (name string, t *sidecar.Target, ok bool) {
	name = r.URL.Query().Get("target")
	if name == "" {
		name = s.Default
	}
	if name != "" {
		t, ok = s.Targets.Get(name)
	}
	if !ok && s.UnknownTargets != nil {
		s.UnknownTargets.Inc()
	}
	return name, t, ok
}

// target is lookup for /probe: no configured target gets 400 and is never
// fetched (this is not an open proxy); the answer names no configured
// target.
func (s *Sidecar) target(w http.ResponseWriter, r *http.Request) (*sidecar.Target, bool) {
	name, t, ok := s.lookup(r)
	// Neither answer lists the configured names: an unauthenticated caller
	// learns nothing about the other daemons (blackbox_exporter's
	// "Unknown module" likewise).
	switch {
	case name == "":
		http.Error(w, "target parameter is missing", http.StatusBadRequest)
	case !ok:
		http.Error(w, "unknown target", http.StatusBadRequest)
	}
	return t, ok
}

// probe probes t within the scrape's deadline.
func (s *Sidecar) probe(r *http.Request, t *sidecar.Target) sidecar.Probe {
	ctx, cancel := scrapeContext(r, s.TimeoutOffset)
	defer cancel()
	return t.Probe(ctx)
}

// Exposition serves what g gathers in the format the scraper asks for,
// logging gather errors to logger (nil: none) and serving what could be
// gathered; compress offers gzip to scrapers that ask for it.
func Exposition(g prometheus.Gatherer, logger log.Logger, compress bool) http.Handler {
	if logger == nil {
		logger = log.NewNopLogger()
	}
	return promhttp.HandlerFor(g, promhttp.HandlerOpts{
		ErrorLog:           promLogger{logger},
		ErrorHandling:      promhttp.ContinueOnError,
		DisableCompression: !compress,
	})
}

// scrapeContext bounds a probe by Prometheus' scrape timeout (the
// X-Prometheus-Scrape-Timeout-Seconds header) minus offset.
func scrapeContext(r *http.Request, offset time.Duration) (context.Context, context.CancelFunc) {
	v := r.Header.Get("X-Prometheus-Scrape-Timeout-Seconds")
	if v == "" {
		return r.Context(), func() {} // the target's own timeout bounds the probe
	}
	secs, err := strconv.ParseFloat(v, 64)
	if err != nil || secs <= 0 {
		return r.Context(), func() {}
	}
	timeout := time.Duration(secs*float64(time.Second)) - offset
	if timeout <= 0 {
		timeout = time.Duration(secs * float64(time.Second) / 2)
	}
	return context.WithTimeout(r.Context(), timeout)
}

// promLogger adapts a go-kit logger to promhttp's error log.
type promLogger struct{ logger log.Logger }

func (l promLogger) Println(v ...any) { level.Error(l.logger).Log("msg", fmt.Sprint(v...)) }
