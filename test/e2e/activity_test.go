package e2e

import (
	"context"
	"sync"
	"testing"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
	"sigs.k8s.io/controller-runtime/pkg/config"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	cxv1 "github.com/cxloop/cxloop/api/v1alpha1"
	"github.com/cxloop/cxloop/controllers"
	"github.com/cxloop/cxloop/internal/clock"
	"github.com/cxloop/cxloop/internal/credentials"
)

// activity records when the manager last used the API and how often it
// read each task.
type activity struct {
	mu        sync.Mutex
	last      time.Time
	taskReads map[string]int
}

func (a *activity) touch(obj client.Object, name string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.last = time.Now()
	if _, ok := obj.(*cxv1.ImprovementTask); ok {
		a.taskReads[name]++
	}
}

func (a *activity) reads(name string) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.taskReads[name]
}

func (a *activity) idle(d time.Duration) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return time.Since(a.last) > d
}

// tracked passes the manager's calls through, recording each: reads,
// creations and patches are all the reconcilers of this run make.
func (a *activity) tracked(inner client.WithWatch) client.Client {
	done := func() { a.touch(nil, "") }
	return interceptor.NewClient(inner, interceptor.Funcs{
		Get: func(ctx context.Context, c client.WithWatch, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
			a.touch(obj, key.Name)
			return c.Get(ctx, key, obj, opts...)
		},
		List: func(ctx context.Context, c client.WithWatch, list client.ObjectList, opts ...client.ListOption) error {
			defer done()
			return c.List(ctx, list, opts...)
		},
		Create: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.CreateOption) error {
			defer done()
			return c.Create(ctx, obj, opts...)
		},
		Patch: func(ctx context.Context, c client.WithWatch, obj client.Object, patch client.Patch, opts ...client.PatchOption) error {
			defer done()
			return c.Patch(ctx, obj, patch, opts...)
		},
		SubResourcePatch: func(ctx context.Context, c client.Client, sub string, obj client.Object, patch client.Patch, opts ...client.SubResourcePatchOption) error {
			defer done()
			return c.SubResource(sub).Patch(ctx, obj, patch, opts...)
		},
	})
}

// startTrackedManager runs one manager for the namespace until the test
// ends.
func startTrackedManager(t *testing.T, ns string, clk *clock.Manual) *activity {
	t.Helper()
	act := &activity{taskReads: map[string]int{}}
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                  testScheme,
		Metrics:                 metricsserver.Options{BindAddress: "0"},
		Cache:                   credentials.OnlyOptedIn(cache.Options{DefaultNamespaces: map[string]cache.Config{ns: {}}}),
		Controller:              config.Controller{SkipNameValidation: ptr.To(true)},
		GracefulShutdownTimeout: ptr.To(10 * time.Second),
		NewClient: func(c *rest.Config, o client.Options) (client.Client, error) {
			inner, err := client.NewWithWatch(c, o)
			if err != nil {
				return nil, err
			}
			return act.tracked(inner), nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := controllers.SetupAll(ctx, mgr, controllers.Options{Clock: clk, DataRoots: []string{dataRoot}}); err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("manager: %v", err)
		}
	})
	if !mgr.GetCache().WaitForCacheSync(ctx) {
		t.Fatal("the manager's cache never synced")
	}
	return act
}
