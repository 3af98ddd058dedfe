package promexport

import (
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	cxv1 "github.com/cxloop/cxloop/api/v1alpha1"
	"github.com/cxloop/cxloop/internal/metricspec"
	"github.com/cxloop/cxloop/internal/source"
)

// SourceQueries counts and times the round trips DataSources make, so the
// operator's own health (a source failing, a source slow) and its load on
// the company's warehouses show on the metrics endpoint: one series per
// DataSource, kind of query and outcome, whatever the data.
type SourceQueries struct {
	total    *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

// NewSourceQueries creates the series and registers them with reg.
func NewSourceQueries(reg prometheus.Registerer) *SourceQueries {
	q := &SourceQueries{
		total: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "cxloop", Name: "source_queries_total",
			Help: "Round trips to a DataSource, by kind (window, history, range) and outcome (ok or the error's reason)."},
			[]string{"namespace", "datasource", "type", "kind", "outcome"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: "cxloop", Name: "source_query_duration_seconds",
			Help: "Time a round trip to a DataSource took, by DataSource type and kind.", Buckets: prometheus.ExponentialBuckets(0.001, 4, 9)},
			[]string{"type", "kind"}),
	}
	reg.MustRegister(q.total, q.duration,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "cxloop", Name: "sqlite_memory_bytes",
			Help: "Memory SQLite holds outside the Go heap for the SQLite DataSources' queries (page caches, sorters, statements)."},
			func() float64 { used, _ := source.SQLiteMemory(); return float64(used) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "cxloop", Name: "sqlite_memory_highwater_bytes",
			Help: "The most memory SQLite has held outside the Go heap since the manager started."},
			func() float64 { _, high := source.SQLiteMemory(); return float64(high) }))
	return q
}

// Observe records one round trip; it is a metricspec.Sources.Observe.
func (q *SourceQueries) Observe(ds *cxv1.DataSource, kind source.QueryKind, took time.Duration, err error) {
	typ := string(ds.Spec.Type)
	q.total.WithLabelValues(metricspec.MetricsLabelValue(ds.Namespace), metricspec.MetricsLabelValue(ds.Name), typ, string(kind), outcome(err)).Inc()
	q.duration.WithLabelValues(typ, string(kind)).Observe(took.Seconds())
}

// outcome is a bounded label for a query's error.
func outcome(err error) string {
	for _, c := range []struct {
		err    error
		reason string
	}{
		{source.ErrTimeout, "Timeout"}, {source.ErrUnreachable, "Unreachable"}, {source.ErrUnauthorized, "Unauthorized"},
		{source.ErrBadQuery, "BadQuery"}, {source.ErrTooLarge, "TooLarge"}, {source.ErrTooManySegments, "TooManySegments"},
		{source.ErrPathNotAllowed, "PathNotAllowed"}, {source.ErrAddressNotAllowed, "AddressNotAllowed"},
	} {
		if errors.Is(err, c.err) {
			return c.reason
		}
	}
	if err != nil {
		return "Error"
	}
	return "ok"
}
