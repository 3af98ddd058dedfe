// Package promexport publishes each Metric's latest result as Prometheus
// gauges, with a bounded number of series whatever the data's
// cardinality. It reads Metric status only and makes no decision; it
// must not import controller-runtime (the manager passes its registry).
package promexport

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	cxv1 "github.com/cxloop/cxloop/api/v1alpha1"
	"github.com/cxloop/cxloop/internal/metricspec"
)

// windowStates orders the window states for the state gauge, which is 1 for
// the current state and 0 for the others, one series per state.
var windowStates = []cxv1.WindowState{
	cxv1.StateMet, cxv1.StateWarning, cxv1.StateBreached, cxv1.StateInconclusive, cxv1.StateInsufficientData,
}

// Exporter publishes each Metric's latest result as Prometheus gauges on the
// manager's metrics endpoint. Per-segment series exist only for a Metric's
// worst segments (at most cxv1.MaxWorstSegments), so the number of series
// stays bounded whatever the data's cardinality.
type Exporter struct {
	value, lower, upper, samples *prometheus.GaugeVec
	state                        *prometheus.GaugeVec
	detector                     *prometheus.GaugeVec
	lastEvaluation               *prometheus.GaugeVec
	segmentValue, segmentSamples *prometheus.GaugeVec

	mu       sync.Mutex
	segments map[string][]string // metric key -> exported segment keys
}

var metricLabels = []string{"namespace", "metric", "team"}

// NewExporter creates the gauges and registers them with reg.
func NewExporter(reg prometheus.Registerer) *Exporter {
	g := func(name, help string, labels ...string) *prometheus.GaugeVec {
		v := prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: "cxloop", Name: name, Help: help},
			append(append([]string{}, metricLabels...), labels...))
		reg.MustRegister(v)
		return v
	}
	return &Exporter{
		value:          g("metric_value", "Latest window value of a Metric, in its own units."),
		lower:          g("metric_lower", "Lower bound of the latest window's confidence interval."),
		upper:          g("metric_upper", "Upper bound of the latest window's confidence interval."),
		samples:        g("metric_samples", "Samples (effective samples when weighted) behind the latest window."),
		state:          g("metric_window_state", "1 for the latest window's state against the objective, 0 for the others.", "state"),
		detector:       g("metric_detector_statistic", "Largest change-detector statistic across the Metric's segments, and its threshold.", "kind"),
		lastEvaluation: g("metric_last_evaluation_timestamp_seconds", "When the Metric was last evaluated, by the operator's clock."),
		segmentValue:   g("segment_value", "Latest window value of one of a Metric's worst segments.", "segment"),
		segmentSamples: g("segment_samples", "Samples behind one of a Metric's worst segments.", "segment"),
		segments:       map[string][]string{},
	}
}

// Observe publishes a Metric's status. Every label value goes through
// metricspec.MetricsLabelValue: a segment value is data, and one that is
// not valid UTF-8 would make the client library panic; a long one, or a
// long Metric name, is shortened with a hash so series stay distinct and
// bounded.
func (e *Exporter) Observe(m *cxv1.Metric, evaluatedAt time.Time) {
	labels := prometheus.Labels{"namespace": metricspec.MetricsLabelValue(m.Namespace),
		"metric": metricspec.MetricsLabelValue(m.Name), "team": metricspec.MetricsLabelValue(m.Spec.Owner.Team)}
	st := &m.Status
	setOrDelete(e.value, labels, st.Value)
	setOrDelete(e.lower, labels, st.Lower)
	setOrDelete(e.upper, labels, st.Upper)
	e.samples.With(labels).Set(float64(st.Samples))
	for _, s := range windowStates {
		v := 0.0
		if st.State == s {
			v = 1
		}
		e.state.With(with(labels, "state", string(s))).Set(v)
	}
	if d := st.Detector; d != nil {
		largest := 0.0
		for _, seg := range d.Segments {
			largest = max(largest, seg.Statistic)
		}
		e.detector.With(with(labels, "kind", "statistic")).Set(largest)
		e.detector.With(with(labels, "kind", "threshold")).Set(d.Threshold)
	}
	e.lastEvaluation.With(labels).Set(float64(evaluatedAt.Unix()))

	key := m.Namespace + "/" + m.Name
	e.mu.Lock()
	defer e.mu.Unlock()
	keep := map[string]bool{}
	for _, seg := range st.WorstSegments {
		value := metricspec.MetricsLabelValue(seg.Segment)
		keep[value] = true
		l := with(labels, "segment", value)
		setOrDelete(e.segmentValue, l, seg.Value)
		e.segmentSamples.With(l).Set(float64(seg.Samples))
	}
	var exported []string
	// e.segments holds the segments' label values as exported.
	for _, seg := range e.segments[key] {
		if !keep[seg] {
			e.segmentValue.Delete(with(labels, "segment", seg))
			e.segmentSamples.Delete(with(labels, "segment", seg))
		}
	}
	for seg := range keep {
		exported = append(exported, seg)
	}
	e.segments[key] = exported
}

// Forget removes every series of a deleted Metric.
func (e *Exporter) Forget(namespace, name string) {
	match := prometheus.Labels{"namespace": metricspec.MetricsLabelValue(namespace), "metric": metricspec.MetricsLabelValue(name)}
	for _, v := range []*prometheus.GaugeVec{e.value, e.lower, e.upper, e.samples, e.state, e.detector,
		e.lastEvaluation, e.segmentValue, e.segmentSamples} {
		v.DeletePartialMatch(match)
	}
	e.mu.Lock()
	delete(e.segments, namespace+"/"+name)
	e.mu.Unlock()
}

func setOrDelete(v *prometheus.GaugeVec, l prometheus.Labels, x *float64) {
	if x == nil {
		v.Delete(l)
		return
	}
	v.With(l).Set(*x)
}

func with(l prometheus.Labels, k, v string) prometheus.Labels {
	out := prometheus.Labels{k: v}
	for lk, lv := range l {
		out[lk] = lv
	}
	return out
}
