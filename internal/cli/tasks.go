package cli

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cxv1 "github.com/cxloop/cxloop/api/v1alpha1"
	"github.com/cxloop/cxloop/internal/loop"
)

func init() { Register(newTasksCommand) }

const tasksLong = `List ImprovementTasks, the owner's inbox, most urgent first: by priority
(1 is the most urgent), then by due date (tasks without one last), then by
age (oldest first).

By default only tasks still waiting on someone are listed (phases Open,
InProgress, Verifying and Reopened); --phase selects one phase, or "all".

CURRENT is the latest value measured on fresh data since the resolution
(status.measurements), when there is one.`

// tasksOptions are the flags of `tasks`.
type tasksOptions struct {
	team          string
	phase         string
	allNamespaces bool
	output        string
}

func newTasksCommand(g *Globals) *cobra.Command {
	o := &tasksOptions{}
	cmd := &cobra.Command{
		Use:     "tasks",
		Aliases: []string{"task", "inbox"},
		Short:   "List improvement tasks, most urgent first",
		Long:    tasksLong,
		Example: `  # the open tasks of the support team in the current namespace
  kubectl cx tasks --team support

  # every task waiting for verification, in all namespaces, as JSON
  kubectl cx tasks -A --phase Verifying -o json

  # closed tasks too
  kubectl cx tasks --phase all`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runTasks(cmd, g, o)
		},
	}
	cmd.Flags().StringVar(&o.team, "team", "", "only tasks owned by this team")
	cmd.Flags().StringVar(&o.phase, "phase", "", "only tasks in this phase (Open, InProgress, Verifying, Verified, Reopened, Recovered, Dismissed, Cancelled, or all)")
	cmd.Flags().BoolVarP(&o.allNamespaces, "all-namespaces", "A", false, "list tasks in all namespaces")
	addOutputFlag(cmd, &o.output)
	return cmd
}

// TaskRow is one line of the inbox; JSON and YAML print the same rows, so
// scripts read the fields below.
type TaskRow struct {
	// Namespace of the task.
	Namespace string `json:"namespace"`
	// Name of the task.
	Name string `json:"name"`
	// Priority from 1 (most urgent) to 4: the first sort key.
	Priority int32 `json:"priority"`
	// Team that owns the task now: the Metric's current owner while the
	// task is open, which may differ from the team it was opened for.
	Team string `json:"team"`
	// Metric whose episode opened the task; empty for a Scorecard's task.
	Metric string `json:"metric,omitempty"`
	// Scorecard whose account opened the task; empty for a Metric's task.
	Scorecard string `json:"scorecard,omitempty"`
	// Segment key, empty for the whole population.
	Segment string `json:"segment"`
	// Phase in the loop; Open until the operator first writes status.
	Phase cxv1.TaskPhase `json:"phase"`
	// Attempt is the owner's try, 0 before the operator counts it.
	Attempt int32 `json:"attempt"`
	// Baseline value before the episode, when recorded.
	Baseline *float64 `json:"baseline,omitempty"`
	// Target the metric must hold again.
	Target float64 `json:"target"`
	// Direction says which side of the target is good.
	Direction cxv1.Direction `json:"direction"`
	// Current is the latest value measured on fresh data since the
	// resolution, if any.
	Current *float64 `json:"current,omitempty"`
	// Due is when the fix is expected, if set.
	Due *time.Time `json:"due,omitempty"`
	// Created is when the task opened: the last sort key, oldest first.
	Created time.Time `json:"created"`
	// State is the owner's word on the task (spec.state).
	State cxv1.TaskState `json:"state,omitempty"`
}

// allPhases lists the phases --phase accepts.
var allPhases = []cxv1.TaskPhase{
	cxv1.PhaseOpen, cxv1.PhaseInProgress, cxv1.PhaseVerifying, cxv1.PhaseVerified,
	cxv1.PhaseReopened, cxv1.PhaseRecovered, cxv1.PhaseDismissed, cxv1.PhaseCancelled,
}

// phaseFilter returns whether a phase is listed, from the --phase value.
func phaseFilter(value string) (func(cxv1.TaskPhase) bool, error) {
	switch strings.ToLower(value) {
	case "":
		return func(p cxv1.TaskPhase) bool { return !isFinalPhase(p) }, nil
	case "all":
		return func(cxv1.TaskPhase) bool { return true }, nil
	}
	for _, p := range allPhases {
		if strings.EqualFold(string(p), value) {
			return func(q cxv1.TaskPhase) bool { return q == p || (p == cxv1.PhaseOpen && q == "") }, nil
		}
	}
	return nil, usageErrorf("unknown phase %q: use one of %v or all", value, allPhases)
}

// isFinalPhase reports whether nothing more will happen to a task, in the
// state machine's own words.
func isFinalPhase(p cxv1.TaskPhase) bool { return loop.Phase(p).Final() }

func runTasks(cmd *cobra.Command, g *Globals, o *tasksOptions) error {
	format, err := parseOutputFormat(o.output)
	if err != nil {
		return err
	}
	keep, err := phaseFilter(o.phase)
	if err != nil {
		return err
	}
	c, err := g.Client()
	if err != nil {
		return err
	}
	var opts []client.ListOption
	if !o.allNamespaces {
		ns, err := g.Namespace()
		if err != nil {
			return err
		}
		opts = append(opts, client.InNamespace(ns))
	}
	var list cxv1.ImprovementTaskList
	if err := c.List(cmd.Context(), &list, opts...); err != nil {
		return fmt.Errorf("list improvement tasks: %w", err)
	}
	rows := make([]TaskRow, 0, len(list.Items))
	for i := range list.Items {
		t := &list.Items[i]
		if (o.team != "" && t.CurrentTeam() != o.team) || !keep(t.Status.Phase) {
			continue
		}
		rows = append(rows, taskRow(t))
	}
	SortTaskRows(rows)
	if format != outputTable {
		return printStructured(g.Streams.Out, format, rows)
	}
	if len(rows) == 0 {
		fmt.Fprintln(g.Streams.ErrOut, "No improvement tasks found.")
		return nil
	}
	return printTable(g.Streams.Out, taskHeader(o.allNamespaces), taskCells(rows, o.allNamespaces))
}

// origin names what opened the task: its Metric, or its Scorecard as
// scorecard/NAME.
func (r TaskRow) origin() string {
	if r.Scorecard != "" {
		return "scorecard/" + r.Scorecard
	}
	return r.Metric
}

// taskRow extracts the inbox row of a task.
func taskRow(t *cxv1.ImprovementTask) TaskRow {
	r := TaskRow{
		Namespace: t.Namespace,
		Name:      t.Name,
		Priority:  t.Spec.Priority,
		Team:      t.CurrentTeam(),
		Metric:    t.Spec.Metric,
		Scorecard: t.Spec.Scorecard,
		Segment:   t.Spec.Segment,
		Phase:     t.Status.Phase,
		Attempt:   t.Status.Attempt,
		Target:    t.Spec.Objective.Target,
		Direction: t.Spec.Objective.Direction,
		Created:   t.CreationTimestamp.UTC(),
		State:     t.Spec.State,
	}
	if r.Phase == "" {
		r.Phase = cxv1.PhaseOpen
	}
	if t.Spec.Baseline != nil {
		v := t.Spec.Baseline.Value
		r.Baseline = &v
	}
	if m := t.Status.Measurements; len(m) > 0 && m[len(m)-1].Value != nil {
		v := *m[len(m)-1].Value
		r.Current = &v
	}
	if t.Spec.DueDate != nil {
		d := t.Spec.DueDate.UTC()
		r.Due = &d
	}
	return r
}

// SortTaskRows orders an inbox most urgent first: priority, due date (none
// last), age (oldest first), then namespace and name so the order is
// stable.
func SortTaskRows(rows []TaskRow) {
	sort.SliceStable(rows, func(i, j int) bool {
		a, b := rows[i], rows[j]
		if a.Priority != b.Priority {
			return a.Priority < b.Priority
		}
		if (a.Due == nil) != (b.Due == nil) {
			return a.Due != nil
		}
		if a.Due != nil && !a.Due.Equal(*b.Due) {
			return a.Due.Before(*b.Due)
		}
		if !a.Created.Equal(b.Created) {
			return a.Created.Before(b.Created)
		}
		if a.Namespace != b.Namespace {
			return a.Namespace < b.Namespace
		}
		return a.Name < b.Name
	})
}

func taskHeader(allNamespaces bool) []string {
	h := []string{"NAME", "PRIORITY", "TEAM", "METRIC", "SEGMENT", "PHASE", "ATTEMPT", "BASELINE", "TARGET", "CURRENT", "DUE"}
	if allNamespaces {
		h = append([]string{"NAMESPACE"}, h...)
	}
	return h
}

func taskCells(rows []TaskRow, allNamespaces bool) [][]string {
	out := make([][]string, 0, len(rows))
	for _, r := range rows {
		segment := r.Segment
		if segment == "" {
			segment = "(all)"
		}
		attempt := noValue
		if r.Attempt > 0 {
			attempt = strconv.Itoa(int(r.Attempt))
		}
		due := noValue
		if r.Due != nil {
			due = r.Due.Format(time.DateOnly)
		}
		target := r.Target
		cells := []string{r.Name, strconv.Itoa(int(r.Priority)), r.Team, r.origin(), segment, string(r.Phase),
			attempt, formatNumber(r.Baseline), targetCell(r.Direction, &target), formatNumber(r.Current), due}
		if allNamespaces {
			cells = append([]string{r.Namespace}, cells...)
		}
		out = append(out, cells)
	}
	return out
}

// targetCell shows the target with its direction: ">=30" for AtLeast,
// "<=4h" style for AtMost, so the owner reads which side is good.
func targetCell(d cxv1.Direction, v *float64) string {
	switch d {
	case cxv1.AtLeast:
		return ">=" + formatNumber(v)
	case cxv1.AtMost:
		return "<=" + formatNumber(v)
	}
	return formatNumber(v)
}
