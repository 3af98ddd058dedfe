package controllers

import (
	"context"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cxv1 "github.com/cxloop/cxloop/api/v1alpha1"
	"github.com/cxloop/cxloop/internal/loop"
)

// writeStatus patches the task's status when it changed, with optimistic
// locking.
func (r *ImprovementTaskReconciler) writeStatus(ctx context.Context, task *cxv1.ImprovementTask, status *cxv1.ImprovementTaskStatus) error {
	if equality.Semantic.DeepEqual(&task.Status, status) {
		return nil
	}
	patch := client.MergeFromWithOptions(task.DeepCopy(), client.MergeFromWithOptimisticLock{})
	task.Status = *status
	if err := r.Status().Patch(ctx, task, patch); err != nil {
		return fmt.Errorf("write status of task %s: %w", task.Name, err)
	}
	return nil
}

// labelTeam names a task's current team, so that
// `kubectl get itask -l cxloop.dev/team=NAME` lists what a team owns now.
const labelTeam = "cxloop.dev/team"

// reassign records in st the team that owns the task now. A task that
// stays open follows its Metric's owner, so a Metric handed to another
// team takes its open work along; a closed task stays with the team that
// had it, whose record it is. It reports the team the task moved from.
func reassign(st *cxv1.ImprovementTaskStatus, openedFor, owner string, open bool, now time.Time) (from string, moved bool) {
	if st.Team == "" {
		st.Team = openedFor
	}
	if !open || owner == "" || owner == st.Team {
		return "", false
	}
	from = st.Team
	st.PreviousTeam, st.Team = from, owner
	at := metav1.NewTime(now)
	st.ReassignedAt = &at
	return from, true
}

// syncTeamLabel makes the task's team label name its current team. A team
// name that cannot be a label value (over 63 characters) removes the label
// rather than leave it naming the wrong team.
func (r *ImprovementTaskReconciler) syncTeamLabel(ctx context.Context, task *cxv1.ImprovementTask) error {
	team := task.CurrentTeam()
	valid := len(validation.IsValidLabelValue(team)) == 0
	if got, ok := task.Labels[labelTeam]; (valid && got == team) || (!valid && !ok) {
		return nil
	}
	patch := client.MergeFrom(task.DeepCopy())
	if task.Labels == nil {
		task.Labels = map[string]string{}
	}
	if valid {
		task.Labels[labelTeam] = team
	} else {
		delete(task.Labels, labelTeam)
	}
	if err := r.Patch(ctx, task, patch); err != nil {
		return fmt.Errorf("label task %s with team %s: %w", task.Name, team, err)
	}
	return nil
}

func eventType(ev loop.Event) string {
	switch ev {
	case loop.EventReopened, loop.EventEscalated:
		return "Warning"
	}
	return "Normal"
}

// recordMeasurement keeps one measurement per evaluation window: the
// fresh data is read up to the window's aligned end, so every reconcile
// within one window measures the same thing and replaces the entry rather
// than adding another. Appending on each reconcile would write status on
// every reconcile, each write would trigger the next reconcile, and the
// bounded history would fill with copies of one window.
func recordMeasurement(list []cxv1.TaskMeasurement, m cxv1.TaskMeasurement) []cxv1.TaskMeasurement {
	if n := len(list); n > 0 && list[n-1].Time.Equal(&m.Time) {
		out := append([]cxv1.TaskMeasurement(nil), list...)
		out[n-1] = m
		return out
	}
	return appendBounded(list, m, cxv1.MaxHistory)
}

func appendBounded[T any](list []T, item T, max int) []T {
	list = append(list, item)
	if len(list) > max {
		list = append([]T(nil), list[len(list)-max:]...)
	}
	return list
}

func ownerOf(t *cxv1.ImprovementTask) loop.Owner {
	o := loop.Owner{State: loop.OwnerState(t.Spec.State)}
	if o.State == "" {
		o.State = loop.OwnerOpen
	}
	if t.Spec.Resolution != nil {
		o.ResolutionAttempt = t.Spec.Resolution.Attempt
	}
	return o
}

func statusOf(t *cxv1.ImprovementTask) loop.Status {
	st := &t.Status
	s := loop.Status{
		Phase: loop.Phase(st.Phase), Attempt: st.Attempt, Reason: st.Reason, Message: st.Message,
		Escalated: meta.IsStatusConditionTrue(st.Conditions, cxv1.ConditionEscalated),
	}
	if st.ResolvedAt != nil {
		x := st.ResolvedAt.Time
		s.ResolvedAt = &x
	}
	if st.ClosedAt != nil {
		x := st.ClosedAt.Time
		s.ClosedAt = &x
	}
	if v := st.Verification; v != nil {
		s.Improvement = &loop.Improvement{Value: v.Improvement, Lower: v.Lower, Upper: v.Upper, Samples: v.Samples, Level: v.Level}
	}
	return s
}

func applyStatus(st *cxv1.ImprovementTaskStatus, s loop.Status, generation int64) {
	st.ObservedGeneration = generation
	st.Phase, st.Attempt, st.Reason, st.Message = cxv1.TaskPhase(s.Phase), s.Attempt, s.Reason, truncate(s.Message, 1024)
	st.ResolvedAt, st.ClosedAt = timePtr(s.ResolvedAt), timePtr(s.ClosedAt)
	st.Verification = nil
	if imp := s.Improvement; imp != nil {
		st.Verification = &cxv1.Verification{Improvement: imp.Value, Lower: imp.Lower, Upper: imp.Upper, Samples: imp.Samples, Level: imp.Level}
	}
	meta.SetStatusCondition(&st.Conditions, metav1.Condition{Type: cxv1.ConditionReady, Status: metav1.ConditionTrue,
		Reason: string(s.Phase), Message: "the task is tracked", ObservedGeneration: generation})
}

func timePtr(t *time.Time) *metav1.Time {
	if t == nil {
		return nil
	}
	mt := metav1.NewTime(*t)
	return &mt
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// phaseOf is a task's phase as the state machine knows it.
func phaseOf(t *cxv1.ImprovementTask) loop.Phase { return loop.Phase(t.Status.Phase) }
