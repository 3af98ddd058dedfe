package main

import (
	"context"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	cxv1 "github.com/cxloop/cxloop/api/v1alpha1"
	"github.com/cxloop/cxloop/controllers"
)

// checkLog records which namespaces' DataSources a manager checked.
type checkLog struct {
	mu   sync.Mutex
	seen map[string]int
}

func (l *checkLog) CheckSource(_ context.Context, ds *cxv1.DataSource) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.seen[ds.Namespace]++
	return nil
}

func (l *checkLog) count(ns string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.seen[ns]
}

// Two managers with disjoint --shard selectors split the namespaces by
// their label: each checks only its own namespaces' DataSources, and a
// namespace relabelled to the other shard is taken over by the other
// manager and left by the first.
func TestShardsSplitNamespacesByLabel(t *testing.T) {
	cfg, scheme, c := startControlPlane(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	shardOf := map[string]string{"east-1": "a", "east-2": "a", "west-1": "b", "west-2": "b"}
	for ns, shard := range shardOf {
		labels := map[string]string{"cxloop.dev/shard": shard}
		if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns, Labels: labels}}); err != nil {
			t.Fatal(err)
		}
	}
	logs := map[string]*checkLog{}
	for _, shard := range []string{"a", "b"} {
		selector, err := controllers.ParseShard("cxloop.dev/shard=" + shard)
		if err != nil {
			t.Fatal(err)
		}
		mgr, err := ctrl.NewManager(cfg, ctrl.Options{Scheme: scheme, Metrics: metricsserver.Options{BindAddress: "0"},
			HealthProbeBindAddress: "0", Cache: cacheOptions(nil),
			Controller: config.Controller{SkipNameValidation: ptr.To(true)}})
		if err != nil {
			t.Fatal(err)
		}
		logs[shard] = &checkLog{seen: map[string]int{}}
		if err := controllers.SetupAll(ctx, mgr, controllers.Options{DataRoots: []string{t.TempDir()}, Shard: selector,
			SourceChecker: logs[shard]}); err != nil {
			t.Fatal(err)
		}
		go func() { _ = mgr.Start(ctx) }()
	}
	for ns := range shardOf {
		ds := &cxv1.DataSource{ObjectMeta: metav1.ObjectMeta{Name: "warehouse", Namespace: ns},
			Spec: cxv1.DataSourceSpec{Type: cxv1.DataSourceSQLite, SQLite: &cxv1.SQLiteSource{Path: "cx.db"}}}
		if err := c.Create(ctx, ds); err != nil {
			t.Fatal(err)
		}
	}
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		for deadline := time.Now().Add(30 * time.Second); !ok(); time.Sleep(100 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting until %s; checks a=%v b=%v", what, logs["a"].seen, logs["b"].seen)
			}
		}
	}
	waitFor("every DataSource is checked by its shard", func() bool {
		for ns, shard := range shardOf {
			if logs[shard].count(ns) == 0 {
				return false
			}
		}
		return true
	})
	time.Sleep(2 * time.Second)
	for ns, shard := range shardOf {
		other := map[string]string{"a": "b", "b": "a"}[shard]
		if n := logs[other].count(ns); n != 0 {
			t.Errorf("the manager of shard %s checked %s's DataSource %d times; it belongs to shard %s", other, ns, n, shard)
		}
	}

	// east-2 moves to shard b: b takes it over at once, a leaves it.
	var ns corev1.Namespace
	if err := c.Get(ctx, client.ObjectKey{Name: "east-2"}, &ns); err != nil {
		t.Fatal(err)
	}
	ns.Labels["cxloop.dev/shard"] = "b"
	if err := c.Update(ctx, &ns); err != nil {
		t.Fatal(err)
	}
	waitFor("shard b takes over east-2", func() bool { return logs["b"].count("east-2") > 0 })
	time.Sleep(time.Second) // let any event a still had in flight arrive
	before := logs["a"].count("east-2")
	var ds cxv1.DataSource
	if err := c.Get(ctx, client.ObjectKey{Namespace: "east-2", Name: "warehouse"}, &ds); err != nil {
		t.Fatal(err)
	}
	ds.Spec.SQLite.Path = "moved.db"
	if err := c.Update(ctx, &ds); err != nil {
		t.Fatal(err)
	}
	checked := logs["b"].count("east-2")
	waitFor("shard b re-checks east-2's changed DataSource", func() bool { return logs["b"].count("east-2") > checked })
	time.Sleep(2 * time.Second)
	if after := logs["a"].count("east-2"); after != before {
		t.Errorf("shard a checked east-2's DataSource after the namespace left it (%d checks before, %d after)", before, after)
	}
}

// Every manager, cluster-wide or namespaced, caches only the Secrets
// labelled as opted in.
func TestCacheOnlyHoldsOptedInSecrets(t *testing.T) {
	for _, namespaces := range [][]string{nil, {"team-a"}} {
		o := cacheOptions(namespaces)
		if len(o.ByObject) == 0 {
			t.Errorf("watching %v: the cache holds every Secret's metadata, not only opted-in ones", namespaces)
		}
		for obj, by := range o.ByObject {
			if by.Label == nil || by.Label.String() != cxv1.SecretLabel+"=true" {
				t.Errorf("watching %v: %T cached with selector %v, want %s=true", namespaces, obj, by.Label, cxv1.SecretLabel)
			}
		}
	}
}

func TestLeaderElectionIDPerShard(t *testing.T) {
	a, b, all := leaderElectionID("cxloop.dev/shard=a"), leaderElectionID("cxloop.dev/shard=b"), leaderElectionID("")
	if a == b || a == all || b == all {
		t.Errorf("shards share a lease: %q %q %q", a, b, all)
	}
	if a != leaderElectionID("cxloop.dev/shard=a") {
		t.Error("one shard's lease name is not stable")
	}
}
