package policy_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/yaml"

	cxv1 "github.com/cxloop/cxloop/api/v1alpha1"
	"github.com/cxloop/cxloop/internal/metricspec"
)

// managerUser is the manager's ServiceAccount as config/rbac and
// config/default install it.
const managerUser = "system:serviceaccount:cxloop-system:cxloop-manager"

var (
	scheme = runtime.NewScheme()
	cfg    *rest.Config
	admin  client.Client
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		panic(err)
	}
	if err := cxv1.AddToScheme(scheme); err != nil {
		panic(err)
	}
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		fmt.Fprintln(os.Stderr, "KUBEBUILDER_ASSETS is not set: run `make test`, or `make envtest-assets` and point KUBEBUILDER_ASSETS at the directory it prints")
		return 1
	}
	env := &envtest.Environment{
		CRDDirectoryPaths:     []string{filepath.Join("..", "..", "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
	}
	var err error
	if cfg, err = env.Start(); err != nil {
		fmt.Fprintf(os.Stderr, "start the control plane: %v\n", err)
		return 1
	}
	defer func() {
		if err := env.Stop(); err != nil {
			fmt.Fprintf(os.Stderr, "stop the control plane: %v\n", err)
		}
	}()
	if admin, err = client.New(cfg, client.Options{Scheme: scheme}); err != nil {
		fmt.Fprintf(os.Stderr, "client: %v\n", err)
		return 1
	}
	return m.Run()
}

// apply creates every object of a manifest file as config/default
// installs it.
func apply(t *testing.T, path string) []*unstructured.Unstructured {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var objs []*unstructured.Unstructured
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	for {
		var u unstructured.Unstructured
		if err := dec.Decode(&u.Object); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if len(u.Object) == 0 {
			continue
		}
		// config/default sets namespace cxloop-system on everything, and
		// kustomize does not know these policy kinds are cluster-scoped:
		// the API server must take them as installed that way.
		u.SetNamespace("cxloop-system")
		if err := admin.Create(context.Background(), &u); err != nil {
			t.Fatalf("%s: create %s %s: %v", path, u.GetKind(), u.GetName(), err)
		}
		objs = append(objs, &u)
	}
	return objs
}

// as is a client that authenticates as the user, the way the API server
// sees a kubeconfig of that identity.
func as(t *testing.T, user string) client.Client {
	t.Helper()
	c := rest.CopyConfig(cfg)
	c.Impersonate = rest.ImpersonationConfig{UserName: user}
	cl, err := client.New(c, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	return cl
}

// bind grants the user a ClusterRole in the namespace.
func bind(t *testing.T, ns, clusterRole string, subject rbacv1.Subject) {
	t.Helper()
	rb := &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{GenerateName: clusterRole + "-", Namespace: ns},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: clusterRole},
		Subjects: []rbacv1.Subject{subject}}
	if err := admin.Create(context.Background(), rb); err != nil {
		t.Fatal(err)
	}
}

func mergePatch(c client.Client, task *cxv1.ImprovementTask, body string) error {
	obj := &cxv1.ImprovementTask{ObjectMeta: metav1.ObjectMeta{Name: task.Name, Namespace: task.Namespace}}
	return c.Patch(context.Background(), obj, client.RawPatch(types.MergePatchType, []byte(body)))
}

// denied fails unless err is the policy refusing user's change.
func denied(t *testing.T, err error, user string) {
	t.Helper()
	if err == nil {
		t.Fatal("the API server accepted the change; want the policy to deny it")
	}
	msg := err.Error()
	if !apierrors.IsForbidden(err) || !strings.Contains(msg, "cxloop-task-labels") ||
		!strings.Contains(msg, "are set by the cxloop operator") || !strings.Contains(msg, user) {
		t.Fatalf("want the policy's denial naming %s, got %v", user, err)
	}
}

// Only the manager's ServiceAccount adds, changes or removes the labels
// cxloop.dev/metric and cxloop.dev/team of a task; an owner with the
// shipped cxloop-task-owner role still resolves the task and edits other
// labels. The policy and the roles are applied from the files shipped in
// config/.
func TestOnlyTheManagerChangesTheOperatorsTaskLabels(t *testing.T) {
	ctx := context.Background()
	for _, f := range []string{"../../config/policy/task-labels.yaml", "../../config/rbac/owner_role.yaml", "../../config/rbac/role.yaml"} {
		apply(t, f)
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "customer-success"}}
	if err := admin.Create(ctx, ns); err != nil {
		t.Fatal(err)
	}
	const owner = "alice@example.com"
	bind(t, ns.Name, "cxloop-task-owner", rbacv1.Subject{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: owner})
	bind(t, ns.Name, "cxloop-manager", rbacv1.Subject{Kind: rbacv1.ServiceAccountKind, Name: "cxloop-manager", Namespace: "cxloop-system"})
	alice, manager := as(t, owner), as(t, managerUser)

	task := &cxv1.ImprovementTask{
		ObjectMeta: metav1.ObjectMeta{Name: "account-nps-1a2b3c", Namespace: ns.Name,
			Labels: map[string]string{metricspec.LabelMetric: "account-nps", metricspec.LabelTeam: "customer-success"}},
		Spec: cxv1.ImprovementTaskSpec{Metric: "account-nps", Segment: "persona=admin", SegmentValues: map[string]string{"persona": "admin"},
			Team: "customer-success", EpisodeStart: metav1.NewTime(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)), DefinitionHash: "abc123",
			Objective: cxv1.TaskObjective{Direction: cxv1.AtLeast, Target: 30, MinShift: 5}, Priority: 2},
	}
	if err := manager.Create(ctx, task); err != nil {
		t.Fatalf("the manager creates a task: %v", err)
	}

	// RBAC lets the owner patch the task; the policy keeps the labels.
	eventually(t, "the policy denies the owner's label change", func() error {
		err := mergePatch(alice, task, `{"metadata":{"labels":{"cxloop.dev/team":"platform"}}}`)
		if err == nil {
			return errors.New("accepted")
		}
		if !strings.Contains(err.Error(), "cxloop-task-labels") {
			return err
		}
		return nil
	})
	for name, body := range map[string]string{
		"change the team":   `{"metadata":{"labels":{"cxloop.dev/team":"platform"}}}`,
		"change the metric": `{"metadata":{"labels":{"cxloop.dev/metric":"checkout-nps"}}}`,
		"remove the team":   `{"metadata":{"labels":{"cxloop.dev/team":null}}}`,
		"remove the metric": `{"metadata":{"labels":{"cxloop.dev/metric":null}}}`,
		"remove all labels": `{"metadata":{"labels":null}}`,
	} {
		t.Run("owner may not "+name, func(t *testing.T) { denied(t, mergePatch(alice, task, body), owner) })
	}
	var got cxv1.ImprovementTask
	if err := admin.Get(ctx, client.ObjectKeyFromObject(task), &got); err != nil {
		t.Fatal(err)
	}
	if got.Labels[metricspec.LabelTeam] != "customer-success" || got.Labels[metricspec.LabelMetric] != "account-nps" {
		t.Fatalf("labels after the denied changes: %v", got.Labels)
	}

	// The owner's own work is untouched by the policy (an expression that
	// failed to compile would deny this too: the policy fails closed).
	if err := mergePatch(alice, task, `{"metadata":{"labels":{"triage":"weekly"}},"spec":{"state":"Resolved","resolution":{"note":"rewrote the admin onboarding","attempt":1}}}`); err != nil {
		t.Fatalf("the owner resolves the task and labels it: %v", err)
	}

	// The manager moves the task to another team, then drops the label
	// (as it does for a team name too long to be a label value).
	if err := mergePatch(manager, task, `{"metadata":{"labels":{"cxloop.dev/team":"platform"}}}`); err != nil {
		t.Fatalf("the manager changes the team label: %v", err)
	}
	if err := mergePatch(manager, task, `{"metadata":{"labels":{"cxloop.dev/team":null}}}`); err != nil {
		t.Fatalf("the manager removes the team label: %v", err)
	}
	// A label the manager left out cannot be added by the owner either.
	denied(t, mergePatch(alice, task, `{"metadata":{"labels":{"cxloop.dev/team":"customer-success"}}}`), owner)

	if err := admin.Get(ctx, client.ObjectKeyFromObject(task), &got); err != nil {
		t.Fatal(err)
	}
	if _, ok := got.Labels[metricspec.LabelTeam]; ok || got.Labels["triage"] != "weekly" || got.Spec.State != cxv1.TaskResolved {
		t.Fatalf("task after the allowed changes: labels %v, state %s", got.Labels, got.Spec.State)
	}
}

// The default kustomization installs the policy.
func TestDefaultInstallIncludesThePolicy(t *testing.T) {
	var k struct {
		Resources []string `json:"resources"`
	}
	for dir, want := range map[string]string{"../../config/default": "../policy", "../../config/policy": "task-labels.yaml"} {
		data, err := os.ReadFile(filepath.Join(dir, "kustomization.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		k.Resources = nil
		if err := yaml.Unmarshal(data, &k); err != nil {
			t.Fatal(err)
		}
		found := false
		for _, r := range k.Resources {
			found = found || r == want
		}
		if !found {
			t.Errorf("%s/kustomization.yaml does not list %s: %v", dir, want, k.Resources)
		}
	}
}

func eventually(t *testing.T, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
