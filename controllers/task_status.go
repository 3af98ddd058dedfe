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

// phaseOf is a task's phase as the state machine knows it.
func phaseOf(t *cxv1.ImprovementTask) loop.Phase { return loop.Phase(t.Status.Phase) }

// announceRefusals records a Warning event when the task's facts or its
// resolution are newly refused, after the status that says why is written.
func (r *ImprovementTaskReconciler) announceRefusals(task *cxv1.ImprovementTask, st *cxv1.ImprovementTaskStatus, disputed, ignored bool) {
	if r.Recorder == nil {
		return
	}
	for _, c := range []struct {
		kind string
		new  bool
	}{{cxv1.ConditionFactsDisputed, disputed}, {cxv1.ConditionResolutionIgnored, ignored}} {
		if cond := meta.FindStatusCondition(st.Conditions, c.kind); c.new && cond != nil {
			r.Recorder.Eventf(task, nil, "Warning", cond.Reason, "Refuse", "%s", cond.Message)
		}
	}
}
