package demo

import (
	"context"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"time"

	"go.uber.org/zap/zapcore"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	cxv1 "github.com/cxloop/cxloop/api/v1alpha1"
	"github.com/cxloop/cxloop/controllers"
	"github.com/cxloop/cxloop/internal/clock"
	"github.com/cxloop/cxloop/internal/credentials"
	"github.com/cxloop/cxloop/internal/demodata"
)

// Namespace is where the demo's objects live.
const Namespace = "cx-demo"

// evaluationHour is when in each day the demo evaluates: past midnight by
// more than any sample's settle delay, so the day before is complete.
const evaluationHour = 2 * time.Hour

// Options configure a demo run.
type Options struct {
	// Assets is the directory holding kube-apiserver and etcd.
	Assets string
	// StateDir receives the warehouse and the kubeconfig.
	StateDir string
	// DayEvery is the least wall time one day of the story takes: it paces
	// the story for a reader and changes nothing in it.
	DayEvery time.Duration
	// Days is how long after T0 the story runs.
	Days int
	// Scale multiplies the warehouse's volumes (1 is the default story).
	Scale float64
	// Keep leaves the control plane running after the summary until the
	// context ends, so the user can explore with kubectl.
	Keep bool
	// Out receives the story as it happens.
	Out io.Writer
}

func (o *Options) defaults() {
	if o.StateDir == "" {
		o.StateDir = ".demo"
	}
	if o.DayEvery == 0 {
		o.DayEvery = 2 * time.Second
	}
	if o.Days == 0 {
		o.Days = 60
	}
	if o.Scale == 0 {
		o.Scale = 1
	}
	if o.Out == nil {
		o.Out = os.Stdout
	}
}

// Result is what the demo ended with.
type Result struct {
	Metrics []cxv1.Metric
	Tasks   []cxv1.ImprovementTask
	// Scorecards are the account health scores as they stand.
	Scorecards []cxv1.Scorecard
	// Kubeconfig is the path of the kubeconfig left for exploring.
	Kubeconfig string
}

// Run plays the demo and returns its final state.
func Run(ctx context.Context, opts Options) (*Result, error) {
	opts.defaults()
	say := func(format string, args ...any) { fmt.Fprintf(opts.Out, format+"\n", args...) }
	state, err := filepath.Abs(opts.StateDir)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(state, 0o755); err != nil {
		return nil, err
	}

	script := demodata.DefaultScript()
	script.Scale = opts.Scale
	say("==> generating the SQLite warehouse (%s of history, %s of story)", script.History, script.Future)
	whPath := filepath.Join(state, "warehouse.db")
	_ = os.Remove(whPath)
	sum, err := demodata.Generate(whPath, script)
	if err != nil {
		return nil, fmt.Errorf("generate the warehouse: %w", err)
	}
	say("    %d accounts, %d survey responses, %d tickets, %d account periods in %s (%.0f MB)",
		sum.Accounts, sum.SurveyResponses, sum.Tickets, sum.AccountPeriods, sum.Elapsed.Round(time.Millisecond), float64(sum.Bytes)/1e6)

	say("==> starting an embedded control plane (kube-apiserver and etcd from %s)", opts.Assets)
	env, cfg, err := StartControlPlane(opts.Assets)
	if err != nil {
		return nil, err
	}
	defer func() { _ = env.Stop() }()

	scheme := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	utilruntime.Must(cxv1.AddToScheme(scheme))
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return nil, err
	}
	if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: Namespace}}); err != nil {
		return nil, err
	}

	// The manager logs only errors here; the story below narrates the loop.
	ctrl.SetLogger(zap.New(zap.Level(zapcore.ErrorLevel), zap.WriteTo(io.Discard)))
	manual := clock.NewManual(script.T0)
	say("==> starting the manager on the demo's clock: one day of data every %s, from %s", opts.DayEvery, script.T0.Format("2006-01-02"))
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                 scheme,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		Cache:                  credentials.OnlyOptedIn(cache.Options{}),
		// One process may play the demo more than once (its tests do); each
		// run's manager registers the same controllers.
		Controller: config.Controller{SkipNameValidation: ptr.To(true)},
	})
	if err != nil {
		return nil, err
	}
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	// The owners' tools, on a local port the manager may reach.
	rcv, err := startReceiver(demoSigningKey)
	if err != nil {
		return nil, err
	}
	defer rcv.close()
	if err := controllers.SetupAll(runCtx, mgr, controllers.Options{Clock: manual, DataRoots: []string{state},
		EgressNetworks: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, EgressHosts: []string{rcv.ln.Addr().String()},
		SlackHosts: []string{rcv.ln.Addr().String()}}); err != nil {
		return nil, err
	}
	go func() { _ = mgr.Start(runCtx) }()

	objs, err := sampleObjects()
	if err != nil {
		return nil, err
	}
	if err := connectOwners(ctx, c, objs, rcv); err != nil {
		return nil, err
	}
	say("==> applying %d sample manifests from config/samples (teams, the warehouse, its metrics); the teams' channels deliver to a local receiver at %s", len(objs), rcv.url())
	if err := apply(ctx, c, Namespace, objs); err != nil {
		return nil, err
	}

	// A day at a time: the clock moves to the day's evaluation time, the
	// Metrics evaluate in order, then the owners act (see step.go).
	st := newStory(c, sum, say)
	for day := 0; day <= opts.Days && !st.finished(); day++ {
		began := time.Now()
		now := script.T0.AddDate(0, 0, day).Add(evaluationHour)
		manual.Set(now)
		if err := evaluateAll(ctx, c, now); err != nil {
			return nil, err
		}
		if err := st.step(ctx, now); err != nil {
			return nil, err
		}
		if err := settle(ctx); err != nil {
			return nil, err
		}
		for _, line := range rcv.drain() {
			say("%s%s", now.Format("Jan 02"), line)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(opts.DayEvery - time.Since(began)):
		}
	}

	res, err := st.summary(ctx, opts.Out)
	if err != nil {
		return nil, err
	}
	res.Kubeconfig = filepath.Join(state, "kubeconfig")
	if err := writeKubeconfig(cfg, res.Kubeconfig, Namespace); err != nil {
		return nil, err
	}
	if opts.Keep {
		say("\nThe control plane keeps running. Explore with:\n  kubectl --kubeconfig %s get cxloop\n  kubectl cx --kubeconfig %s tasks -A\nPress Ctrl-C to stop.", res.Kubeconfig, res.Kubeconfig)
		<-ctx.Done()
	}
	return res, nil
}
