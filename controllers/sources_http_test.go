package controllers

import (
	"context"
	"fmt"
	"net/http"
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

// A CSV export kept in a ConfigMap is measured, and a new export in the
// same key is read at the next evaluation.
func TestCSVFromAConfigMapIsMeasuredAfresh(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t)
	export := func(satisfied int) string {
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
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "survey-export", Namespace: ns},
		Data: map[string]string{"responses.csv": export(70)}}
	ds := &cxv1.DataSource{ObjectMeta: metav1.ObjectMeta{Name: "warehouse", Namespace: ns}, Spec: cxv1.DataSourceSpec{
		Type: cxv1.DataSourceCSV, CSV: &cxv1.CSVSource{ConfigMapRef: &cxv1.ConfigMapKeyReference{Name: cm.Name, Key: "responses.csv"}}}}
	m := csatMetric(ns)
	m.Spec.Query.Table = "records"
	m.Spec.Query.Columns.Time, m.Spec.Query.Columns.InteractionTime = "answered_at", ""
	m.Spec.Objective.WarningAt = nil
	for _, o := range []client.Object{cm, ds, m} {
		if err := k8sClient.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	day := time.Date(2026, 2, 12, 0, 0, 0, 0, time.UTC)
	testClock.Set(day)
	requestEvaluation(t, m, day)
	got := metricAt(t, m, "measured from the ConfigMap", func(m *cxv1.Metric) bool { return m.Status.Value != nil })
	if *got.Status.Value != 70 || got.Status.Samples != 100 {
		t.Fatalf("value %v on %d samples, want exactly 70 on 100", *got.Status.Value, got.Status.Samples)
	}
	patch := client.MergeFrom(cm.DeepCopy())
	cm.Data["responses.csv"] = export(90)
	if err := k8sClient.Patch(ctx, cm, patch); err != nil {
		t.Fatal(err)
	}
	next := day.Add(time.Hour)
	testClock.Set(next)
	requestEvaluation(t, m, next)
	metricAt(t, m, "the new export read", func(m *cxv1.Metric) bool { return m.Status.Value != nil && *m.Status.Value == 90 })
}

// An HTTP JSON source on a loopback address is refused unless the manager
// allows that network, and the server is never contacted.
func TestHTTPJSONSourceOnALoopbackAddressIsRefused(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t)
	var hits atomic.Int32
	// 127.0.0.2: a loopback address outside the suite's allowance.
	srv := refusedServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		fmt.Fprint(w, `[]`)
	}))
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "api", Namespace: ns, Labels: map[string]string{cxv1.SecretLabel: "true"}},
		Data: map[string][]byte{"token": []byte("t0ken-value"), "api-key": []byte("k3y-value")}}
	ds := &cxv1.DataSource{ObjectMeta: metav1.ObjectMeta{Name: "survey-api", Namespace: ns}, Spec: cxv1.DataSourceSpec{
		Type: cxv1.DataSourceHTTPJSON, SecretRef: &cxv1.LocalObjectReference{Name: secret.Name},
		HTTPJSON: &cxv1.HTTPJSONSource{URL: srv.URL + "/responses", HeadersFromSecret: map[string]string{"X-Api-Key": "api-key"}}}}
	for _, o := range []client.Object{secret, ds} {
		if err := k8sClient.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	var cur cxv1.DataSource
	eventually(t, 15*time.Second, "DataSource refused", func() (bool, string) {
		if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(ds), &cur); err != nil {
			return false, err.Error()
		}
		c := meta.FindStatusCondition(cur.Status.Conditions, cxv1.ConditionReady)
		if c == nil {
			return false, "no condition"
		}
		return c.Status == metav1.ConditionFalse && c.Reason == "AddressNotAllowed", c.Reason + ": " + c.Message
	})
	c := meta.FindStatusCondition(cur.Status.Conditions, cxv1.ConditionReady)
	if strings.Contains(c.Message, "t0ken") || strings.Contains(c.Message, "k3y") {
		t.Fatalf("a credential reached the condition: %s", c.Message)
	}
	if hits.Load() != 0 {
		t.Fatalf("the refused server was contacted %d times", hits.Load())
	}
}
