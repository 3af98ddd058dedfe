// Package cli holds the commands of the kubectl plugin `kubectl cx`: the
// owner's inbox and actions on ImprovementTasks, offline validation of
// manifests against the embedded CRDs, and the demo. It is command-line
// plumbing, so it may import Kubernetes client packages; decisions belong
// to the engine packages it calls.
//
// Each subcommand lives in its own file and registers itself from an init
// function with [Register], so adding one touches no other file.
package cli
