package e2e

import (
	"context"
	"fmt"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/cxloop/cxloop/internal/testutil"

	"k8s.io/apimachinery/pkg/api/meta"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cxv1 "github.com/cxloop/cxloop/api/v1alpha1"
)

type deliveryKey struct {
	channel, event string
	attempt        int32
}

// latestDeliveries is each delivery's latest record, in the order the
// deliveries were first planned.
func latestDeliveries(task *cxv1.ImprovementTask) []cxv1.DeliveryRecord {
	latest := map[deliveryKey]cxv1.DeliveryRecord{}
	var order []deliveryKey
	for _, d := range task.Status.Deliveries {
		k := deliveryKey{d.Channel, d.Event, d.Attempt}
		if _, seen := latest[k]; !seen {
			order = append(order, k)
		}
		latest[k] = d
	}
	out := make([]cxv1.DeliveryRecord, 0, len(order))
	for _, k := range order {
		out = append(out, latest[k])
	}
	return out
}

var eventMarker = regexp.MustCompile(`cxloop-event: (\S+) attempt=(\d+) key=`)

func (p *play) snapshot(t *testing.T, step string) snapshot {
	t.Helper()
	ctx := context.Background()
	s := snapshot{Step: step}
	var metrics cxv1.MetricList
	if err := k8sClient.List(ctx, &metrics, client.InNamespace(p.ns)); err != nil {
		t.Fatal(err)
	}
	for _, m := range metrics.Items {
		v := metricView{Name: m.Name, State: m.Status.State, Value: m.Status.Value, Samples: m.Status.Samples}
		if d := m.Status.Detector; d != nil {
			if d.FedUntil != nil {
				v.FedUntil = d.FedUntil.UTC().Format(time.RFC3339)
			}
			for _, seg := range d.Segments {
				if seg.EpisodeStart != nil {
					v.Episodes = append(v.Episodes, seg.Segment+"@"+seg.EpisodeStart.UTC().Format(time.RFC3339))
				}
			}
		}
		s.Metrics = append(s.Metrics, v)
	}
	var tasks cxv1.ImprovementTaskList
	if err := k8sClient.List(ctx, &tasks, client.InNamespace(p.ns)); err != nil {
		t.Fatal(err)
	}
	for _, task := range tasks.Items {
		st := task.Status
		v := taskView{Metric: task.Spec.Metric, Segment: task.Spec.Segment, EpisodeStart: task.Spec.EpisodeStart.UTC().Format(time.RFC3339),
			OwnerState: task.Spec.State, Phase: st.Phase, Attempt: st.Attempt, EscalatedTo: st.EscalatedTo, Reason: st.Reason,
			Escalated: meta.IsStatusConditionTrue(st.Conditions, cxv1.ConditionEscalated), Verification: st.Verification}
		if st.ResolvedAt != nil {
			v.ResolvedAt = st.ResolvedAt.UTC().Format(time.RFC3339)
		}
		for _, m := range st.Measurements {
			val := "none"
			if m.Value != nil {
				val = fmt.Sprint(*m.Value)
			}
			v.Measurements = append(v.Measurements, fmt.Sprintf("%s %s n=%d", m.Time.UTC().Format(time.RFC3339), val, m.Samples))
		}
		for _, d := range latestDeliveries(&task) {
			if d.Succeeded {
				v.Delivered = append(v.Delivered, fmt.Sprintf("%s %s attempt=%d", d.Channel, d.Event, d.Attempt))
			}
		}
		s.Tasks = append(s.Tasks, v)
	}
	sort.Slice(s.Tasks, func(i, j int) bool {
		return s.Tasks[i].Metric+s.Tasks[i].Segment+s.Tasks[i].EpisodeStart < s.Tasks[j].Metric+s.Tasks[j].Segment+s.Tasks[j].EpisodeStart
	})
	for _, repo := range []string{p.repo, p.repo + "-leadership"} {
		for _, is := range p.gh.snapshot(repo) {
			v := issueView{Repo: strings.TrimPrefix(repo, p.repo), Title: is.Title, State: is.State, StateReason: is.StateReason, Labels: is.Labels}
			for _, c := range is.Comments {
				if m := eventMarker.FindStringSubmatch(c); m != nil {
					v.Events = append(v.Events, m[1]+" attempt="+m[2])
				} else {
					v.Events = append(v.Events, "comment without a marker")
				}
			}
			s.Issues = append(s.Issues, v)
		}
	}
	sort.SliceStable(s.Issues, func(i, j int) bool {
		return s.Issues[i].Repo+s.Issues[i].Title < s.Issues[j].Repo+s.Issues[j].Title
	})
	return s
}

// diff lists the fields in which got differs from want.
func diff(want, got *snapshot) string {
	var b strings.Builder
	line := func(what string, w, g any) {
		if !reflect.DeepEqual(w, g) {
			fmt.Fprintf(&b, "%s:\n  want %+v\n  got  %+v\n", what, w, g)
		}
	}
	line("metrics", want.Metrics, got.Metrics)
	line("tasks", want.Tasks, got.Tasks)
	line("issues", want.Issues, got.Issues)
	return b.String()
}

// eventually polls cond until it holds or the timeout passes.
var eventually = testutil.Eventually

// final reports whether a task in phase p is closed.
func final(p cxv1.TaskPhase) bool {
	switch p {
	case cxv1.PhaseVerified, cxv1.PhaseRecovered, cxv1.PhaseDismissed, cxv1.PhaseCancelled:
		return true
	}
	return false
}
