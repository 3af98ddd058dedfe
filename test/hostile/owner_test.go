package hostile

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cxv1 "github.com/cxloop/cxloop/api/v1alpha1"
)

// rawPatch sends a JSON merge patch, as `kubectl patch --type=merge` does.
func rawPatch(task *cxv1.ImprovementTask, body string) error {
	obj := &cxv1.ImprovementTask{ObjectMeta: metav1.ObjectMeta{Name: task.Name, Namespace: task.Namespace}}
	return k8sClient.Patch(context.Background(), obj, client.RawPatch(types.MergePatchType, []byte(body)))
}

// Owner edits that would rewrite what the operator recorded are refused
// by the API server, each with the field and its reason, whatever the
// patch, and the task's facts stay as they were. The label policy on tasks (who may set
// cxloop.dev labels) is proved by test/policy against the
// ValidatingAdmissionPolicy itself.
func TestOwnerEditsOfTaskFactsAreRefused(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t)
	create(t, &cxv1.Team{ObjectMeta: metav1.ObjectMeta{Name: "customer-success", Namespace: ns}})
	task := openTask(t, ns)
	var before cxv1.ImprovementTask
	if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(task), &before); err != nil {
		t.Fatal(err)
	}
	cases := []struct{ name, body, want string }{
		{"metric-to-null", `{"spec":{"metric":null}}`, "spec.metric: Invalid value: metric is immutable"},
		{"metric-swapped-for-a-scorecard", `{"spec":{"metric":null,"scorecard":"account-health"}}`, "spec.metric: Invalid value: metric is immutable"},
		{"scorecard-added", `{"spec":{"scorecard":"account-health"}}`, "exactly one of metric and scorecard"},
		{"metric-changed", `{"spec":{"metric":"other"}}`, "metric is immutable"},
		{"segment-to-null", `{"spec":{"segment":null,"segmentValues":null}}`, "segment"},
		{"segment-changed", `{"spec":{"segment":"persona=executive"}}`, "segment is immutable"},
		{"segment-values-rewritten", `{"spec":{"segmentValues":{"persona":null,"stage":"onboarding"}}}`, "segmentValues"},
		{"team-to-null", `{"spec":{"team":null}}`, "spec.team: Required value"},
		{"team-changed", `{"spec":{"team":"someone-else"}}`, "team is immutable"},
		{"episode-start-moved", `{"spec":{"episodeStart":"2026-01-01T00:00:00Z"}}`, "episodeStart is immutable"},
		{"definition-hash-to-null", `{"spec":{"definitionHash":null}}`, "definitionHash"},
		{"objective-lowered", `{"spec":{"objective":{"target":1}}}`, "objective is immutable"},
		{"priority-changed", `{"spec":{"priority":4}}`, "priority"},
		{"baseline-added", `{"spec":{"baseline":{"value":1,"lower":0,"upper":2,"samples":10,"windowStart":"2025-12-01T00:00:00Z","windowEnd":"2026-01-01T00:00:00Z"}}}`, "baseline"},
		{"playbook-added", `{"spec":{"playbook":"nothing to do"}}`, "playbook"},
		{"whole-spec-to-null", `{"spec":null}`, "spec"},
		{"first-resolution-attempt-100", `{"spec":{"state":"Resolved","resolution":{"note":"NOTE","attempt":100}}}`, "first resolution is 1"},
		{"dismissed-without-reason", `{"spec":{"state":"Dismissed"}}`, "dismissReason is required"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			body := strings.ReplaceAll(tc.body, "NOTE", "new onboarding email")
			err := rawPatch(task, body)
			if err == nil {
				t.Fatalf("the API server accepted %s", body)
			}
			if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want Invalid naming %q", err, tc.want)
			}
			noLeak(t)
		})
	}
	t.Run("resolution-removed-after-resolving", func(t *testing.T) {
		note := "new onboarding email"
		if err := rawPatch(task, fmt.Sprintf(`{"spec":{"state":"Resolved","resolution":{"note":%q,"attempt":1}}}`, note)); err != nil {
			t.Fatal(err)
		}
		for _, body := range []string{`{"spec":{"resolution":null}}`, `{"spec":{"state":"InProgress","resolution":null}}`,
			`{"spec":{"resolution":{"note":"again","attempt":100}}}`} {
			err := rawPatch(task, body)
			if err == nil || !apierrors.IsInvalid(err) {
				t.Fatalf("patch %s: got %v, want it refused", body, err)
			}
		}
		noLeak(t)
	})
	var after cxv1.ImprovementTask
	if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(task), &after); err != nil {
		t.Fatal(err)
	}
	after.Spec.State, after.Spec.Resolution = before.Spec.State, before.Spec.Resolution
	if !equality.Semantic.DeepEqual(before.Spec, after.Spec) {
		t.Fatalf("the facts changed:\nbefore %+v\nafter  %+v", before.Spec, after.Spec)
	}
}
