package controllers

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cxv1 "github.com/cxloop/cxloop/api/v1alpha1"
	"github.com/cxloop/cxloop/internal/demodata"
)

func postgresURL(t *testing.T) *url.URL {
	t.Helper()
	dsn := os.Getenv("CXLOOP_TEST_POSTGRES_DSN")
	if dsn == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("CXLOOP_TEST_POSTGRES_DSN is not set: run the tests through `make test`")
		}
		t.Skip("no PostgreSQL: run `make test` to start one")
	}
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// A Metric measured from PostgreSQL; a wrong password turns the DataSource
// not Ready and the Metric SourceUnavailable with its last good value and
// its detector kept; fixing the Secret brings both back.
func TestPostgresSourceWrongPasswordThenFixed(t *testing.T) {
	ctx := context.Background()
	u := postgresURL(t)
	conn, err := pgx.Connect(ctx, u.String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `DROP TABLE IF EXISTS ctl_responses;
		CREATE TABLE ctl_responses (responded_at timestamp, survey text, score integer);
		INSERT INTO ctl_responses SELECT timestamp '2026-02-01' + (i || ' minutes')::interval, 'csat', 1 + (i % 5)
		FROM generate_series(0, 9999) AS i`); err != nil {
		t.Fatal(err)
	}
	// Scores 1..5 evenly: 40 % satisfied (top-2 box), exactly.
	ns := newNamespace(t)
	pw, _ := u.User.Password()
	port, _ := strconv.Atoi(u.Port())
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "warehouse-credentials", Namespace: ns, Labels: map[string]string{cxv1.SecretLabel: "true"}},
		Data: map[string][]byte{"username": []byte(u.User.Username()), "password": []byte(pw)}}
	ds := &cxv1.DataSource{ObjectMeta: metav1.ObjectMeta{Name: "warehouse", Namespace: ns}, Spec: cxv1.DataSourceSpec{
		Type: cxv1.DataSourcePostgres, SecretRef: &cxv1.LocalObjectReference{Name: secret.Name},
		Postgres: &cxv1.PostgresSource{Host: u.Hostname(), Port: int32(port), Database: u.Path[1:], SSLMode: "disable"}}}
	m := csatMetric(ns)
	m.Spec.Query.Table = "ctl_responses"
	m.Spec.Query.Columns.InteractionTime = ""
	m.Spec.Objective.WarningAt = nil
	for _, o := range []client.Object{secret, ds, m} {
		if err := k8sClient.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	day := time.Date(2026, 2, 10, 0, 0, 0, 0, time.UTC)
	testClock.Set(day)
	requestEvaluation(t, m, day)
	got := metricAt(t, m, "measured from PostgreSQL", func(m *cxv1.Metric) bool { return m.Status.Value != nil })
	if *got.Status.Value != 40 || got.Status.Samples != 10000 || got.Status.State != cxv1.StateBreached {
		t.Fatalf("value %v on %d (%s), want exactly 40 on 10000, Breached", *got.Status.Value, got.Status.Samples, got.Status.State)
	}
	detector := got.Status.Detector.DeepCopy()

	// The password is rotated wrongly.
	patch := client.MergeFrom(secret.DeepCopy())
	secret.Data["password"] = []byte("not-the-password")
	if err := k8sClient.Patch(ctx, secret, patch); err != nil {
		t.Fatal(err)
	}
	dsReady := func(want metav1.ConditionStatus, reason string) {
		t.Helper()
		eventually(t, 15*time.Second, "DataSource Ready "+string(want), func() (bool, string) {
			var cur cxv1.DataSource
			if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(ds), &cur); err != nil {
				return false, err.Error()
			}
			c := meta.FindStatusCondition(cur.Status.Conditions, cxv1.ConditionReady)
			if c == nil {
				return false, "no condition"
			}
			return c.Status == want && c.Reason == reason, fmt.Sprintf("%s %s: %s", c.Status, c.Reason, c.Message)
		})
	}
	dsReady(metav1.ConditionFalse, "AuthFailed")
	next := day.Add(24 * time.Hour)
	testClock.Set(next)
	requestEvaluation(t, m, next)
	failing := metricAt(t, m, "SourceUnavailable", func(m *cxv1.Metric) bool {
		return meta.IsStatusConditionTrue(m.Status.Conditions, cxv1.ConditionSourceUnavailable)
	})
	if failing.Status.Value == nil || *failing.Status.Value != 40 || failing.Status.ConsecutiveSourceErrors < 1 {
		t.Fatalf("the last good value was not kept: %v, errors %d", failing.Status.Value, failing.Status.ConsecutiveSourceErrors)
	}
	if !equalDetector(failing.Status.Detector, detector) {
		t.Fatalf("a source failure changed the detector: %+v -> %+v", detector, failing.Status.Detector)
	}
	if meta.IsStatusConditionTrue(failing.Status.Conditions, cxv1.ConditionReady) {
		t.Fatal("Ready stayed True while the source fails")
	}

	// Fixed: Ready again, the error cleared.
	patch = client.MergeFrom(secret.DeepCopy())
	secret.Data["password"] = []byte(pw)
	if err := k8sClient.Patch(ctx, secret, patch); err != nil {
		t.Fatal(err)
	}
	dsReady(metav1.ConditionTrue, "Connected")
	requestEvaluation(t, m, next.Add(time.Minute))
	metricAt(t, m, "recovered", func(m *cxv1.Metric) bool {
		return !meta.IsStatusConditionTrue(m.Status.Conditions, cxv1.ConditionSourceUnavailable) &&
			meta.IsStatusConditionTrue(m.Status.Conditions, cxv1.ConditionReady) && m.Status.ConsecutiveSourceErrors == 0
	})
}

func equalDetector(a, b *cxv1.DetectorStatus) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.FedUntil.Equal(b.FedUntil) && len(a.Segments) == len(b.Segments) && a.Threshold == b.Threshold
}

// Too few samples: InsufficientData, no value, and nothing opens.
func TestInsufficientDataSuspendAndSpecEdit(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t)
	createWarehouse(t, ns)
	at := demodata.DefaultT0
	testClock.Set(at)
	m := csatMetric(ns)
	m.Spec.Objective.MinSamples = 1000000
	if err := k8sClient.Create(ctx, m); err != nil {
		t.Fatal(err)
	}
	got := metricAt(t, m, "InsufficientData", func(m *cxv1.Metric) bool {
		return meta.IsStatusConditionTrue(m.Status.Conditions, cxv1.ConditionInsufficientData)
	})
	if got.Status.Value != nil || got.Status.State != cxv1.StateInsufficientData {
		t.Fatalf("value %v state %s below minSamples", got.Status.Value, got.Status.State)
	}

	// A spec edit re-evaluates at once, without waiting for the interval.
	patch := client.MergeFrom(got.DeepCopy())
	got.Spec.Objective.MinSamples = 50
	if err := k8sClient.Patch(ctx, got, patch); err != nil {
		t.Fatal(err)
	}
	measured := metricAt(t, m, "re-evaluated after the edit", func(m *cxv1.Metric) bool {
		return m.Status.ObservedGeneration == m.Generation && m.Status.Value != nil
	})

	// Suspended: evaluation stops, the detector's state is kept.
	patch = client.MergeFrom(measured.DeepCopy())
	measured.Spec.Suspend = true
	if err := k8sClient.Patch(ctx, measured, patch); err != nil {
		t.Fatal(err)
	}
	suspended := metricAt(t, m, "suspended", func(m *cxv1.Metric) bool {
		c := meta.FindStatusCondition(m.Status.Conditions, cxv1.ConditionReady)
		return c != nil && c.Reason == "Suspended" && m.Status.ObservedGeneration == m.Generation
	})
	testClock.Set(at.Add(3 * 24 * time.Hour))
	requestEvaluation(t, m, at.Add(3*24*time.Hour))
	time.Sleep(time.Second)
	var still cxv1.Metric
	if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(m), &still); err != nil {
		t.Fatal(err)
	}
	if !still.Status.LastEvaluation.WindowEnd.Equal(&suspended.Status.LastEvaluation.WindowEnd) ||
		!equalDetector(still.Status.Detector, suspended.Status.Detector) {
		t.Fatalf("a suspended metric was evaluated: %v -> %v", suspended.Status.LastEvaluation.WindowEnd, still.Status.LastEvaluation.WindowEnd)
	}
}
