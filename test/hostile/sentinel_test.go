package hostile

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cxv1 "github.com/cxloop/cxloop/api/v1alpha1"
)

// The sentinel is good data beside each hostile input: a CSAT Metric over
// a CSV export of 100 responses, 70 satisfied, so its value is exactly 70.
const sentinelValue = 70.0

// csvExport is 100 CSAT responses in February 2026, satisfied of them 5s.
func csvExport(satisfied int) string {
	var b strings.Builder
	b.WriteString("answered_at,score,survey\n")
	for i := 0; i < 100; i++ {
		score := 2
		if i < satisfied {
			score = 5
		}
		fmt.Fprintf(&b, "2026-02-%02dT%02d:00:00Z,%d,csat\n", 1+i%9, i%24, score)
	}
	return b.String()
}

// csatMetric is a CSAT Metric over the records of DataSource source.
func csatMetric(ns, name, source string) *cxv1.Metric {
	target := 60.0
	return &cxv1.Metric{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: cxv1.MetricSpec{
			Owner:   cxv1.MetricOwner{Team: "support-operations"},
			Source:  &cxv1.LocalObjectReference{Name: source},
			Formula: cxv1.FormulaCSAT,
			Query: &cxv1.MetricQuery{Table: "records",
				Columns: &cxv1.QueryColumns{Value: "score", Time: "answered_at"}},
			Objective: cxv1.Objective{Target: &target, MinSamples: 50},
		},
	}
}

// sentinelIn creates the sentinel in ns (its ConfigMap, DataSource, owner
// Team and Metric) and waits for its value.
func sentinelIn(t *testing.T, ns string) *cxv1.Metric {
	t.Helper()
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "sentinel-export", Namespace: ns},
		Data: map[string]string{"responses.csv": csvExport(70)}}
	ds := &cxv1.DataSource{ObjectMeta: metav1.ObjectMeta{Name: "sentinel", Namespace: ns}, Spec: cxv1.DataSourceSpec{
		Type: cxv1.DataSourceCSV, CSV: &cxv1.CSVSource{ConfigMapRef: &cxv1.ConfigMapKeyReference{Name: cm.Name, Key: "responses.csv"}}}}
	m := csatMetric(ns, "sentinel-csat", "sentinel")
	create(t, cm, ds, ownerTeam(ns), m)
	intact(t, client.ObjectKeyFromObject(m))
	return m
}

// ownerTeam is the Team owning the hostile cases' Metrics.
func ownerTeam(ns string) *cxv1.Team {
	return &cxv1.Team{ObjectMeta: metav1.ObjectMeta{Name: "support-operations", Namespace: ns}}
}

var requests atomic.Int64

// intact asks for a fresh evaluation of the sentinel and waits until the
// operator has made it, Ready with its exact value: the manager survived
// the hostile input and still reads good data.
func intact(t *testing.T, key client.ObjectKey) {
	t.Helper()
	requested := day.Add(time.Duration(requests.Add(1)) * time.Second).Format(time.RFC3339)
	obj := &cxv1.Metric{ObjectMeta: metav1.ObjectMeta{Name: key.Name, Namespace: key.Namespace,
		Annotations: map[string]string{cxv1.ReconcileRequestAnnotation: requested}}}
	if err := k8sClient.Patch(context.Background(), obj, client.MergeFrom(&cxv1.Metric{})); err != nil {
		t.Fatal(err)
	}
	m := &cxv1.Metric{ObjectMeta: metav1.ObjectMeta{Name: key.Name, Namespace: key.Namespace}}
	metricAt(t, m, "the sentinel measured again", func(m *cxv1.Metric) bool {
		return m.Status.LastHandledReconcileAt == requested && meta.IsStatusConditionTrue(m.Status.Conditions, cxv1.ConditionReady) &&
			m.Status.Value != nil && *m.Status.Value == sentinelValue && m.Status.Samples == 100
	})
}

// metricAt waits until cond holds of the Metric.
func metricAt(t *testing.T, m *cxv1.Metric, what string, cond func(*cxv1.Metric) bool) *cxv1.Metric {
	t.Helper()
	var got cxv1.Metric
	eventually(t, 30*time.Second, what, func() (bool, string) {
		if err := k8sClient.Get(context.Background(), client.ObjectKeyFromObject(m), &got); err != nil {
			return false, err.Error()
		}
		return cond(&got), fmt.Sprintf("value=%v samples=%d handled=%q conditions=%v", got.Status.Value, got.Status.Samples,
			got.Status.LastHandledReconcileAt, got.Status.Conditions)
	})
	return &got
}
