package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	authnv1 "k8s.io/api/authentication/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cxv1 "github.com/cxloop/cxloop/api/v1alpha1"
)

func init() {
	Register(newStartCommand)
	Register(newResolveCommand)
	Register(newDismissCommand)
}

// The owner's actions write only the owner's fields of a task's spec
// (state, resolution, dismissReason) with a JSON merge patch; the API
// server's CEL rules decide which moves are legal, and its message is shown
// when it refuses one. resolve and dismiss also note who acted.

// Annotations naming who resolved or dismissed a task: the username the
// API server authenticated (a SelfSubjectReview) when `kubectl cx
// resolve` or `dismiss` ran. They are informational, for people reading
// the task: anyone allowed to patch the task can write any value there
// with kubectl, so the API server's audit log, not these, is the record of
// who acted.
const (
	ResolvedByAnnotation  = "cxloop.dev/resolved-by"
	DismissedByAnnotation = "cxloop.dev/dismissed-by"
)

// whoActed notes, informationally, who ran the command.
const whoActed = `
The command asks the API server who you are (a SelfSubjectReview) and
records that username in the annotation %s. It is informational:
anyone allowed to patch the task can write any value there with kubectl, so
the API server's audit log remains the record of who acted.`

func newStartCommand(g *Globals) *cobra.Command {
	return &cobra.Command{
		Use:   "start TASK",
		Short: "Tell the loop you are working on a task",
		Long: `Move a task to InProgress (spec.state). Nothing else changes; the operator
moves the task's phase when it observes the new state.`,
		Example:           `  kubectl cx start account-nps-7f3a9c -n cx`,
		Args:              exactArgs(1, "TASK"),
		ValidArgsFunction: completeOpenTasks(g),
		RunE: func(cmd *cobra.Command, args []string) error {
			return ownerAction(cmd, g, args[0], "started", "", func(*cxv1.ImprovementTask) map[string]any {
				return map[string]any{"spec": map[string]any{"state": cxv1.TaskInProgress}}
			})
		},
	}
}

func newResolveCommand(g *Globals) *cobra.Command {
	var note string
	cmd := &cobra.Command{
		Use:   "resolve TASK --note \"what changed\"",
		Short: "Say a fix is in, so the loop verifies it on fresh data",
		Long: `Move a task to Resolved with a note saying what changed (spec.state and
spec.resolution). The resolution answers the task's current attempt
(status.attempt, 1 before the operator sets it), so a reopened task is
resolved again with its next attempt. The operator then measures data newer
than the resolution and closes the task as Verified only when it proves the
fix, or reopens it.

The patch carries the resourceVersion that was read: if the task changed in
between (a reopening raises the attempt), the API server refuses it and the
command can simply be run again.` + fmt.Sprintf(whoActed, ResolvedByAnnotation),
		Example:           `  kubectl cx resolve account-nps-7f3a9c --note "rewrote the onboarding email for admins"`,
		Args:              exactArgs(1, "TASK"),
		ValidArgsFunction: completeOpenTasks(g),
		RunE: func(cmd *cobra.Command, args []string) error {
			if strings.TrimSpace(note) == "" {
				return usageErrorf("resolve needs --note saying what changed")
			}
			return ownerAction(cmd, g, args[0], "resolved", ResolvedByAnnotation, func(t *cxv1.ImprovementTask) map[string]any {
				return resolvePatch(t, note)
			})
		},
	}
	cmd.Flags().StringVar(&note, "note", "", "what changed (required)")
	return cmd
}

// resolvePatch is the merge patch that resolves a task's current attempt.
func resolvePatch(t *cxv1.ImprovementTask, note string) map[string]any {
	attempt := t.Status.Attempt
	if attempt < 1 {
		attempt = 1
	}
	return map[string]any{
		"metadata": map[string]any{"resourceVersion": t.ResourceVersion},
		"spec": map[string]any{
			"state":      cxv1.TaskResolved,
			"resolution": map[string]any{"note": note, "attempt": attempt},
		},
	}
}

func newDismissCommand(g *Globals) *cobra.Command {
	var reason string
	cmd := &cobra.Command{
		Use:   "dismiss TASK --reason \"why\"",
		Short: "Close a task as a false alarm, saying why",
		Long: `Move a task to Dismissed with a reason (spec.state and spec.dismissReason).
A dismissed task stays dismissed. Dismissals are how the real false-task
rate is measured, so say why the drop was not real or not actionable.` + fmt.Sprintf(whoActed, DismissedByAnnotation),
		Example:           `  kubectl cx dismiss account-nps-7f3a9c --reason "survey sent twice to the same accounts"`,
		Args:              exactArgs(1, "TASK"),
		ValidArgsFunction: completeOpenTasks(g),
		RunE: func(cmd *cobra.Command, args []string) error {
			if strings.TrimSpace(reason) == "" {
				return usageErrorf("dismiss needs --reason saying why the task is a false alarm")
			}
			return ownerAction(cmd, g, args[0], "dismissed", DismissedByAnnotation, func(*cxv1.ImprovementTask) map[string]any {
				return map[string]any{"spec": map[string]any{"state": cxv1.TaskDismissed, "dismissReason": reason}}
			})
		},
	}
	cmd.Flags().StringVar(&reason, "reason", "", "why the task is a false alarm (required)")
	return cmd
}

// ownerAction reads the task, builds the patch from it and sends it. With
// byAnnotation set, the patch also records who acted there.
func ownerAction(cmd *cobra.Command, g *Globals, name, verb, byAnnotation string, patch func(*cxv1.ImprovementTask) map[string]any) error {
	c, err := g.Client()
	if err != nil {
		return err
	}
	ns, err := g.Namespace()
	if err != nil {
		return err
	}
	ctx := cmd.Context()
	task := &cxv1.ImprovementTask{}
	if err := c.Get(ctx, types.NamespacedName{Namespace: ns, Name: name}, task); err != nil {
		if apierrors.IsNotFound(err) {
			return fmt.Errorf("no improvement task %q in namespace %q", name, ns)
		}
		return fmt.Errorf("read improvement task %s/%s: %w", ns, name, err)
	}
	body := patch(task)
	if byAnnotation != "" {
		// Who acted is a note beside the action, not part of it: a cluster
		// that cannot say (no SelfSubjectReview API) still lets the owner
		// act, with a warning.
		if who, err := g.username(ctx); err != nil {
			fmt.Fprintf(g.Streams.ErrOut, "warning: %s is not recorded: %v\n", byAnnotation, err)
		} else {
			withAnnotation(body, byAnnotation, who)
		}
	}
	data, err := json.Marshal(body)
	if err != nil {
		return err
	}
	if err := c.Patch(ctx, task, client.RawPatch(types.MergePatchType, data)); err != nil {
		if apierrors.IsConflict(err) {
			return fmt.Errorf("improvement task %s/%s changed while it was being %s; run the command again: %w", ns, name, verb, err)
		}
		// The API server's message names the rule that refused the move.
		return err
	}
	fmt.Fprintf(g.Streams.Out, "improvementtask.cxloop.dev/%s %s\n", task.Name, verb)
	return nil
}

// withAnnotation adds metadata.annotations[key] = value to a merge patch.
func withAnnotation(patch map[string]any, key, value string) {
	md, ok := patch["metadata"].(map[string]any)
	if !ok {
		md = map[string]any{}
		patch["metadata"] = md
	}
	md["annotations"] = map[string]any{key: value}
}

// username is who the API server says the kubeconfig's credentials are
// (impersonation included), from a SelfSubjectReview.
func (g *Globals) username(ctx context.Context) (string, error) {
	cfg, err := g.ConfigFlags.ToRESTConfig()
	if err != nil {
		return "", fmt.Errorf("load the kubeconfig: %w", err)
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return "", fmt.Errorf("connect to the cluster: %w", err)
	}
	review, err := cs.AuthenticationV1().SelfSubjectReviews().Create(ctx, &authnv1.SelfSubjectReview{}, metav1.CreateOptions{})
	if err != nil {
		return "", fmt.Errorf("ask the API server who you are: %w", err)
	}
	if review.Status.UserInfo.Username == "" {
		return "", fmt.Errorf("the API server's SelfSubjectReview names no user")
	}
	return review.Status.UserInfo.Username, nil
}
