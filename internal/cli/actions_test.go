package cli

import (
	"context"
	"reflect"
	"strings"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	cxv1 "github.com/cxloop/cxloop/api/v1alpha1"
)

// grantTaskOwner lets user read and patch the namespace's tasks, as the
// owner role does, and nothing else.
func grantTaskOwner(t *testing.T, ns, user string) {
	t.Helper()
	ctx := context.Background()
	role := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "task-owner", Namespace: ns},
		Rules: []rbacv1.PolicyRule{{APIGroups: []string{cxv1.GroupVersion.Group}, Resources: []string{"improvementtasks"},
			Verbs: []string{"get", "list", "patch"}}}}
	if err := k8sClient.Create(ctx, role); err != nil && !strings.Contains(err.Error(), "already exists") {
		t.Fatal(err)
	}
	rb := &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{GenerateName: "task-owner-", Namespace: ns},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: role.Name},
		Subjects: []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: user}}}
	if err := k8sClient.Create(ctx, rb); err != nil {
		t.Fatal(err)
	}
}

// resolve and dismiss record the username the API server authenticated
// for the call (here an impersonated owner, --as), each in its own
// annotation, and change nothing else beyond the owner's fields; start
// records nobody.
func TestResolveAndDismissRecordWhoActed(t *testing.T) {
	ns := newNamespace(t)
	const alice, bob = "alice@example.com", "bob@example.com"
	grantTaskOwner(t, ns, alice)
	grantTaskOwner(t, ns, bob)
	cli := func(user string, args ...string) (int, string, string) {
		return runCLI(t, append([]string{"--kubeconfig", testKubeconfig, "-n", ns, "--as", user}, args...)...)
	}
	createTask(t, ns, taskFixture{name: "fixed", team: "success", priority: 2, phase: cxv1.PhaseOpen, attempt: 1})
	createTask(t, ns, taskFixture{name: "noise", team: "success", priority: 3, phase: cxv1.PhaseOpen, attempt: 1})

	if code, out, errOut := cli(alice, "start", "fixed"); code != ExitOK {
		t.Fatalf("start: exit %d\n%s%s", code, out, errOut)
	}
	if got := getTask(t, ns, "fixed"); len(got.Annotations) != 0 {
		t.Fatalf("start recorded %v", got.Annotations)
	}

	before := getTask(t, ns, "fixed")
	if code, out, errOut := cli(alice, "resolve", "fixed", "--note", "rewrote the admin onboarding email"); code != ExitOK || strings.Contains(errOut, "warning") {
		t.Fatalf("resolve: exit %d\n%s%s", code, out, errOut)
	}
	after := getTask(t, ns, "fixed")
	if want := map[string]string{ResolvedByAnnotation: alice}; !reflect.DeepEqual(after.Annotations, want) {
		t.Fatalf("annotations after alice resolved: %v, want %v", after.Annotations, want)
	}
	if after.Spec.State != cxv1.TaskResolved || after.Spec.Resolution == nil || after.Spec.Resolution.Attempt != 1 {
		t.Fatalf("not resolved: %+v", after.Spec)
	}
	assertOnlyOwnerFieldsChanged(t, before, after)

	before = getTask(t, ns, "noise")
	if code, out, errOut := cli(bob, "dismiss", "noise", "--reason", "survey sent twice"); code != ExitOK || strings.Contains(errOut, "warning") {
		t.Fatalf("dismiss: exit %d\n%s%s", code, out, errOut)
	}
	after = getTask(t, ns, "noise")
	if want := map[string]string{DismissedByAnnotation: bob}; !reflect.DeepEqual(after.Annotations, want) {
		t.Fatalf("annotations after bob dismissed: %v, want %v", after.Annotations, want)
	}
	assertOnlyOwnerFieldsChanged(t, before, after)

	// A refused action records nobody.
	if code, _, errOut := cli(alice, "resolve", "noise", "--note", "x"); code != ExitError || !strings.Contains(errOut, "dismissed") {
		t.Fatalf("resolve a dismissed task: exit %d, stderr %q", code, errOut)
	}
	if got := getTask(t, ns, "noise"); !reflect.DeepEqual(got.Annotations, map[string]string{DismissedByAnnotation: bob}) {
		t.Fatalf("a refused resolve changed the annotations: %v", got.Annotations)
	}
}

// The annotation joins a patch that already carries metadata (resolve's
// resourceVersion) without replacing it.
func TestWithAnnotationKeepsThePatchsMetadata(t *testing.T) {
	patch := resolvePatch(&cxv1.ImprovementTask{ObjectMeta: metav1.ObjectMeta{ResourceVersion: "42"}}, "n")
	withAnnotation(patch, ResolvedByAnnotation, "alice")
	md := patch["metadata"].(map[string]any)
	if md["resourceVersion"] != "42" || !reflect.DeepEqual(md["annotations"], map[string]any{ResolvedByAnnotation: "alice"}) {
		t.Fatalf("metadata %v", md)
	}
	bare := map[string]any{"spec": map[string]any{}}
	withAnnotation(bare, DismissedByAnnotation, "bob")
	if !reflect.DeepEqual(bare["metadata"], map[string]any{"annotations": map[string]any{DismissedByAnnotation: "bob"}}) {
		t.Fatalf("metadata %v", bare["metadata"])
	}
}
