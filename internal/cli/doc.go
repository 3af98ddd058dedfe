// Package cli holds the commands of the kubectl plugin `kubectl cx`: the
// owner's inbox and actions on ImprovementTasks, offline validation of
// manifests against the embedded CRDs, plan and backtest through
// internal/engine. It is command-line plumbing, so it may import
// Kubernetes client packages; decisions belong to the engine it calls. It
// must not import controllers: the demo, which runs the manager, lives in
// internal/cli/democmd.
//
// Each subcommand lives in its own file and registers itself, so adding
// one (plan.go, backtest.go) touches no other file:
//
//	func init() { Register(newPlanCommand) }
//
//	func newPlanCommand(g *Globals) *cobra.Command {
//		return &cobra.Command{Use: "plan -f DIR", Short: "...", Example: "...", Args: noArgs, RunE: ...}
//	}
//
// Conventions shared by every command: mistakes on the command line are
// returned as usage errors (usageErrorf, exactArgs, noArgs) and exit 2;
// any other error exits 1 after "error: ..." on stderr, and a command that
// printed its own findings returns a [ReportedError]. -o table|json|yaml
// comes from addOutputFlag, parseOutputFormat, printTable and
// printStructured. g.Client and g.Namespace honour kubectl's --kubeconfig,
// --context and -n flags.
package cli
