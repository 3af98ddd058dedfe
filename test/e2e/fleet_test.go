package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	cxv1 "github.com/cxloop/cxloop/api/v1alpha1"
	"github.com/cxloop/cxloop/controllers"
	"github.com/cxloop/cxloop/internal/clock"
	"github.com/cxloop/cxloop/internal/credentials"
)

// errKilled is what a write returns once its manager has been killed: the
// process is gone, so nothing it still tries reaches the API server.
var errKilled = errors.New("manager killed")

// fleet runs one manager at a time for one namespace. With kills on, a
// manager is killed right after one of its writes; a brand-new manager
// (new cache, new reconcilers, nothing kept in memory) then starts against
// the same API server and tracker and carries on.
type fleet struct {
	ns    string
	clock *clock.Manual
	// every lists how many writes each successive manager makes before it
	// is killed, cycled; none means managers are never killed.
	every []int

	mu           sync.Mutex
	incarnations int
	ready        time.Time // when the running manager's caches synced; zero while none is
	lastWrite    time.Time
	seen         map[string]int // write kind -> writes
	killedAfter  map[string]int // write kind -> kills right after one
	kills        []string
	recent       []string // the latest writes, kind and time, for messages
	running      *incarnation
	failures     []string // managers that stopped without being killed

	cancel context.CancelFunc
	done   chan struct{}
}

// incarnation is one manager process.
type incarnation struct {
	fleet     *fleet
	killAfter int // 0: never
	cancel    context.CancelFunc

	mu     sync.Mutex // serialises writes, so nothing slips between a write and the kill
	writes int
	killed bool
}

func newFleet(ns string, clk *clock.Manual, every []int) *fleet {
	return &fleet{ns: ns, clock: clk, every: every, seen: map[string]int{}, killedAfter: map[string]int{}}
}

// start runs managers until stop.
func (f *fleet) start(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	f.cancel, f.done = cancel, make(chan struct{})
	go func() {
		defer close(f.done)
		for ctx.Err() == nil {
			// A manager that fails on its own is an error, and is
			// replaced as its Deployment would replace it.
			if err := f.runOne(ctx); err != nil {
				t.Errorf("manager: %v", err)
				f.mu.Lock()
				f.failures = append(f.failures, err.Error())
				f.mu.Unlock()
			}
		}
	}()
}

// stop stops the running manager and waits until it is gone.
func (f *fleet) stop() {
	f.cancel()
	<-f.done
}

// restart kills the running manager between writes, as a node going away
// would, and lets a new one start.
func (f *fleet) restart() {
	f.mu.Lock()
	inc := f.running
	f.mu.Unlock()
	if inc != nil {
		inc.mu.Lock()
		inc.killed = true
		inc.mu.Unlock()
		inc.cancel()
	}
}

func (f *fleet) runOne(parent context.Context) error {
	f.mu.Lock()
	inc := &incarnation{fleet: f}
	if len(f.every) > 0 {
		inc.killAfter = f.every[f.incarnations%len(f.every)]
	}
	f.incarnations++
	f.mu.Unlock()
	ctx, cancel := context.WithCancel(parent)
	defer cancel()
	inc.cancel = cancel
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                  testScheme,
		Metrics:                 metricsserver.Options{BindAddress: "0"},
		Cache:                   credentials.OnlyOptedIn(cache.Options{DefaultNamespaces: map[string]cache.Config{f.ns: {}}}),
		Controller:              config.Controller{SkipNameValidation: ptr.To(true)},
		GracefulShutdownTimeout: ptr.To(10 * time.Second),
		NewClient: func(c *rest.Config, o client.Options) (client.Client, error) {
			inner, err := client.New(c, o)
			if err != nil {
				return nil, err
			}
			return &killingClient{Client: inner, inc: inc}, nil
		},
	})
	if err != nil {
		return fmt.Errorf("new manager: %w", err)
	}
	// The fake GitHub listens on 127.0.0.1: the manager may reach that
	// address and call that host, as a platform team allows its own.
	if err := controllers.SetupAll(ctx, mgr, controllers.Options{Clock: f.clock, DataRoots: []string{dataRoot},
		EgressNetworks: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}, EgressHosts: []string{"127.0.0.1"}}); err != nil {
		return fmt.Errorf("set up reconcilers: %w", err)
	}
	go func() {
		if mgr.GetCache().WaitForCacheSync(ctx) {
			f.mu.Lock()
			f.running, f.ready = inc, time.Now()
			f.mu.Unlock()
		}
	}()
	err = mgr.Start(ctx)
	f.mu.Lock()
	f.running, f.ready = nil, time.Time{}
	f.mu.Unlock()
	if err != nil && parent.Err() == nil && ctx.Err() == nil {
		return fmt.Errorf("manager stopped: %w", err)
	}
	return nil
}

// quiet reports whether a manager is up and has written nothing for d.
func (f *fleet) quiet(d time.Duration) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return !f.ready.IsZero() && time.Since(f.ready) > d && time.Since(f.lastWrite) > d
}

// write performs one write of the manager, records its kind and kills the
// manager after it when its turn has come, or when no kill has yet
// followed a write of this kind.
func (inc *incarnation) write(kind string, do func() error) error {
	inc.mu.Lock()
	defer inc.mu.Unlock()
	if inc.killed {
		return errKilled
	}
	if err := do(); err != nil {
		return err
	}
	f := inc.fleet
	f.mu.Lock()
	defer f.mu.Unlock()
	f.seen[kind]++
	f.lastWrite = time.Now()
	f.recent = append(f.recent, f.lastWrite.Format("15:04:05.000")+" "+kind)
	if len(f.recent) > 12 {
		f.recent = f.recent[len(f.recent)-12:]
	}
	inc.writes++
	if len(f.every) == 0 {
		return nil
	}
	if inc.writes >= inc.killAfter || f.killedAfter[kind] == 0 {
		inc.killed = true
		f.killedAfter[kind]++
		f.kills = append(f.kills, kind)
		inc.cancel()
	}
	return nil
}

// killingClient is a manager's client: reads pass through, and each write
// goes through its incarnation, which may kill the manager right after it.
type killingClient struct {
	client.Client
	inc *incarnation
}

func (c *killingClient) Create(ctx context.Context, obj client.Object, opts ...client.CreateOption) error {
	return c.inc.write(kindOf("create", "", obj, nil), func() error { return c.Client.Create(ctx, obj, opts...) })
}

func (c *killingClient) Update(ctx context.Context, obj client.Object, opts ...client.UpdateOption) error {
	return c.inc.write(kindOf("update", "", obj, nil), func() error { return c.Client.Update(ctx, obj, opts...) })
}

func (c *killingClient) Patch(ctx context.Context, obj client.Object, patch client.Patch, opts ...client.PatchOption) error {
	return c.inc.write(kindOf("patch", "", obj, patch), func() error { return c.Client.Patch(ctx, obj, patch, opts...) })
}

func (c *killingClient) Apply(ctx context.Context, obj runtime.ApplyConfiguration, opts ...client.ApplyOption) error {
	return c.inc.write(fmt.Sprintf("apply %T", obj), func() error { return c.Client.Apply(ctx, obj, opts...) })
}

func (c *killingClient) Delete(ctx context.Context, obj client.Object, opts ...client.DeleteOption) error {
	return c.inc.write(kindOf("delete", "", obj, nil), func() error { return c.Client.Delete(ctx, obj, opts...) })
}

func (c *killingClient) DeleteAllOf(ctx context.Context, obj client.Object, opts ...client.DeleteAllOfOption) error {
	return c.inc.write(kindOf("delete all of", "", obj, nil), func() error { return c.Client.DeleteAllOf(ctx, obj, opts...) })
}

func (c *killingClient) Status() client.SubResourceWriter { return c.SubResource("status") }

func (c *killingClient) SubResource(name string) client.SubResourceClient {
	return &killingSubResource{SubResourceClient: c.Client.SubResource(name), name: name, inc: c.inc}
}

type killingSubResource struct {
	client.SubResourceClient
	name string
	inc  *incarnation
}

func (s *killingSubResource) Create(ctx context.Context, obj, sub client.Object, opts ...client.SubResourceCreateOption) error {
	return s.inc.write(kindOf("create", s.name, obj, nil), func() error { return s.SubResourceClient.Create(ctx, obj, sub, opts...) })
}

func (s *killingSubResource) Update(ctx context.Context, obj client.Object, opts ...client.SubResourceUpdateOption) error {
	return s.inc.write(kindOf("update", s.name, obj, nil), func() error { return s.SubResourceClient.Update(ctx, obj, opts...) })
}

func (s *killingSubResource) Patch(ctx context.Context, obj client.Object, patch client.Patch, opts ...client.SubResourcePatchOption) error {
	return s.inc.write(kindOf("patch", s.name, obj, patch), func() error { return s.SubResourceClient.Patch(ctx, obj, patch, opts...) })
}

func (s *killingSubResource) Apply(ctx context.Context, obj runtime.ApplyConfiguration, opts ...client.SubResourceApplyOption) error {
	return s.inc.write(fmt.Sprintf("apply %s %T", s.name, obj), func() error { return s.SubResourceClient.Apply(ctx, obj, opts...) })
}

// kindOf names what a write does in the loop, finely enough that a kill
// after each kind covers every boundary of the scenario: a Metric's
// status recording an episode whose task does not exist yet, a task's
// transition to each phase, a delivery claimed, a delivery's outcome.
func kindOf(verb, sub string, obj client.Object, patch client.Patch) string {
	switch o := obj.(type) {
	case *cxv1.Metric:
		if sub != "status" {
			return "metric " + verb
		}
		if episodeWithoutTask(o) {
			return "metric status: an episode recorded before its task exists"
		}
		return "metric status"
	case *cxv1.ImprovementTask:
		if sub != "status" {
			return "task " + verb
		}
		var p struct {
			Status map[string]json.RawMessage `json:"status"`
		}
		if patch != nil {
			if data, err := patch.Data(o); err == nil {
				_ = json.Unmarshal(data, &p)
			}
		}
		if _, ok := p.Status["phase"]; ok || patch == nil {
			k := "task status: now " + string(o.Status.Phase)
			if _, ok := p.Status["escalatedTo"]; ok {
				k += " and escalated"
			}
			return k
		}
		if n := len(o.Status.Deliveries); n > 0 && o.Status.Deliveries[n-1].Message == "sending" {
			return "task status: delivery claimed"
		}
		if _, ok := p.Status["deliveries"]; ok {
			return "task status: delivery outcome"
		}
		keys := make([]string, 0, len(p.Status))
		for k := range p.Status {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		return "task status: " + strings.Join(keys, ",")
	}
	return fmt.Sprintf("%s %s %T", verb, sub, obj)
}

// episodeWithoutTask reports whether the Metric's status about to be
// written holds an open episode that has no task yet, read straight from
// the API server.
func episodeWithoutTask(m *cxv1.Metric) bool {
	if m.Status.Detector == nil {
		return false
	}
	var tasks cxv1.ImprovementTaskList
	if err := k8sClient.List(context.Background(), &tasks, client.InNamespace(m.Namespace)); err != nil {
		return false
	}
	for _, s := range m.Status.Detector.Segments {
		if s.EpisodeStart == nil {
			continue
		}
		found := false
		for _, t := range tasks.Items {
			found = found || (t.Spec.Metric == m.Name && t.Spec.Segment == s.Segment && t.Spec.EpisodeStart.Time.Equal(s.EpisodeStart.Time.Truncate(time.Second)))
		}
		if !found {
			return true
		}
	}
	return false
}
