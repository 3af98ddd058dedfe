package promexport

import (
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	cxv1 "github.com/cxloop/cxloop/api/v1alpha1"
	"github.com/cxloop/cxloop/internal/source"
)

// Every round trip is counted once under its DataSource, kind and outcome,
// the outcome naming the source's typed error, never its message.
func TestSourceQueriesCountRoundTrips(t *testing.T) {
	reg := prometheus.NewRegistry()
	q := NewSourceQueries(reg)
	ds := &cxv1.DataSource{ObjectMeta: metav1.ObjectMeta{Namespace: "support", Name: "warehouse"},
		Spec: cxv1.DataSourceSpec{Type: cxv1.DataSourceSQLite}}
	q.Observe(ds, source.WindowQuery, time.Millisecond, nil)
	q.Observe(ds, source.WindowQuery, time.Millisecond, nil)
	q.Observe(ds, source.HistoryQuery, time.Second, fmt.Errorf("reading a year: %w: password=hunter2", source.ErrTimeout))
	for _, c := range []struct {
		kind, outcome string
		want          float64
	}{{"window", "ok", 2}, {"history", "Timeout", 1}, {"history", "ok", 0}} {
		got := testutil.ToFloat64(q.total.WithLabelValues("support", "warehouse", string(cxv1.DataSourceSQLite), c.kind, c.outcome))
		if got != c.want {
			t.Errorf("%s %s: %v round trips, want %v", c.kind, c.outcome, got, c.want)
		}
	}
	if n := testutil.CollectAndCount(q.duration); n != 2 {
		t.Errorf("%d duration series, want one per type and kind (2)", n)
	}
}
