package e2e

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/rules"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb/chunkenc"
	"github.com/prometheus/prometheus/tsdb/chunks"
	"github.com/prometheus/prometheus/util/annotations"
)

// The rule evaluation in the simulation.
const (
	evalInterval = 15 * time.Second
	wedgedAlert  = "DispatchDaemonWedged"
	wedgedFor    = time.Minute // its for: in alerts/dispatch.rules.yml (checked when loaded)
)

// rulesFile is the project's alert rules, loaded as they are.
var rulesFile = filepath.Join("..", "alerts", "dispatch.rules.yml")

// wedgedRule is DispatchDaemonWedged as alerts/dispatch.rules.yml defines
// it, loaded once by Prometheus' rule manager with the whole file.
var wedgedRule = sync.OnceValues(func() (*rules.AlertingRule, error) {
	st := &memStorage{rec: newRecording()}
	m := rules.NewManager(managerOptions(st))
	groups, errs := m.LoadGroups(evalInterval, labels.EmptyLabels(), "", nil, false, rulesFile)
	if errs != nil {
		return nil, fmt.Errorf("load %s: %v", rulesFile, errs)
	}
	for _, g := range groups {
		for _, r := range g.Rules() {
			if ar, ok := r.(*rules.AlertingRule); ok && ar.Name() == wedgedAlert {
				if ar.HoldDuration() != wedgedFor {
					return nil, fmt.Errorf("%s: %s has for: %s, the simulation's bounds assume %s", rulesFile, wedgedAlert, ar.HoldDuration(), wedgedFor)
				}
				return ar, nil
			}
		}
	}
	return nil, fmt.Errorf("%s: no alert %s", rulesFile, wedgedAlert)
})

var (
	promParser = parser.NewParser(parser.Options{})
	engine     = promql.NewEngine(promql.EngineOpts{
		MaxSamples:    1e6,
		Timeout:       time.Minute,
		LookbackDelta: 5 * time.Minute,
		Parser:        promParser,
	})
)

func managerOptions(st *memStorage) *rules.ManagerOptions {
	return &rules.ManagerOptions{
		QueryFunc:    rules.EngineQueryFunc(engine, st),
		AppendableV2: st,
		Queryable:    st,
		Context:      context.Background(),
		NotifyFunc:   func(context.Context, string, ...*rules.Alert) {},
		Logger:       slog.New(slog.NewTextHandler(io.Discard, nil)),
		Parser:       promParser,
	}
}

// firing evaluates DispatchDaemonWedged with Prometheus' own rule group
// and engine over rec, as promtool's unit tests do, every evalInterval from
// start to end, and returns for each eval time the instances for which it
// fires. The rule is the file's (its expression, for:, keep_firing_for:
// and labels) without its annotations: they do not change when an alert
// fires, and expanding their templates (queries each) took two thirds of
// the simulation's time. It is evaluated alone: the only rules that read
// it (the record and DispatchDaemonWedgedUnwatched, carrying its page
// when the exporter's series stop) cannot fire here, because the
// simulated exporter is scraped throughout; alerts/tests covers them.
func firing(rec *recording, start, end time.Time) ([]time.Time, []map[string]bool, error) {
	def, err := wedgedRule()
	if err != nil {
		return nil, nil, err
	}
	st := &memStorage{rec: rec}
	opts := managerOptions(st)
	wedged := rules.NewAlertingRule(def.Name(), def.Query(), def.HoldDuration(), def.KeepFiringFor(), def.Labels(),
		labels.EmptyLabels(), labels.EmptyLabels(), "", true, opts.Logger)
	g := rules.NewGroup(rules.GroupOptions{Name: "dispatch", File: rulesFile, Interval: evalInterval,
		Rules: []rules.Rule{wedged}, Opts: opts})
	var times []time.Time
	var fired []map[string]bool
	ctx := context.Background()
	for ts := start; !ts.After(end); ts = ts.Add(evalInterval) {
		g.Eval(ctx, ts)
		if err := wedged.LastError(); err != nil {
			return nil, nil, fmt.Errorf("%s at %s: %w", wedgedAlert, ts, err)
		}
		f := map[string]bool{}
		for _, a := range wedged.ActiveAlerts() {
			if a.State == rules.StateFiring {
				f[a.Labels.Get("instance")] = true
			}
		}
		times, fired = append(times, ts), append(fired, f)
	}
	return times, fired, nil
}

// fsample is one float sample.
type fsample struct {
	t int64
	f float64
}

func (s fsample) T() int64                      { return s.t }
func (s fsample) ST() int64                     { return 0 }
func (s fsample) F() float64                    { return s.f }
func (s fsample) H() *histogram.Histogram       { return nil }
func (s fsample) FH() *histogram.FloatHistogram { return nil }
func (s fsample) Type() chunkenc.ValueType      { return chunkenc.ValFloat }
func (s fsample) Copy() chunks.Sample           { return s }

// memStorage serves a recording to the engine (read only) and drops what
// the rules append (ALERTS series, which the simulation does not read).
type memStorage struct {
	rec *recording
}

// Querier implements storage.Queryable.
func (s *memStorage) Querier(mint, maxt int64) (storage.Querier, error) {
	return &memQuerier{rec: s.rec, mint: mint, maxt: maxt}, nil
}

// AppenderV2 implements storage.AppendableV2.
func (s *memStorage) AppenderV2(context.Context) storage.AppenderV2 { return discardAppender{} }

type discardAppender struct{}

func (discardAppender) Append(storage.SeriesRef, labels.Labels, int64, int64, float64, *histogram.Histogram, *histogram.FloatHistogram, storage.AppendV2Options) (storage.SeriesRef, error) {
	return 1, nil
}
func (discardAppender) Commit() error   { return nil }
func (discardAppender) Rollback() error { return nil }

type memQuerier struct {
	rec        *recording
	mint, maxt int64
}

func (q *memQuerier) Select(_ context.Context, _ bool, _ *storage.SelectHints, ms ...*labels.Matcher) storage.SeriesSet {
	var out []storage.Series
	for _, s := range q.rec.series {
		ok := true
		for _, m := range ms {
			if !m.Matches(s.lset.Get(m.Name)) {
				ok = false
				break
			}
		}
		if !ok {
			continue
		}
		i, _ := slices.BinarySearchFunc(s.samples, q.mint, func(a fsample, t int64) int { return int(a.t - t) })
		j, _ := slices.BinarySearchFunc(s.samples, q.maxt+1, func(a fsample, t int64) int { return int(a.t - t) })
		if i >= j {
			continue
		}
		smp := make([]chunks.Sample, 0, j-i)
		for _, x := range s.samples[i:j] {
			smp = append(smp, x)
		}
		out = append(out, storage.NewListSeries(s.lset, smp))
	}
	slices.SortFunc(out, func(a, b storage.Series) int { return labels.Compare(a.Labels(), b.Labels()) })
	return &listSet{series: out, i: -1}
}

func (q *memQuerier) LabelValues(context.Context, string, *storage.LabelHints, ...*labels.Matcher) ([]string, annotations.Annotations, error) {
	return nil, nil, nil
}

func (q *memQuerier) LabelNames(context.Context, *storage.LabelHints, ...*labels.Matcher) ([]string, annotations.Annotations, error) {
	return nil, nil, nil
}

func (q *memQuerier) Close() error { return nil }

type listSet struct {
	series []storage.Series
	i      int
}

func (s *listSet) Next() bool                        { s.i++; return s.i < len(s.series) }
func (s *listSet) At() storage.Series                { return s.series[s.i] }
func (s *listSet) Err() error                        { return nil }
func (s *listSet) Warnings() annotations.Annotations { return nil }
