package controllers

import (
	"context"
	"errors"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	cxv1 "github.com/cxloop/cxloop/api/v1alpha1"
	"github.com/cxloop/cxloop/internal/credentials"
	"github.com/cxloop/cxloop/internal/loop"
	"github.com/cxloop/cxloop/internal/metricspec"
)

// TeamReconciler keeps each Team's status: its task counts, how often its
// fixes are proven on the first attempt and how long proof takes, and
// whether its delivery channels have their credentials.
type TeamReconciler struct {
	client.Client
	// Shard selects the namespaces reconciled; every namespace when nil.
	Shard  *Shard
	Scheme *runtime.Scheme
	// Secrets reads channel credentials; through Client when nil.
	Secrets metricspec.SecretReader
}

// +kubebuilder:rbac:groups=cxloop.dev,resources=teams,verbs=get;list;watch
// +kubebuilder:rbac:groups=cxloop.dev,resources=teams/status,verbs=get;update;patch

// Reconcile recomputes one Team's status from its tasks.
func (r *TeamReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var team cxv1.Team
	if err := r.Get(ctx, req.NamespacedName, &team); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	var tasks cxv1.ImprovementTaskList
	if err := r.List(ctx, &tasks, client.InNamespace(team.Namespace), client.MatchingFields{indexTaskTeam: team.Name}); err != nil {
		return ctrl.Result{}, fmt.Errorf("list tasks of team %s: %w", team.Name, err)
	}
	records := make([]loop.TaskRecord, 0, len(tasks.Items))
	for i := range tasks.Items {
		records = append(records, metricspec.TaskRecord(&tasks.Items[i]))
	}
	sum := loop.Summarize(records)

	next := team.Status.DeepCopy()
	next.ObservedGeneration = team.Generation
	next.OpenTasks, next.VerifyingTasks, next.VerifiedTasks = sum.Open, sum.Verifying, sum.Verified
	next.DismissedTasks, next.EscalatedTasks = sum.Dismissed, sum.Escalated
	next.FirstAttemptVerificationRate = sum.FirstAttemptRate
	next.MedianTimeToVerify = ""
	if sum.MedianTimeToVerify > 0 {
		next.MedianTimeToVerify = sum.MedianTimeToVerify.String()
	}
	ready := metav1.Condition{Type: cxv1.ConditionReady, Status: metav1.ConditionTrue, Reason: "ChannelsConfigured",
		Message:            fmt.Sprintf("%d delivery channel(s) have their credentials", len(team.Spec.Channels)),
		ObservedGeneration: team.Generation}
	if missing, err := r.missingSecrets(ctx, &team); err != nil {
		return ctrl.Result{}, err
	} else if len(missing) > 0 {
		ready.Status, ready.Reason = metav1.ConditionFalse, "SecretNotFound"
		ready.Message = "create the Secret keys the channels name: " + strings.Join(missing, ", ")
	}
	meta.SetStatusCondition(&next.Conditions, ready)
	if unsigned := metricspec.UnsignedWebhooks(&team); len(unsigned) > 0 {
		meta.SetStatusCondition(&next.Conditions, metav1.Condition{Type: cxv1.ConditionUnsigned, Status: metav1.ConditionTrue,
			Reason: "WebhookWithoutSigningKey", ObservedGeneration: team.Generation,
			Message: "webhook channel(s) " + strings.Join(unsigned, ", ") + " deliver unsigned, so their receivers cannot refuse forged or replayed requests; set webhook.signingKey"})
	} else {
		meta.RemoveStatusCondition(&next.Conditions, cxv1.ConditionUnsigned)
	}

	if equality.Semantic.DeepEqual(&team.Status, next) {
		return ctrl.Result{}, nil
	}
	patch := client.MergeFrom(team.DeepCopy())
	team.Status = *next
	return ctrl.Result{}, r.Status().Patch(ctx, &team, patch)
}

// missingSecrets lists the channel credentials that are not in a Secret of
// the team's namespace, as secret/key.
func (r *TeamReconciler) missingSecrets(ctx context.Context, team *cxv1.Team) ([]string, error) {
	var missing []string
	read := r.Secrets
	if read == nil {
		read = credentials.ClusterSecrets(r.Client)
	}
	for _, ref := range metricspec.ChannelSecretRefs(team) {
		data, _, err := read(ctx, team.Namespace, ref.Name)
		switch {
		case errors.Is(err, credentials.ErrNotFound):
			missing = append(missing, ref.Name+"/"+ref.Key)
		case err != nil:
			return nil, err
		case len(data[ref.Key]) == 0:
			missing = append(missing, ref.Name+"/"+ref.Key)
		}
	}
	return missing, nil
}

// SetupWithManager registers the reconciler; a task's change re-counts its
// current team (both teams when it moved), and a Secret's change re-checks the teams of its namespace.
func (r *TeamReconciler) SetupWithManager(mgr ctrl.Manager) error {
	b := ctrl.NewControllerManagedBy(mgr).
		For(&cxv1.Team{}).
		Watches(&cxv1.ImprovementTask{}, handler.EnqueueRequestsFromMapFunc(
			func(_ context.Context, o client.Object) []reconcile.Request {
				t := o.(*cxv1.ImprovementTask)
				// Called with the old and the new object on an update, so a
				// task that moved re-counts the team it left and the one it
				// joined.
				return []reconcile.Request{{NamespacedName: types.NamespacedName{Namespace: t.Namespace, Name: t.CurrentTeam()}}}
			})).
		WatchesMetadata(&corev1.Secret{}, handler.EnqueueRequestsFromMapFunc(r.teamsOfNamespace)).
		Named("team")
	return r.Shard.watch(b, &cxv1.TeamList{}).Complete(r.Shard.gate(r))
}

func (r *TeamReconciler) teamsOfNamespace(ctx context.Context, o client.Object) []reconcile.Request {
	var teams cxv1.TeamList
	if err := r.List(ctx, &teams, client.InNamespace(o.GetNamespace())); err != nil {
		return nil
	}
	reqs := make([]reconcile.Request, 0, len(teams.Items))
	for _, t := range teams.Items {
		reqs = append(reqs, reconcile.Request{NamespacedName: types.NamespacedName{Namespace: t.Namespace, Name: t.Name}})
	}
	return reqs
}
