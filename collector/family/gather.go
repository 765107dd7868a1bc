package family

import (
	"slices"
	"strings"

	dto "github.com/prometheus/client_model/go"
)

// Gather implements prometheus.Gatherer: s's families, built directly from
// the sample, as a registry holding a collector of s would gather them
// (families sorted by name, each family's series by label values), without
// the registry. promhttp serves them as they are; prometheus.Gatherers
// joins them to other gatherers' families.
func (s Sample) Gather() ([]*dto.MetricFamily, error) {
	var buf [64]point // more than any sample has
	points := buf[:0]
	var count [numFamilies]int
	s.points(func(p point) {
		points = append(points, p)
		count[p.f]++
	})
	// One allocation each for the messages, the families and the slices
	// that point to them.
	type message struct {
		m dto.Metric
		v valueOf
	}
	messages := make([]message, len(points))
	metrics := make([]*dto.Metric, len(points))
	n := 0
	for _, c := range count {
		if c > 0 {
			n++
		}
	}
	families := make([]dto.MetricFamily, n)
	out := make([]*dto.MetricFamily, n)
	var of [numFamilies]*dto.MetricFamily
	i, used := 0, 0
	for _, f := range byName {
		if count[f] == 0 {
			continue
		}
		mf := &families[i]
		mf.Name, mf.Help, mf.Type = &names[f], &table[f].help, &table[f].typ
		mf.Metric = metrics[used : used : used+count[f]]
		used += count[f]
		of[f], out[i] = mf, mf
		i++
	}
	for i, p := range points {
		m := &messages[i]
		p.write(&m.m, &m.v)
		of[p.f].Metric = append(of[p.f].Metric, &m.m)
	}
	for _, mf := range out {
		if len(mf.Metric) > 1 {
			slices.SortFunc(mf.Metric, byLabelValues)
		}
	}
	return out, nil
}

// byLabelValues orders the series of one family as a registry does: by
// their label values, in order. Series of one family share label names.
func byLabelValues(a, b *dto.Metric) int {
	for i, l := range a.Label {
		if c := strings.Compare(l.GetValue(), b.Label[i].GetValue()); c != 0 {
			return c
		}
	}
	return len(a.Label) - len(b.Label)
}

// names are the families' full names; byName the families in their order.
var (
	names  [numFamilies]string
	byName [numFamilies]int
)

func init() {
	for f := range table {
		names[f], byName[f] = Name(f), f
	}
	slices.SortFunc(byName[:], func(a, b int) int { return strings.Compare(names[a], names[b]) })
}
