package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/yaml"

	"github.com/cxloop/cxloop/internal/version"
)

const (
	testTag   = "v1.2.3-rc.1"
	testImage = "registry.example.com/platform/cxloop-manager"
	root      = "../.."
)

// renderInstall runs the release program as `make release-manifests`
// does, with the build's version set, and decodes what it wrote.
func renderInstall(t *testing.T) ([]byte, []*unstructured.Unstructured) {
	t.Helper()
	saved := version.Version
	version.Version = testTag
	t.Cleanup(func() { version.Version = saved })
	out := filepath.Join(t.TempDir(), "install.yaml")
	if err := run([]string{"--out", out, "--config", filepath.Join(root, "config", "default"), "--image", testImage}); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return raw, decode(t, raw)
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

// one returns the single object of a kind and name, decoded into T.
func one[T any](t *testing.T, objs []*unstructured.Unstructured, kind, name string) *T {
	t.Helper()
	for _, u := range objs {
		if u.GetKind() == kind && u.GetName() == name {
			var out T
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &out); err != nil {
				t.Fatal(err)
			}
			return &out
		}
	}
	t.Fatalf("install.yaml has no %s %s", kind, name)
	return nil
}

// install.yaml holds everything a cluster needs, in the order kubectl
// creates it: the namespace first, every CRD of config/crd/bases, the
// generated RBAC, and a manager whose image is tagged with the build's
// version and whose pod meets Pod Security's restricted profile.
func TestInstallManifest(t *testing.T) {
	_, objs := renderInstall(t)

	if objs[0].GetKind() != "Namespace" || objs[0].GetName() != "cxloop-system" {
		t.Fatalf("install.yaml starts with %s %s, not the Namespace its objects live in", objs[0].GetKind(), objs[0].GetName())
	}
	ns := one[corev1.Namespace](t, objs, "Namespace", "cxloop-system")
	if ns.Labels["pod-security.kubernetes.io/enforce"] != "restricted" {
		t.Errorf("the namespace does not enforce the restricted Pod Security profile: %v", ns.Labels)
	}
	kinds := map[string]bool{}
	for _, u := range objs {
		kinds[u.GetKind()] = true
		if u.GetKind() != "CustomResourceDefinition" && u.GetLabels()["app.kubernetes.io/version"] != testTag {
			t.Errorf("%s %s is not labelled with the version", u.GetKind(), u.GetName())
		}
		if u.GetNamespace() != "" && u.GetNamespace() != "cxloop-system" {
			t.Errorf("%s %s is in namespace %q", u.GetKind(), u.GetName(), u.GetNamespace())
		}
	}
	for _, k := range []string{"Namespace", "CustomResourceDefinition", "ServiceAccount", "ClusterRole", "ClusterRoleBinding",
		"Role", "RoleBinding", "Deployment", "Service", "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"} {
		if !kinds[k] {
			t.Errorf("install.yaml has no %s", k)
		}
	}

	// Every CRD the generator wrote, unchanged but for the version label.
	bases, err := filepath.Glob(filepath.Join(root, "config", "crd", "bases", "*.yaml"))
	if err != nil || len(bases) == 0 {
		t.Fatalf("no CRDs in config/crd/bases: %v", err)
	}
	for _, f := range bases {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var want apiextensionsv1.CustomResourceDefinition
		if err := yaml.Unmarshal(raw, &want); err != nil {
			t.Fatal(err)
		}
		got := one[apiextensionsv1.CustomResourceDefinition](t, objs, "CustomResourceDefinition", want.Name)
		if !equalJSON(t, got.Spec, want.Spec) {
			t.Errorf("CRD %s differs from %s", want.Name, f)
		}
	}

	// The manager's rules are the ones controller-gen wrote from the
	// controllers' markers.
	raw, err := os.ReadFile(filepath.Join(root, "config", "rbac", "role.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var role rbacv1.ClusterRole
	if err := yaml.Unmarshal(raw, &role); err != nil {
		t.Fatal(err)
	}
	if got := one[rbacv1.ClusterRole](t, objs, "ClusterRole", "cxloop-manager"); !equalJSON(t, got.Rules, role.Rules) || len(role.Rules) == 0 {
		t.Error("the manager's ClusterRole is not config/rbac/role.yaml")
	}
	binding := one[rbacv1.ClusterRoleBinding](t, objs, "ClusterRoleBinding", "cxloop-manager")
	if len(binding.Subjects) != 1 || binding.Subjects[0].Name != "cxloop-manager" || binding.Subjects[0].Namespace != "cxloop-system" {
		t.Errorf("the manager's rules are bound to %+v", binding.Subjects)
	}

	d := one[appsv1.Deployment](t, objs, "Deployment", "cxloop-manager")
	pod := d.Spec.Template.Spec
	if pod.ServiceAccountName != "cxloop-manager" {
		t.Errorf("the manager runs as %q", pod.ServiceAccountName)
	}
	one[corev1.ServiceAccount](t, objs, "ServiceAccount", pod.ServiceAccountName)
	if len(pod.Containers) != 1 {
		t.Fatalf("%d containers", len(pod.Containers))
	}
	c := pod.Containers[0]
	if c.Image != testImage+":"+testTag {
		t.Errorf("the manager's image is %q, want %s:%s, the build's version", c.Image, testImage, testTag)
	}
	if !slices.Contains(c.Args, "--leader-elect") || *d.Spec.Replicas < 2 {
		t.Errorf("%d replicas with args %v: want a standby electing a leader", *d.Spec.Replicas, c.Args)
	}
	psc, sc := pod.SecurityContext, c.SecurityContext
	switch {
	case psc == nil || sc == nil:
		t.Fatal("no securityContext")
	case psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot, sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot:
		t.Error("the manager may run as root")
	case psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault:
		t.Error("no RuntimeDefault seccomp profile")
	case sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation:
		t.Error("the manager may escalate privileges")
	case sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem:
		t.Error("the root filesystem is writable")
	case sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) || len(sc.Capabilities.Add) > 0:
		t.Errorf("capabilities %+v, want all dropped", sc.Capabilities)
	}
	if c.LivenessProbe == nil || c.LivenessProbe.HTTPGet == nil || c.LivenessProbe.HTTPGet.Path != "/healthz" ||
		c.ReadinessProbe == nil || c.ReadinessProbe.HTTPGet == nil || c.ReadinessProbe.HTTPGet.Path != "/readyz" {
		t.Error("no liveness and readiness probes on /healthz and /readyz")
	}
	if c.Resources.Requests.Cpu().IsZero() || c.Resources.Requests.Memory().IsZero() || c.Resources.Limits.Memory().IsZero() {
		t.Errorf("resources %+v: want CPU and memory requests and a memory limit", c.Resources)
	}
	if !mountsEmptyDir(pod, c, "/tmp") {
		t.Error("no emptyDir at /tmp, the one path a read-only root filesystem leaves writable")
	}

	// The metrics Service reaches the manager's metrics port.
	svc := one[corev1.Service](t, objs, "Service", "cxloop-manager-metrics")
	for k, v := range svc.Spec.Selector {
		if d.Spec.Template.Labels[k] != v {
			t.Errorf("the metrics Service selects %s=%s, which the manager's pods lack", k, v)
		}
	}
	if len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].TargetPort.String() != "metrics" || !hasPort(c, "metrics", 8443) {
		t.Errorf("the metrics Service's ports %+v miss the manager's metrics port", svc.Spec.Ports)
	}
}

func mountsEmptyDir(pod corev1.PodSpec, c corev1.Container, path string) bool {
	for _, m := range c.VolumeMounts {
		if m.MountPath != path {
			continue
		}
		for _, v := range pod.Volumes {
			if v.Name == m.Name && v.EmptyDir != nil {
				return true
			}
		}
	}
	return false
}

func hasPort(c corev1.Container, name string, port int32) bool {
	for _, p := range c.Ports {
		if p.Name == name && p.ContainerPort == port {
			return true
		}
	}
	return false
}

func equalJSON(t *testing.T, a, b any) bool {
	t.Helper()
	ja, err := yaml.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	jb, err := yaml.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Equal(ja, jb)
}

// The overlays build on config/default: the namespaced one keeps the
// release's image and watches its tenant namespace, and the Prometheus
// one's ServiceMonitor selects the metrics Service by its labels and port.
func TestOverlays(t *testing.T) {
	ns, err := Render(filepath.Join(root, "config", "namespaced"), testImage, testTag)
	if err != nil {
		t.Fatal(err)
	}
	d := one[appsv1.Deployment](t, decode(t, ns), "Deployment", "cxloop-manager")
	if c := d.Spec.Template.Spec.Containers[0]; c.Image != testImage+":"+testTag || !slices.Contains(c.Args, "--watch-namespace=team-a") {
		t.Errorf("the namespaced overlay's manager: image %s, args %v", c.Image, c.Args)
	}

	prom, err := Render(filepath.Join(root, "config", "prometheus"), testImage, testTag)
	if err != nil {
		t.Fatal(err)
	}
	_, def := renderInstall(t)
	svc := one[corev1.Service](t, def, "Service", "cxloop-manager-metrics")
	monitor := one[struct {
		Metadata metav1.ObjectMeta `json:"metadata"`
		Spec     struct {
			Selector  metav1.LabelSelector `json:"selector"`
			Endpoints []struct {
				Port            string `json:"port"`
				Scheme          string `json:"scheme"`
				BearerTokenFile string `json:"bearerTokenFile"`
			} `json:"endpoints"`
		} `json:"spec"`
	}](t, decode(t, prom), "ServiceMonitor", "cxloop-manager")
	if monitor.Metadata.Namespace != svc.Namespace {
		t.Errorf("the ServiceMonitor is in %q, the Service in %q", monitor.Metadata.Namespace, svc.Namespace)
	}
	for k, v := range monitor.Spec.Selector.MatchLabels {
		if svc.Labels[k] != v {
			t.Errorf("the ServiceMonitor selects %s=%s, which the metrics Service lacks", k, v)
		}
	}
	if len(monitor.Spec.Endpoints) != 1 || monitor.Spec.Endpoints[0].Port != svc.Spec.Ports[0].Name ||
		monitor.Spec.Endpoints[0].Scheme != "https" || monitor.Spec.Endpoints[0].BearerTokenFile == "" {
		t.Errorf("the ServiceMonitor's endpoints %+v do not scrape the Service's HTTPS port with a token", monitor.Spec.Endpoints)
	}
	one[rbacv1.ClusterRoleBinding](t, decode(t, prom), "ClusterRoleBinding", "cxloop-metrics-reader")
}

// warnings collects what the API server warns about.
type warnings struct {
	mu   sync.Mutex
	list []string
}

func (w *warnings) HandleWarningHeader(_ int, _ string, text string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.list = append(w.list, text)
}

func (w *warnings) take() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := w.list
	w.list = nil
	return out
}

// A real API server accepts install.yaml as `kubectl apply --server-side`
// sends it, twice (an upgrade over itself), without a Pod Security
// warning; the manager's pod is admitted to its namespace under the
// restricted profile, and the same pod without its securityContext is
// refused there, so the profile is in force.
func TestInstallManifestApplies(t *testing.T) {
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		t.Fatal("KUBEBUILDER_ASSETS is not set: run `make test`")
	}
	_, objs := renderInstall(t)
	env := &envtest.Environment{}
	cfg, err := env.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = env.Stop() }()
	warned := &warnings{}
	cfg = rest.CopyConfig(cfg)
	cfg.WarningHandler = warned
	ctx := context.Background()
	dyn := dynamic.NewForConfigOrDie(cfg)
	kube := kubernetes.NewForConfigOrDie(cfg)
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(kube.Discovery()))

	for pass := range 2 {
		for _, u := range objs {
			gvk := u.GroupVersionKind()
			m, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
			if err != nil {
				t.Fatalf("%s: %v", gvk, err)
			}
			var r dynamic.ResourceInterface = dyn.Resource(m.Resource)
			if m.Scope.Name() == meta.RESTScopeNameNamespace {
				r = dyn.Resource(m.Resource).Namespace(u.GetNamespace())
			} else if u.GetNamespace() != "" {
				t.Errorf("cluster-scoped %s %s names namespace %q", u.GetKind(), u.GetName(), u.GetNamespace())
			}
			if _, err := r.Apply(ctx, u.GetName(), u, metav1.ApplyOptions{FieldManager: "kubectl", Force: true}); err != nil {
				t.Fatalf("pass %d: apply %s %s: %v", pass+1, u.GetKind(), u.GetName(), err)
			}
		}
	}
	if w := warned.take(); len(w) > 0 {
		t.Errorf("the API server warned: %s", strings.Join(w, "; "))
	}
	crds := dyn.Resource(apiextensionsv1.SchemeGroupVersion.WithResource("customresourcedefinitions"))
	for _, u := range objs {
		if u.GetKind() == "CustomResourceDefinition" && !established(ctx, crds, u.GetName()) {
			t.Errorf("CRD %s is not established", u.GetName())
		}
	}

	d := one[appsv1.Deployment](t, objs, "Deployment", "cxloop-manager")
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "manager", Namespace: d.Namespace}, Spec: d.Spec.Template.Spec}
	dryRun := metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}}
	if _, err := kube.CoreV1().Pods(d.Namespace).Create(ctx, pod, dryRun); err != nil {
		t.Fatalf("the manager's pod is refused in its namespace: %v", err)
	}
	bare := pod.DeepCopy()
	bare.Spec.SecurityContext = nil
	bare.Spec.Containers[0].SecurityContext = nil
	if _, err := kube.CoreV1().Pods(d.Namespace).Create(ctx, bare, dryRun); err == nil || !strings.Contains(err.Error(), "restricted") {
		t.Fatalf("a pod without the securityContext was not refused under the restricted profile: %v", err)
	}
}

// established waits a few seconds for the API server to serve a CRD.
func established(ctx context.Context, crds dynamic.ResourceInterface, name string) bool {
	for range 50 {
		crd, err := crds.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false
		}
		conds, _, _ := unstructured.NestedSlice(crd.Object, "status", "conditions")
		for _, c := range conds {
			if m, ok := c.(map[string]any); ok && m["type"] == "Established" && m["status"] == "True" {
				return true
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return false
}
