package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/yaml"

	cxv1 "github.com/cxloop/cxloop/api/v1alpha1"
	"github.com/cxloop/cxloop/config/samples"
	"github.com/cxloop/cxloop/controllers"
	"github.com/cxloop/cxloop/internal/clock"
	"github.com/cxloop/cxloop/internal/demodata"
)

// TestGenerateUpgradeFixtures runs this release's manager over its samples
// on the demo warehouse up to day 12 and writes what the API server then
// holds, and the warehouse, into FIXTURES_OUT: the objects test/upgrade
// carries on. It belongs in test/e2e of that release (3b6592a).
func TestGenerateUpgradeFixtures(t *testing.T) {
	out := os.Getenv("FIXTURES_OUT")
	if out == "" {
		t.Skip("FIXTURES_OUT not set")
	}
	ctx := context.Background()
	ns := "cx"
	if err := k8sClient.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
		t.Fatal(err)
	}
	// The samples as shipped.
	err := fs.WalkDir(samples.Files, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || path == "kustomization.yaml" {
			return err
		}
		data, _ := samples.Files.ReadFile(path)
		dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
		for {
			var u unstructured.Unstructured
			if err := dec.Decode(&u.Object); err == io.EOF {
				break
			} else if err != nil {
				return fmt.Errorf("%s: %w", path, err)
			}
			if len(u.Object) == 0 {
				continue
			}
			u.SetNamespace(ns)
			if err := k8sClient.Create(ctx, &u); err != nil {
				return fmt.Errorf("%s %s: %w", path, u.GetName(), err)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	clk := clock.NewManual(demodata.DefaultT0)
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{Scheme: testScheme, Metrics: metricsserver.Options{BindAddress: "0"},
		Cache: cache.Options{DefaultNamespaces: map[string]cache.Config{ns: {}}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := controllers.SetupAll(ctx, mgr, controllers.Options{Clock: clk, DataRoots: []string{dataRoot}}); err != nil {
		t.Fatal(err)
	}
	mctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); _ = mgr.Start(mctx) }()
	defer func() { cancel(); <-done }()

	watched := []string{csatName, cesName}
	for d := 0; d <= csatFixedDay; d++ {
		midnight := demodata.DefaultT0.Add(time.Duration(d) * demodata.Day)
		clk.Set(midnight)
		stamp := midnight.Format(time.RFC3339)
		var ms cxv1.MetricList
		if err := k8sClient.List(ctx, &ms, client.InNamespace(ns)); err != nil {
			t.Fatal(err)
		}
		for i := range ms.Items {
			m := &ms.Items[i]
			patch := client.MergeFrom(m.DeepCopy())
			if m.Annotations == nil {
				m.Annotations = map[string]string{}
			}
			m.Annotations[cxv1.ReconcileRequestAnnotation] = stamp
			if err := k8sClient.Patch(ctx, m, patch); err != nil {
				t.Fatal(err)
			}
		}
		eventually(t, 30*time.Second, "evaluated "+stamp, func() (bool, string) {
			for _, name := range watched {
				var m cxv1.Metric
				if err := k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &m); err != nil {
					return false, err.Error()
				}
				if m.Status.LastHandledReconcileAt != stamp {
					return false, name + " handled " + m.Status.LastHandledReconcileAt
				}
			}
			return true, ""
		})
		time.Sleep(300 * time.Millisecond)
		clk.Set(midnight.Add(12 * time.Hour))
		var tasks cxv1.ImprovementTaskList
		if err := k8sClient.List(ctx, &tasks, client.InNamespace(ns)); err != nil {
			t.Fatal(err)
		}
		for i := range tasks.Items {
			task := &tasks.Items[i]
			t.Logf("day %d: task %s metric %s segment %q phase %s state %s", d, task.Name, task.Spec.Metric, task.Spec.Segment, task.Status.Phase, task.Spec.State)
			if task.Spec.Metric != csatName {
				continue
			}
			patch := client.MergeFrom(task.DeepCopy())
			switch {
			case task.Status.Phase == cxv1.PhaseOpen && task.Spec.State != cxv1.TaskInProgress:
				task.Spec.State = cxv1.TaskInProgress
			case task.Status.Phase == cxv1.PhaseInProgress && d >= csatFixedDay:
				task.Spec.State = cxv1.TaskResolved
				task.Spec.Resolution = &cxv1.Resolution{Attempt: task.Status.Attempt, Note: "support-operations: the routing fix is in"}
			default:
				continue
			}
			if err := k8sClient.Patch(ctx, task, patch); err != nil {
				t.Fatal(err)
			}
		}
		time.Sleep(300 * time.Millisecond)
	}
	eventually(t, 30*time.Second, "csat task verifying", func() (bool, string) {
		var tasks cxv1.ImprovementTaskList
		_ = k8sClient.List(ctx, &tasks, client.InNamespace(ns))
		for _, task := range tasks.Items {
			if task.Spec.Metric == csatName && task.Status.Phase == cxv1.PhaseVerifying {
				return true, ""
			}
		}
		return false, fmt.Sprint(len(tasks.Items), " tasks")
	})
	time.Sleep(2 * time.Second)
	cancel()
	<-done
	for _, kind := range []string{"DataSource", "Team", "Metric", "ImprovementTask"} {
		var list unstructured.UnstructuredList
		list.SetAPIVersion("cxloop.dev/v1alpha1")
		list.SetKind(kind + "List")
		if err := k8sClient.List(ctx, &list, client.InNamespace(ns)); err != nil {
			t.Fatal(err)
		}
		sort.Slice(list.Items, func(i, j int) bool { return list.Items[i].GetName() < list.Items[j].GetName() })
		var buf bytes.Buffer
		fmt.Fprintf(&buf, "# %s objects as the API server returned them after the manager at 3b6592a ran; see README.md.\n", kind)
		for _, u := range list.Items {
			md := u.Object["metadata"].(map[string]any)
			for _, f := range []string{"uid", "resourceVersion", "managedFields", "creationTimestamp", "generation"} {
				delete(md, f)
			}
			data, err := yaml.Marshal(u.Object)
			if err != nil {
				t.Fatal(err)
			}
			buf.WriteString("---\n")
			buf.Write(data)
		}
		if err := os.WriteFile(filepath.Join(out, strings.ToLower(kind)+"s.yaml"), buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	data, err := os.ReadFile(filepath.Join(dataRoot, "warehouse.db"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(out, "warehouse.db"), data, 0o644); err != nil {
		t.Fatal(err)
	}
}
