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
//
// It is a collector: it keeps each Metric's numbers and writes the series
// when scraped, rather than a gauge vector's child per series, which
// weighs about 700 bytes each (some 30 series a Metric, 40 MiB at 2,000
// Metrics).
type Exporter struct {
	value, lower, upper, samples *prometheus.Desc
	state                        *prometheus.Desc
	detector                     *prometheus.Desc
	lastEvaluation               *prometheus.Desc
	segmentValue, segmentSamples *prometheus.Desc

	mu      sync.RWMutex
	metrics map[string]*exported // by namespace/name
}

// exported is what one Metric's series say.
type exported struct {
	// labels are the namespace, metric and team label values.
	labels              []string
	value, lower, upper *float64
	samples             float64
	state               cxv1.WindowState
	// detector holds the largest statistic and the threshold once a
	// detector was observed.
	detector       *[2]float64
	lastEvaluation float64
	segments       []exportedSegment
}

// exportedSegment is one of the worst segments' series.
type exportedSegment struct {
	label   string
	value   *float64
	samples float64
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
	ex := &exported{labels: []string{metricspec.MetricsLabelValue(m.Namespace), metricspec.MetricsLabelValue(m.Name),
		metricspec.MetricsLabelValue(m.Spec.Owner.Team)},
		value: copyOf(st.Value), lower: copyOf(st.Lower), upper: copyOf(st.Upper), samples: float64(st.Samples),
		state: st.State, lastEvaluation: float64(evaluatedAt.Unix())}
	if d := st.Detector; d != nil {
		largest := 0.0
		for _, seg := range d.Segments {
			largest = max(largest, seg.Statistic)
		}
		ex.detector = &[2]float64{largest, d.Threshold}
	}
	// A segment whose label repeats an earlier one's is the same series:
	// the later one is what it says.
	at := map[string]int{}
	for _, seg := range st.WorstSegments {
		s := exportedSegment{label: metricspec.MetricsLabelValue(seg.Segment), value: copyOf(seg.Value), samples: float64(seg.Samples)}
		if i, ok := at[s.label]; ok {
			ex.segments[i] = s
			continue
		}
		at[s.label] = len(ex.segments)
		ex.segments = append(ex.segments, s)
	}
	key := m.Namespace + "/" + m.Name
	e.mu.Lock()
	defer e.mu.Unlock()
	if prev := e.metrics[key]; prev != nil && ex.detector == nil {
		// A status without a detector leaves the detector's last series.
		ex.detector = prev.detector
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
	gauge := func(d *prometheus.Desc, v float64, labels []string, more ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, append(labels[:len(labels):len(labels)], more...)...)
	}
	for _, ex := range e.metrics {
		for _, s := range []struct {
			d *prometheus.Desc
			v *float64
		}{{e.value, ex.value}, {e.lower, ex.lower}, {e.upper, ex.upper}} {
			if s.v != nil {
				gauge(s.d, *s.v, ex.labels)
			}
		}
		gauge(e.samples, ex.samples, ex.labels)
		for _, s := range windowStates {
			v := 0.0
			if ex.state == s {
				v = 1
			}
			gauge(e.state, v, ex.labels, string(s))
		}
		if ex.detector != nil {
			gauge(e.detector, ex.detector[0], ex.labels, "statistic")
			gauge(e.detector, ex.detector[1], ex.labels, "threshold")
		}
		gauge(e.lastEvaluation, ex.lastEvaluation, ex.labels)
		for _, s := range ex.segments {
			if s.value != nil {
				gauge(e.segmentValue, *s.value, ex.labels, s.label)
			}
			gauge(e.segmentSamples, s.samples, ex.labels, s.label)
		}
	}
}

func copyOf(x *float64) *float64 {
	if x == nil {
		return nil
	}
	v := *x
	return &v
}
