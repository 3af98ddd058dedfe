package chart

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

const (
	root      = "../.."
	chartDir  = root + "/charts/cxloop"
	namespace = "cxloop-system"
)

// helmBinary is the Helm CLI `make helm` built; tests fail without it, as
// envtest tests do without KUBEBUILDER_ASSETS.
func helmBinary(t *testing.T) string {
	t.Helper()
	h := os.Getenv("HELM")
	if h == "" {
		t.Fatal("HELM is not set: run `make test` (or `make helm` and HELM=$HOME/.cache/cxloop/helm/<version>/helm)")
	}
	return h
}

// runHelm runs the Helm CLI with its state in a temporary directory.
func runHelm(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	cmd := exec.Command(helmBinary(t), args...)
	home := t.TempDir()
	cmd.Env = append(os.Environ(), "HELM_CACHE_HOME="+filepath.Join(home, "cache"),
		"HELM_CONFIG_HOME="+filepath.Join(home, "config"), "HELM_DATA_HOME="+filepath.Join(home, "data"))
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err = cmd.Run()
	return out.String(), errOut.String(), err
}

// render is `helm template` of the chart in cxloop-system, CRDs included.
func render(t *testing.T, args ...string) []*unstructured.Unstructured {
	t.Helper()
	out, stderr, err := runHelm(t, append([]string{"template", "cxloop", chartDir, "-n", namespace, "--include-crds"}, args...)...)
	if err != nil {
		t.Fatalf("helm template %v: %v\n%s", args, err, stderr)
	}
	return decode(t, []byte(out))
}

// kustomize renders directories under config/ as `kubectl kustomize`.
func kustomize(t *testing.T, dirs ...string) []*unstructured.Unstructured {
	t.Helper()
	var objs []*unstructured.Unstructured
	for _, dir := range dirs {
		m, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), filepath.Join(root, "config", dir))
		if err != nil {
			t.Fatalf("kustomize build config/%s: %v", dir, err)
		}
		raw, err := m.AsYaml()
		if err != nil {
			t.Fatal(err)
		}
		objs = append(objs, decode(t, raw)...)
	}
	return objs
}

func decode(t *testing.T, raw []byte) []*unstructured.Unstructured {
	t.Helper()
	var objs []*unstructured.Unstructured
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(raw), 4096)
	for {
		u := &unstructured.Unstructured{}
		if err := dec.Decode(&u.Object); errors.Is(err, io.EOF) {
			return objs
		} else if err != nil {
			t.Fatal(err)
		}
		if len(u.Object) > 0 {
			objs = append(objs, u)
		}
	}
}

// ofKind returns the objects of a kind, decoded into T, by name (and
// namespace, as ns/name, for namespaced ones).
func ofKind[T any](t *testing.T, objs []*unstructured.Unstructured, kind string) map[string]T {
	t.Helper()
	out := map[string]T{}
	for _, u := range objs {
		if u.GetKind() != kind {
			continue
		}
		var obj T
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &obj); err != nil {
			t.Fatal(err)
		}
		key := u.GetName()
		if u.GetNamespace() != "" {
			key = u.GetNamespace() + "/" + key
		}
		out[key] = obj
	}
	return out
}

// cluster is an embedded control plane with the Prometheus Operator's
// ServiceMonitor and PrometheusRule CRDs, generated from its pinned API
// (`make prometheus-operator-crds`, passed as PROMETHEUS_OPERATOR_CRDS).
type cluster struct {
	cfg     *rest.Config
	kube    kubernetes.Interface
	dynamic dynamic.Interface
	mapper  meta.RESTMapper
	env     *envtest.Environment
}

func startCluster(t *testing.T, crdDirs ...string) *cluster {
	t.Helper()
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		t.Fatal("KUBEBUILDER_ASSETS is not set: run `make test`")
	}
	promCRDs := os.Getenv("PROMETHEUS_OPERATOR_CRDS")
	if promCRDs == "" {
		t.Fatal("PROMETHEUS_OPERATOR_CRDS is not set: run `make test` (or `make prometheus-operator-crds`)")
	}
	env := &envtest.Environment{CRDDirectoryPaths: append([]string{promCRDs}, crdDirs...), ErrorIfCRDPathMissing: true}
	cfg, err := env.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Stop() })
	c := &cluster{cfg: cfg, env: env, kube: kubernetes.NewForConfigOrDie(cfg), dynamic: dynamic.NewForConfigOrDie(cfg)}
	c.refreshMapper()
	return c
}

func (c *cluster) refreshMapper() {
	c.mapper = restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(c.kube.Discovery()))
}

// apply applies one object server-side as manager, forced, and only as a
// dry run (every admission and validation step, nothing stored) when
// dryRun is set.
func (c *cluster) apply(ctx context.Context, u *unstructured.Unstructured, manager string, dryRun bool) error {
	gvk := u.GroupVersionKind()
	m, err := c.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		return err
	}
	var ri dynamic.ResourceInterface = c.dynamic.Resource(m.Resource)
	if m.Scope.Name() == meta.RESTScopeNameNamespace {
		ns := u.GetNamespace()
		if ns == "" {
			ns = "default"
		}
		ri = c.dynamic.Resource(m.Resource).Namespace(ns)
	}
	raw, err := u.MarshalJSON()
	if err != nil {
		return err
	}
	force := true
	opts := metav1.PatchOptions{FieldManager: manager, Force: &force}
	if dryRun {
		opts.DryRun = []string{metav1.DryRunAll}
	}
	_, err = ri.Patch(ctx, u.GetName(), types.ApplyPatchType, raw, opts)
	return err
}

func (c *cluster) createNamespaces(ctx context.Context, t *testing.T, names ...string) {
	t.Helper()
	for _, n := range names {
		ns := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": n}}}
		if err := c.apply(ctx, ns, "test", false); err != nil {
			t.Fatal(err)
		}
	}
}

func describe(u *unstructured.Unstructured) string {
	return strings.TrimPrefix(u.GetKind()+" "+u.GetNamespace()+"/"+u.GetName(), "/")
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
