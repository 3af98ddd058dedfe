// Package upgrade proves that a release's CRDs and manager carry on the
// objects an earlier release persisted: see testdata/README.md for where
// those objects come from.
package upgrade

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	cxv1 "github.com/cxloop/cxloop/api/v1alpha1"
	"github.com/cxloop/cxloop/controllers"
	"github.com/cxloop/cxloop/internal/clock"
	"github.com/cxloop/cxloop/internal/credentials"
	"github.com/cxloop/cxloop/internal/demodata"
)

const (
	ns = "cx"
	// evidenceMetric carries detector evidence and an Open task on the
	// integration stage, whose effort stays high whatever its owner does.
	evidenceMetric  = "journey-ces"
	evidenceSegment = "stage=integration"
	// verifyingMetric's task was resolved on the day the script restored
	// support CSAT, and is Verifying.
	verifyingMetric = "support-csat"
	// resumeDay is the first day the new manager evaluates: the old one
	// evaluated up to T0+12d.
	resumeDay = 13
	lastDay   = 40
)

// oldScript is the demo warehouse's script at the old release: the
// generator is unchanged since, its defaults are not.
func oldScript() demodata.Script {
	sc := demodata.DefaultScript()
	sc.Seed, sc.History, sc.Scale = 3, 120*demodata.Day, 0.5
	return sc
}

func TestUpgradeCarriesObjectsOn(t *testing.T) {
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		t.Fatal("KUBEBUILDER_ASSETS is not set: run `make envtest-assets` and point KUBEBUILDER_ASSETS at the directory it prints")
	}
	ctx := context.Background()
	started := time.Now()
	dataRoot := t.TempDir()
	if _, err := demodata.Generate(filepath.Join(dataRoot, "warehouse.db"), oldScript()); err != nil {
		t.Fatal(err)
	}
	t.Logf("warehouse generated in %s", time.Since(started).Round(time.Millisecond))
	scheme := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	utilruntime.Must(apiextensionsv1.AddToScheme(scheme))
	utilruntime.Must(cxv1.AddToScheme(scheme))
	env := &envtest.Environment{CRDDirectoryPaths: []string{filepath.Join("testdata", "crds")}, ErrorIfCRDPathMissing: true}
	cfg, err := env.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Stop() })
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}

	// The old release's objects, as it persisted them.
	old := fixtures(t)
	for _, name := range []string{ns, ns + "-reapplied"} {
		if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}); err != nil {
			t.Fatal(err)
		}
	}
	uids := map[string]string{}
	for _, kind := range fixtureKinds {
		for _, obj := range old[kind] {
			if kind == "ImprovementTask" {
				renameAfterMetricUID(t, obj, uids)
			}
			if err := restore(ctx, c, obj); err != nil {
				t.Fatal(err)
			}
			if kind == "Metric" {
				uids[obj.GetName()] = string(obj.GetUID())
			}
		}
	}

	// The upgrade: CRDs first, server-side.
	applyCRDs(ctx, t, c, filepath.Join("..", "..", "config", "crd", "bases"))
	assertObjectsDecode(ctx, t, c, old)
	assertManifestsValidate(ctx, t, c, old)
	oldEvidence := persistedSegment(t, metricOf(t, old, evidenceMetric), evidenceSegment)
	oldTasks := tasksByMetric(t, old)

	// Then the manager, on the same warehouse, from the day after the old
	// one stopped.
	t.Logf("restored and upgraded in %s", time.Since(started).Round(time.Millisecond))
	clk := clock.NewManual(day(resumeDay))
	startManager(ctx, t, cfg, scheme, clk, dataRoot)
	l := &days{t: t, c: c, clk: clk}
	l.evaluate(resumeDay)
	assertEvidenceCarriedOn(t, l.metric(evidenceMetric), oldEvidence)

	for d := resumeDay; d <= lastDay; d++ {
		if d > resumeDay {
			l.evaluate(d)
		}
		clk.Set(day(d).Add(12 * time.Hour))
		if l.ownersAct(oldTasks[evidenceMetric]) {
			t.Logf("both loops finished by day %d", d)
			break
		}
	}
	assertLoopsFinished(t, l, oldTasks)
	assertNoDuplicateTasks(t, l, old)
	assertSpecEditValidates(ctx, t, c)
	assertScorecardScoresOldMetrics(ctx, t, c)
}

// day is midnight of the script's day d.
func day(d int) time.Time { return demodata.DefaultT0.Add(time.Duration(d) * demodata.Day) }

func startManager(ctx context.Context, t *testing.T, cfg *rest.Config, scheme *runtime.Scheme, clk clock.Clock, dataRoot string) {
	t.Helper()
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                  scheme,
		Metrics:                 metricsserver.Options{BindAddress: "0"},
		Cache:                   credentials.OnlyOptedIn(cache.Options{DefaultNamespaces: map[string]cache.Config{ns: {}}}),
		GracefulShutdownTimeout: ptr.To(10 * time.Second),
	})
	if err != nil {
		t.Fatal(err)
	}
	mctx, cancel := context.WithCancel(ctx)
	if err := controllers.SetupAll(mctx, mgr, controllers.Options{Clock: clk, DataRoots: []string{dataRoot}}); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := mgr.Start(mctx); err != nil && mctx.Err() == nil {
			t.Errorf("manager: %v", err)
		}
	}()
	t.Cleanup(func() { cancel(); <-done })
}

func metricOf(t *testing.T, objs map[string][]*unstructured.Unstructured, name string) *cxv1.Metric {
	t.Helper()
	for _, u := range objs["Metric"] {
		if u.GetName() == name {
			var m cxv1.Metric
			if err := decodeStrictly(u, &m); err != nil {
				t.Fatal(err)
			}
			return &m
		}
	}
	t.Fatalf("no Metric %s in testdata", name)
	return nil
}
