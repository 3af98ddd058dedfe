package metricspec

import (
	"testing"

	cxv1 "github.com/cxloop/cxloop/api/v1alpha1"
)

// The cluster column travels from the Metric to the source query beside
// the other columns.
func TestQueryCarriesTheClusterColumn(t *testing.T) {
	m := &cxv1.Metric{Spec: cxv1.MetricSpec{SegmentBy: []string{"region"}, Query: &cxv1.MetricQuery{Table: "survey_responses",
		Columns: &cxv1.QueryColumns{Value: "score", Time: "responded_at", Weight: "revenue_weight", Cluster: "account_id"}}}}
	q := Query(m)
	if q.Cluster != "account_id" || q.Weight != "revenue_weight" || q.Value != "score" || len(q.Segments) != 1 {
		t.Errorf("query %+v", q)
	}
	m.Spec.Query.Columns.Cluster = ""
	if q := Query(m); q.Cluster != "" {
		t.Errorf("unclustered metric gives cluster %q", q.Cluster)
	}
}
