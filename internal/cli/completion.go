package cli

import (
	"strings"

	"github.com/spf13/cobra"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cxv1 "github.com/cxloop/cxloop/api/v1alpha1"
)

// completeOpenTasks completes the TASK argument of the owner's actions with
// the names of the namespace's tasks that are neither closed nor dismissed, so
// "kubectl cx resolve <TAB>" offers what can still be resolved.
func completeOpenTasks(g *Globals) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		if len(args) > 0 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		c, err := g.Client()
		if err != nil {
			return nil, cobra.ShellCompDirectiveError
		}
		ns, err := g.Namespace()
		if err != nil {
			return nil, cobra.ShellCompDirectiveError
		}
		var list cxv1.ImprovementTaskList
		if err := c.List(cmd.Context(), &list, client.InNamespace(ns)); err != nil {
			return nil, cobra.ShellCompDirectiveError
		}
		var names []cobra.Completion
		for _, t := range list.Items {
			if !isFinalPhase(t.Status.Phase) && t.Spec.State != cxv1.TaskDismissed && strings.HasPrefix(t.Name, toComplete) {
				names = append(names, t.Name)
			}
		}
		return names, cobra.ShellCompDirectiveNoFileComp
	}
}
