package install

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/resmap"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

// build renders a kustomization under config/ as `kubectl apply -k` would.
func build(t *testing.T, dir string) resmap.ResMap {
	t.Helper()
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	m, err := k.Run(filesys.MakeFsOnDisk(), filepath.Join("..", "..", "config", dir))
	if err != nil {
		t.Fatalf("kustomize build config/%s: %v", dir, err)
	}
	return m
}

// objects returns the rendered objects of a kind, decoded into T.
func objects[T any](t *testing.T, m resmap.ResMap, kind string) []T {
	t.Helper()
	var out []T
	for _, r := range m.Resources() {
		if r.GetKind() != kind {
			continue
		}
		u, err := r.Map()
		if err != nil {
			t.Fatal(err)
		}
		var obj T
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u, &obj); err != nil {
			t.Fatal(err)
		}
		out = append(out, obj)
	}
	return out
}

// The namespaced overlay grants the manager its rules in the tenant
// namespace only: applied to a real API server, its ServiceAccount may
// list Metrics and read opted-in Secrets' metadata in team-a and nowhere
// else, while the cluster-wide install may everywhere; both let the
// metrics endpoint review tokens, and the namespaced manager watches
// team-a alone.
func TestNamespacedInstallGrantsOnlyTheTenantNamespace(t *testing.T) {
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		t.Fatal("KUBEBUILDER_ASSETS is not set: run `make test`")
	}
	namespaced := build(t, "namespaced")
	cluster := build(t, "default")

	for _, b := range objects[rbacv1.ClusterRoleBinding](t, namespaced, "ClusterRoleBinding") {
		if b.RoleRef.Name == "cxloop-manager" {
			t.Fatalf("the namespaced install binds the manager's rules cluster-wide: %s", b.Name)
		}
	}
	deployments := objects[map[string]any](t, namespaced, "Deployment")
	if len(deployments) != 1 || !strings.Contains(mustString(t, deployments[0]), "--watch-namespace=team-a") {
		t.Fatalf("the namespaced manager does not watch team-a alone: %v", deployments)
	}

	env := &envtest.Environment{}
	cfg, err := env.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer env.Stop()
	kube := kubernetes.NewForConfigOrDie(cfg)
	ctx := context.Background()

	can := func(ns, verb, group, resource string) bool {
		t.Helper()
		r, err := kube.AuthorizationV1().SubjectAccessReviews().Create(ctx, &authorizationv1.SubjectAccessReview{
			Spec: authorizationv1.SubjectAccessReviewSpec{User: "system:serviceaccount:cxloop-system:cxloop-manager",
				Groups:             []string{"system:serviceaccounts", "system:serviceaccounts:cxloop-system", "system:authenticated"},
				ResourceAttributes: &authorizationv1.ResourceAttributes{Namespace: ns, Verb: verb, Group: group, Resource: resource}}},
			metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return r.Status.Allowed
	}
	apply := func(m resmap.ResMap) {
		t.Helper()
		for _, ns := range []string{"cxloop-system", "team-a", "team-b"} {
			_, _ = kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
		}
		for _, r := range objects[rbacv1.ClusterRole](t, m, "ClusterRole") {
			if _, err := kube.RbacV1().ClusterRoles().Create(ctx, &r, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		for _, b := range objects[rbacv1.ClusterRoleBinding](t, m, "ClusterRoleBinding") {
			if _, err := kube.RbacV1().ClusterRoleBindings().Create(ctx, &b, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		for _, b := range objects[rbacv1.RoleBinding](t, m, "RoleBinding") {
			if _, err := kube.RbacV1().RoleBindings(b.Namespace).Create(ctx, &b, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
		}
	}
	remove := func(m resmap.ResMap) {
		for _, r := range objects[rbacv1.ClusterRole](t, m, "ClusterRole") {
			_ = kube.RbacV1().ClusterRoles().Delete(ctx, r.Name, metav1.DeleteOptions{})
		}
		for _, b := range objects[rbacv1.ClusterRoleBinding](t, m, "ClusterRoleBinding") {
			_ = kube.RbacV1().ClusterRoleBindings().Delete(ctx, b.Name, metav1.DeleteOptions{})
		}
		for _, b := range objects[rbacv1.RoleBinding](t, m, "RoleBinding") {
			_ = kube.RbacV1().RoleBindings(b.Namespace).Delete(ctx, b.Name, metav1.DeleteOptions{})
		}
	}

	apply(namespaced)
	if !eventuallyTrue(func() bool { return can("team-a", "list", "cxloop.dev", "metrics") }) {
		t.Fatal("the namespaced manager may not list Metrics in its tenant namespace")
	}
	if can("team-b", "list", "cxloop.dev", "metrics") || can("", "list", "cxloop.dev", "metrics") {
		t.Fatal("the namespaced manager may list Metrics outside its tenant namespace")
	}
	if can("team-b", "get", "", "secrets") {
		t.Fatal("the namespaced manager may read another namespace's Secrets")
	}
	if !can("", "create", "authentication.k8s.io", "tokenreviews") {
		t.Fatal("the namespaced manager cannot review the metrics endpoint's tokens")
	}
	remove(namespaced)

	apply(cluster)
	if !eventuallyTrue(func() bool { return can("team-b", "list", "cxloop.dev", "metrics") }) || !can("", "create", "authentication.k8s.io", "tokenreviews") {
		t.Fatal("the cluster-wide install does not grant the manager its rules everywhere")
	}
}

func eventuallyTrue(f func() bool) bool {
	for i := 0; i < 50; i++ {
		if f() {
			return true
		}
		time.Sleep(100 * time.Millisecond)
	}
	return false
}

func mustString(t *testing.T, v any) string {
	t.Helper()
	b, err := yaml.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
