package chart

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/dynamic"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

const testImage = "registry.example.com/platform/cxloop-manager"

// established waits until every CRD of objs is Established.
func (c *cluster) established(ctx context.Context, t *testing.T, objs []*unstructured.Unstructured) {
	t.Helper()
	crds := c.dynamic.Resource(apiextensionsv1.SchemeGroupVersion.WithResource("customresourcedefinitions"))
	for _, u := range objs {
		if u.GetKind() != "CustomResourceDefinition" {
			continue
		}
		if !waitFor(func() bool { return crdEstablished(ctx, crds, u.GetName()) }) {
			t.Fatalf("CRD %s is not Established", u.GetName())
		}
	}
	c.refreshMapper()
}

func crdEstablished(ctx context.Context, crds dynamic.NamespaceableResourceInterface, name string) bool {
	u, err := crds.Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return false
	}
	var crd apiextensionsv1.CustomResourceDefinition
	if runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &crd) != nil {
		return false
	}
	for _, cond := range crd.Status.Conditions {
		if cond.Type == apiextensionsv1.Established && cond.Status == apiextensionsv1.ConditionTrue {
			return true
		}
	}
	return false
}

// applySamples applies `kubectl apply -k config/samples` server-side, for
// real, in the namespaces the samples name.
func (c *cluster) applySamples(ctx context.Context, t *testing.T) {
	t.Helper()
	samples := kustomize(t, "samples")
	seen := map[string]bool{}
	for _, u := range samples {
		if ns := u.GetNamespace(); ns != "" && !seen[ns] {
			seen[ns] = true
			c.createNamespaces(ctx, t, ns)
		}
	}
	for _, u := range samples {
		if err := c.apply(ctx, u, "kubectl", false); err != nil {
			t.Errorf("the API server refuses sample %s: %v", describe(u), err)
		}
	}
	if len(samples) < 10 {
		t.Errorf("config/samples rendered only %d objects", len(samples))
	}
}

func waitFor(f func() bool) bool {
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if f() {
			return true
		}
	}
	return false
}

// README.md's install, step 2 with kustomize: config/default with the
// release's image applied server-side, its CRDs established, and the
// samples accepted.
func TestReadmeInstallWithKustomize(t *testing.T) {
	c := startCluster(t)
	ctx := context.Background()
	install := kustomize(t, "default")
	// kubectl creates Namespaces and CRDs before what lives in them.
	first := map[string]int{"Namespace": 0, "CustomResourceDefinition": 1}
	slices.SortStableFunc(install, func(a, b *unstructured.Unstructured) int {
		rank := func(u *unstructured.Unstructured) int {
			if r, ok := first[u.GetKind()]; ok {
				return r
			}
			return 2
		}
		return rank(a) - rank(b)
	})
	for _, u := range install {
		if err := c.apply(ctx, u, "kubectl", false); err != nil {
			t.Fatalf("kubectl apply --server-side: %s: %v", describe(u), err)
		}
		if u.GetKind() == "CustomResourceDefinition" {
			c.established(ctx, t, []*unstructured.Unstructured{u})
		}
	}
	c.applySamples(ctx, t)
}

// README.md's install, step 2 with Helm: `helm install --create-namespace`
// on the control plane, the CRDs established from crds/, the samples
// accepted; then the CRDs upgraded as the README says (helm upgrade
// leaves crds/ alone), `helm upgrade` with a value changed, and `helm
// uninstall` removing the manager but keeping the CRDs and the
// resources in them.
func TestReadmeInstallWithHelm(t *testing.T) {
	c := startCluster(t)
	ctx := context.Background()
	user, err := c.env.AddUser(envtest.User{Name: "platform-admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	kubeconfig, err := user.KubeConfig()
	if err != nil {
		t.Fatal(err)
	}
	kc := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(kc, kubeconfig, 0o600); err != nil {
		t.Fatal(err)
	}
	helm := func(args ...string) string {
		t.Helper()
		out, stderr, err := runHelm(t, append(args, "--kubeconfig", kc)...)
		if err != nil {
			t.Fatalf("helm %v: %v\n%s%s", args, err, out, stderr)
		}
		return out
	}

	helm("install", "cxloop", chartDir, "-n", namespace, "--create-namespace",
		"--set", "image.repository="+testImage, "--set", "image.tag=v0.1.0")
	c.established(ctx, t, decode(t, mustRead(t, filepath.Join(chartDir, "crds"))))
	d, err := c.kube.AppsV1().Deployments(namespace).Get(ctx, "cxloop-manager", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if img := d.Spec.Template.Spec.Containers[0].Image; img != testImage+":v0.1.0" {
		t.Errorf("the installed manager runs %s", img)
	}
	c.applySamples(ctx, t)

	// kubectl apply --server-side -f charts/cxloop/crds/
	for _, u := range decode(t, mustRead(t, filepath.Join(chartDir, "crds"))) {
		if err := c.apply(ctx, u, "kubectl", false); err != nil {
			t.Errorf("kubectl apply --server-side -f charts/cxloop/crds/: %s: %v", describe(u), err)
		}
	}
	helm("upgrade", "cxloop", chartDir, "-n", namespace, "--reuse-values", "--set", "replicas=1")
	if d, err := c.kube.AppsV1().Deployments(namespace).Get(ctx, "cxloop-manager", metav1.GetOptions{}); err != nil || *d.Spec.Replicas != 1 {
		t.Errorf("helm upgrade --set replicas=1 left %v replicas (%v)", d.Spec.Replicas, err)
	}

	helm("uninstall", "cxloop", "-n", namespace)
	if !waitFor(func() bool {
		_, err := c.kube.AppsV1().Deployments(namespace).Get(ctx, "cxloop-manager", metav1.GetOptions{})
		return apierrors.IsNotFound(err)
	}) {
		t.Error("helm uninstall left the manager's Deployment")
	}
	crds := c.dynamic.Resource(apiextensionsv1.SchemeGroupVersion.WithResource("customresourcedefinitions"))
	if !crdEstablished(ctx, crds, "metrics.cxloop.dev") {
		t.Error("helm uninstall removed the CRDs and with them every Metric")
	}
}

// mustRead concatenates the YAML files of a directory.
func mustRead(t *testing.T, dir string) []byte {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no YAML in %s: %v", dir, err)
	}
	var all []byte
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		all = append(append(all, b...), []byte("\n---\n")...)
	}
	return all
}
