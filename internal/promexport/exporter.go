// Package promexport publishes each Metric's latest result as Prometheus
// gauges, with a bounded number of series whatever the data's
// cardinality. It reads Metric status only and makes no decision; it
// must not import controller-runtime (the manager passes its registry).
package promexport

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

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
//
// It is a collector: it keeps each Metric's series, their label pairs
// built once when the Metric is observed (the namespace, metric and team
// pairs shared by all of them), and hands them to each scrape as they
// are, rather than a gauge vector's child per series, which weighs about
// 700 bytes each (some 30 series a Metric, 40 MiB at 2,000 Metrics), or
// label pairs built anew by every scrape.
type Exporter struct {
	value, lower, upper, samples *prometheus.Desc
	state                        *prometheus.Desc
	detector                     *prometheus.Desc
	lastEvaluation               *prometheus.Desc
	segmentValue, segmentSamples *prometheus.Desc

	mu      sync.RWMutex
	metrics map[string]*exported // by namespace/name
}

// exported is what one Metric's series say: every gauge with its labels
// and value, as the Metric was last observed.
type exported struct {
	series []series
	// detector holds the largest statistic and the threshold once a
	// detector was observed, which a later status without one keeps.
	detector *[2]float64
}

var metricLabels = []string{"namespace", "metric", "team"}

// NewExporter creates the gauges and registers them with reg.
func NewExporter(reg prometheus.Registerer) *Exporter {
	g := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(prometheus.BuildFQName("cxloop", "", name), help,
			append(append([]string{}, metricLabels...), labels...), nil)
	}
	e := &Exporter{
		value:          g("metric_value", "Latest window value of a Metric, in its own units."),
		lower:          g("metric_lower", "Lower bound of the latest window's confidence interval."),
		upper:          g("metric_upper", "Upper bound of the latest window's confidence interval."),
		samples:        g("metric_samples", "Samples (effective samples when weighted) behind the latest window."),
		state:          g("metric_window_state", "1 for the latest window's state against the objective, 0 for the others.", "state"),
		detector:       g("metric_detector_statistic", "Largest change-detector statistic across the Metric's segments, and its threshold.", "kind"),
		lastEvaluation: g("metric_last_evaluation_timestamp_seconds", "When the Metric was last evaluated, by the operator's clock."),
		segmentValue:   g("segment_value", "Latest window value of one of a Metric's worst segments.", "segment"),
		segmentSamples: g("segment_samples", "Samples behind one of a Metric's worst segments.", "segment"),
		metrics:        map[string]*exported{},
	}
	reg.MustRegister(e)
	return e
}

// Observe publishes a Metric's status, replacing what was published of it
// before. Every label value goes through metricspec.MetricsLabelValue: a
// segment value is data, and one that is not valid UTF-8 would make the
// client library panic; a long one, or a long Metric name, is shortened
// with a hash so series stay distinct and bounded.
func (e *Exporter) Observe(m *cxv1.Metric, evaluatedAt time.Time) {
	st := &m.Status
	base := withLabel([]*dto.LabelPair{labelPair("namespace", metricspec.MetricsLabelValue(m.Namespace)),
		labelPair("metric", metricspec.MetricsLabelValue(m.Name)), labelPair("team", metricspec.MetricsLabelValue(m.Spec.Owner.Team))}, nil)
	ex := &exported{series: make([]series, 0, 4+len(windowStates)+2+1+2*len(st.WorstSegments))}
	add := func(d *prometheus.Desc, labels []*dto.LabelPair, v float64) {
		ex.series = append(ex.series, series{desc: d, labels: labels, value: v})
	}
	for _, s := range []struct {
		d *prometheus.Desc
		v *float64
	}{{e.value, st.Value}, {e.lower, st.Lower}, {e.upper, st.Upper}} {
		if s.v != nil {
			add(s.d, base, *s.v)
		}
	}
	add(e.samples, base, float64(st.Samples))
	for _, s := range windowStates {
		v := 0.0
		if st.State == s {
			v = 1
		}
		add(e.state, withLabel(base, stateLabels[string(s)]), v)
	}
	if d := st.Detector; d != nil {
		largest := 0.0
		for _, seg := range d.Segments {
			largest = max(largest, seg.Statistic)
		}
		ex.detector = &[2]float64{largest, d.Threshold}
	}
	add(e.lastEvaluation, base, float64(evaluatedAt.Unix()))
	// A segment whose label repeats an earlier one's is the same series:
	// the later one is what it says.
	type segment struct {
		value   *float64
		samples float64
	}
	var labels []string
	segments := map[string]segment{}
	for _, seg := range st.WorstSegments {
		label := metricspec.MetricsLabelValue(seg.Segment)
		if _, ok := segments[label]; !ok {
			labels = append(labels, label)
		}
		segments[label] = segment{value: seg.Value, samples: float64(seg.Samples)}
	}
	for _, label := range labels {
		s, pairs := segments[label], withLabel(base, labelPair("segment", label))
		if s.value != nil {
			add(e.segmentValue, pairs, *s.value)
		}
		add(e.segmentSamples, pairs, s.samples)
	}
	key := m.Namespace + "/" + m.Name
	e.mu.Lock()
	defer e.mu.Unlock()
	if prev := e.metrics[key]; prev != nil && ex.detector == nil {
		// A status without a detector leaves the detector's last series.
		ex.detector = prev.detector
	}
	if ex.detector != nil {
		add(e.detector, withLabel(base, statisticLabel), ex.detector[0])
		add(e.detector, withLabel(base, thresholdLabel), ex.detector[1])
	}
	e.metrics[key] = ex
}

// Forget removes every series of a deleted Metric.
func (e *Exporter) Forget(namespace, name string) {
	e.mu.Lock()
	delete(e.metrics, namespace+"/"+name)
	e.mu.Unlock()
}

// Describe implements prometheus.Collector.
func (e *Exporter) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{e.value, e.lower, e.upper, e.samples, e.state, e.detector, e.lastEvaluation,
		e.segmentValue, e.segmentSamples} {
		ch <- d
	}
}

// Collect implements prometheus.Collector: every Metric's series as last
// observed.
func (e *Exporter) Collect(ch chan<- prometheus.Metric) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	for _, ex := range e.metrics {
		for i := range ex.series {
			ch <- &ex.series[i]
		}
	}
}
