package main

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	cxv1 "github.com/cxloop/cxloop/api/v1alpha1"
	"github.com/cxloop/cxloop/controllers"
)

// A manager started with --watch-namespace reconciles the objects of that
// namespace and leaves every other namespace's alone: another tenant's
// DataSource gets no condition from it.
func TestWatchNamespaceLeavesOtherNamespacesAlone(t *testing.T) {
	cfg, scheme, c := startControlPlane(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for _, ns := range []string{"team-a", "team-b"} {
		if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
			t.Fatal(err)
		}
	}
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{Scheme: scheme, Metrics: metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0", Cache: cacheOptions([]string{"team-a"})})
	if err != nil {
		t.Fatal(err)
	}
	if err := controllers.SetupAll(ctx, mgr, controllers.Options{DataRoots: []string{t.TempDir()}}); err != nil {
		t.Fatal(err)
	}
	go func() { _ = mgr.Start(ctx) }()

	ds := func(ns string) *cxv1.DataSource {
		return &cxv1.DataSource{ObjectMeta: metav1.ObjectMeta{Name: "warehouse", Namespace: ns},
			Spec: cxv1.DataSourceSpec{Type: cxv1.DataSourceSQLite, SQLite: &cxv1.SQLiteSource{Path: "missing.db"}}}
	}
	for _, ns := range []string{"team-a", "team-b"} {
		if err := c.Create(ctx, ds(ns)); err != nil {
			t.Fatal(err)
		}
	}
	// The watched namespace's DataSource is checked (and found broken).
	deadline := time.Now().Add(30 * time.Second)
	for {
		var got cxv1.DataSource
		if err := c.Get(ctx, client.ObjectKey{Namespace: "team-a", Name: "warehouse"}, &got); err != nil {
			t.Fatal(err)
		}
		if meta.FindStatusCondition(got.Status.Conditions, cxv1.ConditionReady) != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the watched namespace's DataSource was never checked")
		}
		time.Sleep(100 * time.Millisecond)
	}
	// The other one stays untouched.
	time.Sleep(2 * time.Second)
	var other cxv1.DataSource
	if err := c.Get(ctx, client.ObjectKey{Namespace: "team-b", Name: "warehouse"}, &other); err != nil {
		t.Fatal(err)
	}
	if len(other.Status.Conditions) != 0 {
		t.Fatalf("a manager watching team-a reconciled team-b's DataSource: %+v", other.Status.Conditions)
	}
}

// The cache keeps no managedFields, installed namespaced or not.
func TestCacheKeepsNoManagedFields(t *testing.T) {
	for _, namespaces := range [][]string{nil, {"team-a"}} {
		o := cacheOptions(namespaces)
		if o.DefaultTransform == nil {
			t.Fatalf("namespaces %v: no transform", namespaces)
		}
		m := &cxv1.Metric{ObjectMeta: metav1.ObjectMeta{Name: "nps", Namespace: "team-a",
			ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "kubectl", Operation: metav1.ManagedFieldsOperationApply}}}}
		out, err := o.DefaultTransform(m)
		if err != nil {
			t.Fatal(err)
		}
		if got := out.(*cxv1.Metric); len(got.ManagedFields) != 0 || got.Name != "nps" {
			t.Fatalf("namespaces %v: cached %+v", namespaces, got.ObjectMeta)
		}
	}
}
