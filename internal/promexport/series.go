package promexport

import (
	"slices"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"google.golang.org/protobuf/proto"
)

// series is one gauge of a Metric, built when the Metric is observed and
// never changed after: a scrape hands out its label pairs as they are,
// sorted by name once, rather than building some 300 bytes of label
// pairs per series per scrape (about 20 MiB a scrape at 2,000 Metrics).
// client_golang holds a metric's label pairs immutable, as its vectors'
// children share theirs.
type series struct {
	desc   *prometheus.Desc
	labels []*dto.LabelPair
	value  float64
}

// Desc implements prometheus.Metric.
func (s *series) Desc() *prometheus.Desc { return s.desc }

// Write implements prometheus.Metric.
func (s *series) Write(m *dto.Metric) error {
	m.Label = s.labels
	m.Gauge = &dto.Gauge{Value: &s.value}
	return nil
}

// labelPair is one label of a series.
func labelPair(name, value string) *dto.LabelPair {
	return &dto.LabelPair{Name: proto.String(name), Value: proto.String(value)}
}

// withLabel is base and one more label, sorted by name as a scrape
// expects; base is sorted already and shared, not copied pair by pair.
func withLabel(base []*dto.LabelPair, more *dto.LabelPair) []*dto.LabelPair {
	out := make([]*dto.LabelPair, 0, len(base)+1)
	out = append(out, base...)
	if more != nil {
		out = append(out, more)
	}
	slices.SortFunc(out, func(a, b *dto.LabelPair) int { return strings.Compare(a.GetName(), b.GetName()) })
	return out
}

// stateLabels and kindLabels are the extra label of the state and detector
// series, shared by every Metric.
var (
	stateLabels = func() map[string]*dto.LabelPair {
		m := map[string]*dto.LabelPair{}
		for _, s := range windowStates {
			m[string(s)] = labelPair("state", string(s))
		}
		return m
	}()
	statisticLabel = labelPair("kind", "statistic")
	thresholdLabel = labelPair("kind", "threshold")
)
