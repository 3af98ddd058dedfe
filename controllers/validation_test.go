package controllers

import (
	"bufio"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cxv1 "github.com/cxloop/cxloop/api/v1alpha1"
)

// readManifests decodes every YAML document of a file.
func readManifests(t *testing.T, path string) []*unstructured.Unstructured {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dec := yaml.NewYAMLOrJSONDecoder(bufio.NewReader(f), 4096)
	var objs []*unstructured.Unstructured
	for {
		u := &unstructured.Unstructured{}
		if err := dec.Decode(&u.Object); err != nil {
			if errors.Is(err, io.EOF) {
				return objs
			}
			t.Fatalf("%s: %v", path, err)
		}
		if len(u.Object) > 0 {
			objs = append(objs, u)
		}
	}
}

// expectation reads the "# expect: ..." line that heads an invalid manifest.
func expectation(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	first, _, _ := strings.Cut(string(data), "\n")
	want, ok := strings.CutPrefix(first, "# expect: ")
	if !ok || want == "" {
		t.Fatalf("%s: first line must be '# expect: <part of the API server's message>'", path)
	}
	return want
}

func TestInvalidManifestsAreRejectedWithTheField(t *testing.T) {
	ns := newNamespace(t)
	files, err := filepath.Glob(filepath.Join("..", "test", "manifests", "invalid", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 20 {
		t.Fatalf("want at least 20 invalid manifests, found %d", len(files))
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".yaml"), func(t *testing.T) {
			want := expectation(t, file)
			for _, obj := range readManifests(t, file) {
				obj.SetNamespace(ns)
				err := k8sClient.Create(context.Background(), obj)
				if err == nil {
					t.Fatalf("the API server accepted %s %s; want it rejected with %q", obj.GetKind(), obj.GetName(), want)
				}
				if !apierrors.IsInvalid(err) {
					t.Fatalf("want an Invalid error, got %v", err)
				}
				if !strings.Contains(err.Error(), want) {
					t.Fatalf("message does not name the problem\n got: %v\nwant: ...%s...", err, want)
				}
			}
		})
	}
}

func TestSamplesAreAccepted(t *testing.T) {
	ns := newNamespace(t)
	files, err := filepath.Glob(filepath.Join("..", "config", "samples", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	count := 0
	for _, file := range files {
		if filepath.Base(file) == "kustomization.yaml" {
			continue
		}
		for _, obj := range readManifests(t, file) {
			obj.SetNamespace(ns)
			if err := k8sClient.Create(context.Background(), obj); err != nil {
				t.Errorf("%s: %s %s rejected: %v", filepath.Base(file), obj.GetKind(), obj.GetName(), err)
			}
			count++
		}
	}
	if count < 10 {
		t.Fatalf("want the samples to hold at least 10 objects, found %d", count)
	}
}

// validMetric is an NPS metric over the warehouse's survey responses.
func validMetric(ns, name string) *cxv1.Metric {
	target := 30.0
	return &cxv1.Metric{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: cxv1.MetricSpec{
			Owner:   cxv1.MetricOwner{Team: "customer-success"},
			Source:  &cxv1.LocalObjectReference{Name: "warehouse"},
			Formula: cxv1.FormulaNPS,
			Query: &cxv1.MetricQuery{Table: "survey_responses",
				Columns: &cxv1.QueryColumns{Value: "score", Time: "responded_at"}},
			Objective: cxv1.Objective{Target: &target},
		},
	}
}

func TestMetricDefaultsAreApplied(t *testing.T) {
	ns := newNamespace(t)
	m := validMetric(ns, "nps")
	if err := k8sClient.Create(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	got := m.Spec
	if got.Window != "720h" || got.Interval != "24h" || got.Objective.Direction != cxv1.AtLeast ||
		got.Objective.Confidence != 0.95 || got.Objective.MinSamples != 30 || got.Objective.FalseTaskBudget != 1 ||
		got.Unrated != "Exclude" {
		t.Fatalf("defaults not applied: %+v", got)
	}
}

func validTask(ns string) *cxv1.ImprovementTask {
	return &cxv1.ImprovementTask{
		ObjectMeta: metav1.ObjectMeta{Name: "account-nps-1a2b3c", Namespace: ns},
		Spec: cxv1.ImprovementTaskSpec{
			Metric:         "account-nps",
			Segment:        "persona=admin",
			SegmentValues:  map[string]string{"persona": "admin"},
			Team:           "customer-success",
			EpisodeStart:   metav1.NewTime(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)),
			DefinitionHash: "abc123",
			Objective:      cxv1.TaskObjective{Direction: cxv1.AtLeast, Target: 30, MinShift: 5},
			Priority:       2,
		},
	}
}

func TestTaskOwnerEditsAreChecked(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name string
		edit func(*cxv1.ImprovementTask)
		want string // empty: accepted
	}{
		{"owner starts work", func(it *cxv1.ImprovementTask) { it.Spec.State = cxv1.TaskInProgress }, ""},
		{"owner resolves with a note", func(it *cxv1.ImprovementTask) {
			it.Spec.State = cxv1.TaskResolved
			it.Spec.Resolution = &cxv1.Resolution{Note: "new macro", Attempt: 1}
		}, ""},
		{"metric is immutable", func(it *cxv1.ImprovementTask) { it.Spec.Metric = "other" }, "metric is immutable"},
		// A Metric's task cannot be turned into a Scorecard's, which would
		// verify it on another account's data.
		{"origin cannot move to a scorecard", func(it *cxv1.ImprovementTask) {
			it.Spec.Metric, it.Spec.Scorecard = "", "account-health"
		}, "metric is immutable"},
		{"scorecard cannot be added", func(it *cxv1.ImprovementTask) { it.Spec.Scorecard = "account-health" }, "exactly one of metric and scorecard"},
		{"team is immutable", func(it *cxv1.ImprovementTask) { it.Spec.Team = "other" }, "team is immutable"},
		{"segment is immutable", func(it *cxv1.ImprovementTask) { it.Spec.Segment = "persona=executive" }, "segment is immutable"},
		{"objective is immutable", func(it *cxv1.ImprovementTask) { it.Spec.Objective.Target = 10 }, "objective is immutable"},
		{"episodeStart is immutable", func(it *cxv1.ImprovementTask) {
			it.Spec.EpisodeStart = metav1.NewTime(it.Spec.EpisodeStart.Add(time.Hour))
		}, "episodeStart is immutable"},
		{"dismiss needs a reason", func(it *cxv1.ImprovementTask) { it.Spec.State = cxv1.TaskDismissed }, "dismissReason is required"},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ns := newNamespace(t)
			task := validTask(ns)
			if err := k8sClient.Create(ctx, task); err != nil {
				t.Fatalf("create #%d: %v", i, err)
			}
			patch := client.MergeFrom(task.DeepCopy())
			tc.edit(task)
			err := k8sClient.Patch(ctx, task, patch)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("edit rejected: %v", err)
			case tc.want != "" && err == nil:
				t.Fatalf("edit accepted; want %q", tc.want)
			case tc.want != "" && !strings.Contains(err.Error(), tc.want):
				t.Fatalf("got %v, want %q", err, tc.want)
			}
		})
	}
}

func TestTaskIllegalTransitionsAreRejected(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t)
	task := validTask(ns)
	if err := k8sClient.Create(ctx, task); err != nil {
		t.Fatal(err)
	}
	edit := func(change func(*cxv1.ImprovementTask)) error {
		patch := client.MergeFrom(task.DeepCopy())
		change(task)
		return k8sClient.Patch(ctx, task, patch)
	}
	if err := edit(func(t *cxv1.ImprovementTask) { t.Spec.State = cxv1.TaskInProgress }); err != nil {
		t.Fatal(err)
	}
	if err := edit(func(t *cxv1.ImprovementTask) { t.Spec.State = cxv1.TaskOpen }); err == nil || !strings.Contains(err.Error(), "cannot be moved back to Open") {
		t.Fatalf("InProgress -> Open: got %v", err)
	}
	task.Spec.State = cxv1.TaskInProgress
	if err := edit(func(t *cxv1.ImprovementTask) {
		t.Spec.State = cxv1.TaskDismissed
		t.Spec.DismissReason = "seasonal dip, not a regression"
	}); err != nil {
		t.Fatalf("dismiss: %v", err)
	}
	if err := edit(func(t *cxv1.ImprovementTask) { t.Spec.State = cxv1.TaskInProgress }); err == nil || !strings.Contains(err.Error(), "a dismissed task stays dismissed") {
		t.Fatalf("Dismissed -> InProgress: got %v", err)
	}
}
