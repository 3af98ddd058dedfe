package upgrade

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/cxloop/cxloop/internal/testutil"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cxloop/cxloop/internal/loop"
)

// fixtureKinds are the testdata files, in the order an install applies
// them: what Metrics and tasks refer to first.
var fixtureKinds = []string{"DataSource", "Team", "Metric", "ImprovementTask"}

// readYAML decodes every document of a multi-document YAML file.
func readYAML(t *testing.T, path string) []*unstructured.Unstructured {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	var out []*unstructured.Unstructured
	for {
		u := &unstructured.Unstructured{}
		if err := dec.Decode(&u.Object); errors.Is(err, io.EOF) {
			return out
		} else if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if len(u.Object) > 0 {
			out = append(out, u)
		}
	}
}

// fixtures reads the objects the old manager left, by kind.
func fixtures(t *testing.T) map[string][]*unstructured.Unstructured {
	t.Helper()
	out := map[string][]*unstructured.Unstructured{}
	for _, kind := range fixtureKinds {
		out[kind] = readYAML(t, filepath.Join("testdata", fileOf(kind)))
	}
	return out
}

func fileOf(kind string) string {
	switch kind {
	case "DataSource":
		return "datasources.yaml"
	case "Team":
		return "teams.yaml"
	case "Metric":
		return "metrics.yaml"
	}
	return "improvementtasks.yaml"
}

// restore creates an object as it was persisted: its spec and metadata,
// then its status through the status subresource.
func restore(ctx context.Context, c client.Client, obj *unstructured.Unstructured) error {
	status, hasStatus := obj.Object["status"]
	created := obj.DeepCopy()
	delete(created.Object, "status")
	if err := c.Create(ctx, created); err != nil {
		return fmt.Errorf("create %s %s: %w", obj.GetKind(), obj.GetName(), err)
	}
	obj.SetUID(created.GetUID())
	if !hasStatus {
		return nil
	}
	created.Object["status"] = status
	if err := c.Status().Update(ctx, created); err != nil {
		return fmt.Errorf("status of %s %s: %w", obj.GetKind(), obj.GetName(), err)
	}
	return nil
}

// renameAfterMetricUID names a task as its Metric's UID in this cluster
// names it. A task's name hashes its Metric's UID, which an upgrade in
// place keeps but a restore into a new API server cannot: the old task
// gets the name the old manager would have given it here.
func renameAfterMetricUID(t *testing.T, task *unstructured.Unstructured, uids map[string]string) {
	t.Helper()
	metric, _, _ := unstructured.NestedString(task.Object, "spec", "metric")
	segment, _, _ := unstructured.NestedString(task.Object, "spec", "segment")
	start, _, _ := unstructured.NestedString(task.Object, "spec", "episodeStart")
	at, err := time.Parse(time.RFC3339, start)
	if err != nil || uids[metric] == "" {
		t.Fatalf("task %s: metric %q (uid %q), episode start %q: %v", task.GetName(), metric, uids[metric], start, err)
	}
	task.SetName(loop.TaskName(metric, uids[metric], segment, at))
}

// applyCRDs applies every CRD in dir server-side, as `kubectl apply
// --server-side` of a release's CRDs does, and waits until each serves.
func applyCRDs(ctx context.Context, t *testing.T, c client.Client, dir string) {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("CRDs in %s: %v", dir, err)
	}
	for _, f := range files {
		for _, u := range readYAML(t, f) {
			u.SetManagedFields(nil)
			if err := c.Patch(ctx, u, client.Apply, client.FieldOwner("cxloop-upgrade"), client.ForceOwnership); err != nil {
				t.Fatalf("apply %s: %v", f, err)
			}
			name := u.GetName()
			waitFor(t, 20*time.Second, "CRD "+name+" established", func() (bool, string) {
				var crd apiextensionsv1.CustomResourceDefinition
				if err := c.Get(ctx, client.ObjectKey{Name: name}, &crd); err != nil {
					return false, err.Error()
				}
				for _, cond := range crd.Status.Conditions {
					if cond.Type == apiextensionsv1.Established && cond.Status == apiextensionsv1.ConditionTrue {
						return true, ""
					}
				}
				return false, fmt.Sprint(crd.Status.Conditions)
			})
		}
	}
}

// decodeStrictly decodes an object as the API server returned it into a
// Go type, refusing any field the type does not know: a field the current
// types dropped would be lost on the manager's next status write.
func decodeStrictly(u *unstructured.Unstructured, into any) error {
	data, err := json.Marshal(u.Object)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	return dec.Decode(into)
}

// waitFor polls cond until it holds or the timeout passes.
var waitFor = testutil.Eventually
