package main

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	cxv1 "github.com/cxloop/cxloop/api/v1alpha1"
	"github.com/cxloop/cxloop/controllers"
	"github.com/cxloop/cxloop/internal/clock"
	"github.com/cxloop/cxloop/internal/credentials"
	"github.com/cxloop/cxloop/internal/demo"
	"github.com/cxloop/cxloop/internal/promexport"
)

const (
	wideNamespace = "wide"
	shardLabel    = "cxloop.dev/shard"
)

// cluster is the embedded control plane, its objects and the manual clock
// every manager runs on.
type cluster struct {
	env     *envtest.Environment
	cfg     *rest.Config
	scheme  *runtime.Scheme
	c       client.Client
	clock   *clock.Manual
	dataDir string
	metrics []client.ObjectKey
}

func startCluster(_ context.Context, assets, dataDir string) (*cluster, error) {
	env, cfg, err := demo.StartControlPlane(assets)
	if err != nil {
		return nil, err
	}
	cfg.QPS, cfg.Burst = 500, 1000
	scheme := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	utilruntime.Must(cxv1.AddToScheme(scheme))
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		_ = env.Stop()
		return nil, err
	}
	return &cluster{env: env, cfg: cfg, scheme: scheme, c: c, clock: clock.NewManual(t0), dataDir: dataDir}, nil
}

func (cp *cluster) stop() { _ = cp.env.Stop() }

// apply creates the namespaces, each with the warehouse and a team, and
// the Metrics spread over them.
func (cp *cluster) apply(ctx context.Context, c scaleConfig, w warehouse) error {
	namespaces := make([]string, c.namespaces)
	for i := range namespaces {
		namespaces[i] = fmt.Sprintf("ns-%02d", i)
	}
	if c.wide > 0 {
		namespaces = append(namespaces, wideNamespace)
	}
	for _, ns := range namespaces {
		objs := []client.Object{
			&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}},
			&cxv1.DataSource{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "warehouse"},
				Spec: cxv1.DataSourceSpec{Type: cxv1.DataSourceSQLite, SQLite: &cxv1.SQLiteSource{Path: "scale.db"}}},
			&cxv1.Team{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "success"}},
		}
		for _, o := range objs {
			if err := cp.c.Create(ctx, o); err != nil {
				return fmt.Errorf("create %s in %s: %w", o.GetObjectKind().GroupVersionKind().Kind, ns, err)
			}
		}
	}
	create := func(ns, name, filter string) error {
		m := &cxv1.Metric{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
		spec := fmt.Sprintf(`{"owner":{"team":"success"},"source":{"name":"warehouse"},"formula":"nps",
			"query":{"table":"responses","columns":{"value":"score","time":"answered_at"},
			"filters":[{"column":"metric","operator":"Equals","values":[%q]}]},
			"window":"720h","interval":"24h","segmentBy":["account"],
			"objective":{"direction":"AtLeast","target":20,"minShift":10,"minSamples":20}}`, filter)
		if err := json.Unmarshal([]byte(spec), &m.Spec); err != nil {
			return err
		}
		cp.metrics = append(cp.metrics, client.ObjectKeyFromObject(m))
		return cp.c.Create(ctx, m)
	}
	for i := 0; i < c.metrics; i++ {
		if err := create(namespaces[i%c.namespaces], metricName(i), metricName(i)); err != nil {
			return fmt.Errorf("create Metric %s: %w", metricName(i), err)
		}
	}
	if c.wide > 0 {
		return create(wideNamespace, "wide", "wide")
	}
	return nil
}

// manager is one manager, in process, with its own counters.
type manager struct {
	stop    context.CancelFunc
	writes  atomic.Int64
	queries *prometheus.Registry
}

// startManager starts a manager on the cluster's clock, for the
// namespaces shard selects (every namespace when empty).
func (cp *cluster) startManager(ctx context.Context, shard string) (*manager, error) {
	selector, err := controllers.ParseShard(shard)
	if err != nil {
		return nil, err
	}
	m := &manager{queries: prometheus.NewRegistry()}
	count := func() { m.writes.Add(1) }
	writes := interceptor.Funcs{
		Create: func(ctx context.Context, c client.WithWatch, o client.Object, opts ...client.CreateOption) error {
			count()
			return c.Create(ctx, o, opts...)
		},
		Update: func(ctx context.Context, c client.WithWatch, o client.Object, opts ...client.UpdateOption) error {
			count()
			return c.Update(ctx, o, opts...)
		},
		Patch: func(ctx context.Context, c client.WithWatch, o client.Object, p client.Patch, opts ...client.PatchOption) error {
			count()
			return c.Patch(ctx, o, p, opts...)
		},
		Delete: func(ctx context.Context, c client.WithWatch, o client.Object, opts ...client.DeleteOption) error {
			count()
			return c.Delete(ctx, o, opts...)
		},
		SubResourceUpdate: func(ctx context.Context, c client.Client, sub string, o client.Object, opts ...client.SubResourceUpdateOption) error {
			count()
			return c.SubResource(sub).Update(ctx, o, opts...)
		},
		SubResourcePatch: func(ctx context.Context, c client.Client, sub string, o client.Object, p client.Patch, opts ...client.SubResourcePatchOption) error {
			count()
			return c.SubResource(sub).Patch(ctx, o, p, opts...)
		},
	}
	mgr, err := ctrl.NewManager(cp.cfg, ctrl.Options{
		Scheme: cp.scheme, Metrics: metricsserver.Options{BindAddress: "0"}, HealthProbeBindAddress: "0",
		Cache:      credentials.OnlyOptedIn(cache.Options{}),
		Controller: config.Controller{SkipNameValidation: ptr.To(true)},
		NewClient: func(cfg *rest.Config, o client.Options) (client.Client, error) {
			c, err := client.NewWithWatch(cfg, o)
			if err != nil {
				return nil, err
			}
			return interceptor.NewClient(c, writes), nil
		},
	})
	if err != nil {
		return nil, err
	}
	runCtx, stop := context.WithCancel(ctx)
	m.stop = stop
	if err := controllers.SetupAll(runCtx, mgr, controllers.Options{Clock: cp.clock, DataRoots: []string{cp.dataDir},
		Shard: selector, SourceQueries: promexport.NewSourceQueries(m.queries)}); err != nil {
		stop()
		return nil, err
	}
	go func() { _ = mgr.Start(runCtx) }()
	return m, nil
}

// sample is what a manager has done so far.
type sample struct {
	queries    float64
	namespaces map[string]float64
}

func (m *manager) sample() sample {
	s := sample{namespaces: map[string]float64{}}
	families, _ := m.queries.Gather()
	for _, f := range families {
		if f.GetName() != "cxloop_source_queries_total" {
			continue
		}
		for _, mm := range f.GetMetric() {
			v := mm.GetCounter().GetValue()
			s.queries += v
			for _, l := range mm.GetLabel() {
				if l.GetName() == "namespace" {
					s.namespaces[l.GetValue()] += v
				}
			}
		}
	}
	return s
}

// phase is one measured step.
type phase struct {
	took      time.Duration
	queries   float64
	writes    int64
	reconcile reconcileTimes
}

// evaluateAll sets the clock to now, asks every Metric for an evaluation
// and waits until all have handled it.
func (m *manager) evaluateAll(ctx context.Context, cp *cluster, now time.Time, total int) (phase, error) {
	before, writes := m.sample(), m.writes.Load()
	cp.clock.Set(now)
	start := time.Now()
	times := newReconcileTimes()
	if err := cp.requestAll(ctx, now); err != nil {
		return phase{}, err
	}
	if err := cp.waitEvaluated(ctx, now, total); err != nil {
		return phase{}, err
	}
	after := m.sample()
	return phase{took: time.Since(start), queries: after.queries - before.queries, writes: m.writes.Load() - writes,
		reconcile: times.since()}, nil
}

// requestAll asks every Metric for an evaluation at now.
func (cp *cluster) requestAll(ctx context.Context, now time.Time) error {
	stamp := now.Format(time.RFC3339)
	var wg sync.WaitGroup
	errs := make(chan error, len(cp.metrics))
	sem := make(chan struct{}, 16)
	for _, key := range cp.metrics {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			m := &cxv1.Metric{ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, Name: key.Name}}
			p := fmt.Appendf(nil, `{"metadata":{"annotations":{%q:%q}}}`, cxv1.ReconcileRequestAnnotation, stamp)
			if err := cp.c.Patch(ctx, m, client.RawPatch("application/merge-patch+json", p)); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// waitEvaluated waits until every Metric handled the request at now.
func (cp *cluster) waitEvaluated(ctx context.Context, now time.Time, total int) error {
	stamp := now.Format(time.RFC3339)
	for deadline := time.Now().Add(2 * time.Hour); ; time.Sleep(500 * time.Millisecond) {
		var list cxv1.MetricList
		if err := cp.c.List(ctx, &list); err != nil {
			return err
		}
		done := 0
		for _, m := range list.Items {
			if m.Status.LastHandledReconcileAt == stamp {
				done++
			}
		}
		if done >= total {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("only %d of %d Metrics evaluated at %s", done, total, stamp)
		}
	}
}

func (cp *cluster) statusBytes(ctx context.Context, ns, name string) (int, error) {
	var m cxv1.Metric
	if err := cp.c.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &m); err != nil {
		return 0, err
	}
	b, err := json.Marshal(m.Status)
	return len(b), err
}

// detectDrop advances one interval at a time from the drop's first day
// and reports the evaluations until its task exists.
func (m *manager) detectDrop(ctx context.Context, cp *cluster, from time.Time, total int) error {
	for day := 1; day <= dropDays; day++ {
		if _, err := m.evaluateAll(ctx, cp, from.AddDate(0, 0, day), total); err != nil {
			return err
		}
		var tasks cxv1.ImprovementTaskList
		if err := cp.c.List(ctx, &tasks); err != nil {
			return err
		}
		for _, t := range tasks.Items {
			if t.Spec.Metric == dropMetric {
				fmt.Printf("drop of %s in %s: task %s after %d evaluations of the new data (%d tasks in all)\n",
					dropMetric, dropAccount, t.Name, day, len(tasks.Items))
				return nil
			}
		}
	}
	fmt.Printf("drop of %s in %s: no task after %d evaluations\n", dropMetric, dropAccount, dropDays)
	return nil
}

// labelShards puts the even namespaces in shard a; the others, and the
// wide Metric's, carry no shard label.
func (cp *cluster) labelShards(ctx context.Context, namespaces int) error {
	for i := 0; i < namespaces; i += 2 {
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("ns-%02d", i)}}
		p := fmt.Appendf(nil, `{"metadata":{"labels":{%q:"a"}}}`, shardLabel)
		if err := cp.c.Patch(ctx, ns, client.RawPatch("application/merge-patch+json", p)); err != nil {
			return err
		}
	}
	return nil
}

func (p phase) print(name string, metrics int, groupBy time.Duration) {
	q := p.reconcile.quantile
	fmt.Printf("%s: every Metric evaluated in %s (%.0f× one GROUP BY), %.1f source round trips per Metric, %d API writes (%.2f per Metric), reconcile p50 %s p99 %s\n",
		name, p.took.Round(time.Millisecond), float64(p.took)/float64(groupBy), p.queries/float64(metrics), p.writes,
		float64(p.writes)/float64(metrics), q(0.5).Round(time.Microsecond), q(0.99).Round(time.Microsecond))
}

func peakRSS() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return float64(ru.Maxrss) * 1024 // kilobytes on Linux
}
