package hostile

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cxloop/cxloop/internal/testutil"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	cxv1 "github.com/cxloop/cxloop/api/v1alpha1"
	"github.com/cxloop/cxloop/controllers"
	"github.com/cxloop/cxloop/internal/clock"
	"github.com/cxloop/cxloop/internal/credentials"
	"github.com/cxloop/cxloop/internal/promexport"
)

// The harness: one control plane, the real reconcilers, a log buffer, a
// Prometheus registry holding the operator's exported series, and the
// canary secrets every case hunts for.
var (
	k8sClient  client.Client
	testScheme = runtime.NewScheme()
	testClock  *clock.Manual
	logs       = &syncBuffer{}
	registry   = prometheus.NewRegistry()
	dataRoot   string
	// canaryMu guards canaries, which cases extend with their own values.
	canaryMu sync.Mutex
	canaries []string
)

// day is the manual clock's time: the sentinel's CSV export lies in the
// 30 days before it.
var day = time.Date(2026, 2, 12, 0, 0, 0, 0, time.UTC)

// loopback is the only network beyond public addresses the manager may
// reach: the test servers listen on it. 127.0.0.2 stays refused.
var loopback = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}

// syncBuffer is a bytes.Buffer safe for the manager's goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestMain(m *testing.M) {
	os.Exit(runSuite(m))
}

func runSuite(m *testing.M) int {
	utilruntime.Must(clientgoscheme.AddToScheme(testScheme))
	utilruntime.Must(cxv1.AddToScheme(testScheme))
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		fmt.Fprintln(os.Stderr, "KUBEBUILDER_ASSETS is not set: run `make test`, or `make envtest-assets` and point KUBEBUILDER_ASSETS at the directory it prints")
		return 1
	}
	// Debug level: a secret must not reach even the most verbose line.
	ctrl.SetLogger(zap.New(zap.WriteTo(logs), zap.UseDevMode(true)))
	var err error
	dataRoot, err = os.MkdirTemp("", "cxloop-hostile-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dataRoot)
	env := &envtest.Environment{
		CRDDirectoryPaths:     []string{filepath.Join("..", "..", "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
	}
	cfg, err := env.Start()
	if err != nil {
		fmt.Fprintf(os.Stderr, "start the control plane: %v\n", err)
		return 1
	}
	defer func() {
		if err := env.Stop(); err != nil {
			fmt.Fprintf(os.Stderr, "stop the control plane: %v\n", err)
		}
	}()
	k8sClient, err = client.New(cfg, client.Options{Scheme: testScheme})
	if err != nil {
		fmt.Fprintf(os.Stderr, "client: %v\n", err)
		return 1
	}
	testClock = clock.NewManual(day)
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:  testScheme,
		Metrics: metricsserver.Options{BindAddress: "0"},
		Cache:   credentials.OnlyOptedIn(cache.Options{}),
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "manager: %v\n", err)
		return 1
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := controllers.SetupAll(ctx, mgr, controllers.Options{Clock: testClock, DataRoots: []string{dataRoot},
		EgressNetworks: loopback, EgressHosts: []string{"127.0.0.1"}, Exporter: promexport.NewExporter(registry)}); err != nil {
		fmt.Fprintf(os.Stderr, "set up reconcilers: %v\n", err)
		return 1
	}
	go func() {
		if err := mgr.Start(ctx); err != nil {
			fmt.Fprintf(os.Stderr, "manager stopped: %v\n", err)
		}
	}()
	return m.Run()
}

// canary returns a fresh random secret value and remembers it, so every
// later leak check looks for it too.
func canary(t *testing.T) string {
	t.Helper()
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	v := "cnry" + hex.EncodeToString(b)
	remember(v)
	return v
}

// remember adds a derived secret (a basic-auth pair's encoding, say) to
// the values hunted for.
func remember(values ...string) {
	canaryMu.Lock()
	defer canaryMu.Unlock()
	for _, v := range values {
		canaries = append(canaries, v, base64.StdEncoding.EncodeToString([]byte(v)))
	}
}

// secret creates an opted-in Secret of the namespace.
func secret(t *testing.T, ns, name string, data map[string]string) {
	t.Helper()
	create(t, secretObject(ns, name, data))
}

// secretObject is an opted-in Secret holding data.
func secretObject(ns, name string, data map[string]string) *corev1.Secret {
	return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: map[string]string{cxv1.SecretLabel: "true"}},
		StringData: data}
}

func create(t *testing.T, objs ...client.Object) {
	t.Helper()
	for _, o := range objs {
		if err := k8sClient.Create(context.Background(), o); err != nil {
			t.Fatalf("create %T %s: %v", o, o.GetName(), err)
		}
	}
}

// newNamespace creates a namespace of its own for one case.
func newNamespace(t *testing.T) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "hostile-"}}
	create(t, ns)
	return ns.Name
}

// eventually polls cond until it holds or the timeout passes.
var eventually = testutil.Eventually

// noLeak fails when any canary, in any case and in base64, appears in the
// status of any cxloop object, in any Event, in the manager's log or in
// any series the exporter publishes.
func noLeak(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	places := map[string]string{"log": logs.String()}
	lists := map[string]client.ObjectList{"DataSource": &cxv1.DataSourceList{}, "Metric": &cxv1.MetricList{},
		"Team": &cxv1.TeamList{}, "ImprovementTask": &cxv1.ImprovementTaskList{}}
	for kind, list := range lists {
		if err := k8sClient.List(ctx, list); err != nil {
			t.Fatal(err)
		}
		items, err := meta.ExtractList(list)
		if err != nil {
			t.Fatal(err)
		}
		for _, item := range items {
			obj := item.(client.Object)
			raw, err := json.Marshal(statusOf(obj))
			if err != nil {
				t.Fatal(err)
			}
			places[fmt.Sprintf("status of %s %s/%s", kind, obj.GetNamespace(), obj.GetName())] = string(raw)
		}
	}
	var core corev1.EventList
	if err := k8sClient.List(ctx, &core); err != nil {
		t.Fatal(err)
	}
	for _, e := range core.Items {
		raw, _ := json.Marshal(e)
		places["event "+e.Namespace+"/"+e.Name] = string(raw)
	}
	var events eventsv1.EventList
	if err := k8sClient.List(ctx, &events); err != nil {
		t.Fatal(err)
	}
	for _, e := range events.Items {
		raw, _ := json.Marshal(e)
		places["event "+e.Namespace+"/"+e.Name] = string(raw)
	}
	families, err := registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var series strings.Builder
	for _, f := range families {
		series.WriteString(f.String())
	}
	places["exported series"] = series.String()

	for _, leak := range findLeaks(places) {
		t.Error(leak)
	}
}

// findLeaks names every place whose text holds a canary.
func findLeaks(places map[string]string) []string {
	canaryMu.Lock()
	hunted := append([]string(nil), canaries...)
	canaryMu.Unlock()
	var found []string
	for where, text := range places {
		lower := strings.ToLower(text)
		for _, c := range hunted {
			if i := strings.Index(lower, strings.ToLower(c)); i >= 0 {
				found = append(found, fmt.Sprintf("a secret value reached the %s: ...%s...", where, excerpt(text, i, len(c))))
			}
		}
	}
	return found
}

func excerpt(s string, i, n int) string {
	from, to := max(0, i-120), min(len(s), i+n+60)
	return s[from:to]
}

// statusOf is the status of a cxloop object.
func statusOf(obj client.Object) any {
	switch o := obj.(type) {
	case *cxv1.DataSource:
		return o.Status
	case *cxv1.Metric:
		return o.Status
	case *cxv1.Team:
		return o.Status
	case *cxv1.ImprovementTask:
		return o.Status
	}
	return nil
}

// TestLeakCheckFindsACanary proves the hunt can fail: a canary is found
// as written, upper-cased, with a trailing newline and in base64, and
// nothing else is.
func TestLeakCheckFindsACanary(t *testing.T) {
	v := canary(t)
	for _, written := range []string{v, strings.ToUpper(v), v + "\n", base64.StdEncoding.EncodeToString([]byte(v))} {
		if got := findLeaks(map[string]string{"probe": "message: " + written + " end"}); len(got) != 1 {
			t.Errorf("%q: found %d leaks, want 1", written, len(got))
		}
	}
	if got := findLeaks(map[string]string{"probe": "cnry" + strings.Repeat("0", 24)}); len(got) != 0 {
		t.Errorf("an innocent value is reported: %v", got)
	}
}
