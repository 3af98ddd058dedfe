package cli

import (
	"cmp"
	"fmt"
	"io"
	"slices"
	"strconv"
	"time"

	"github.com/spf13/cobra"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cxv1 "github.com/cxloop/cxloop/api/v1alpha1"
	"github.com/cxloop/cxloop/internal/metricspec"
)

func init() { Register(newAccountCommand) }

const accountLong = `Show one account across the namespace: its row on every Scorecard that
scores it (score with its interval, value, coverage, each member's value and
score, and the member that pulls it down most), then its timeline: every
improvement task opened for a segment of the account, open or closed, oldest
first, with the improvement verified on fresh data.

A task belongs to the account when one of its segment's values is the
account under a Scorecard's key column (or its key), so the tasks of Metrics
segmented by account, persona and account, or account and stage all count.`

type accountOptions struct {
	output string
}

func newAccountCommand(g *Globals) *cobra.Command {
	o := &accountOptions{}
	cmd := &cobra.Command{
		Use:   "account ACCOUNT",
		Short: "Show an account's scorecards, tasks and verified improvements",
		Long:  accountLong,
		Example: `  # the health and the timeline of one account
  kubectl cx account "Acme Corp" -n customer-success

  # the same as JSON, for a review deck
  kubectl cx account "Acme Corp" -o json`,
		Args: exactArgs(1, "ACCOUNT"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runAccount(cmd, g, o, args[0])
		},
	}
	addOutputFlag(cmd, &o.output)
	return cmd
}

// AccountView is what `account -o json` prints.
type AccountView struct {
	// Account as the key columns hold it.
	Account string `json:"account"`
	// Namespace searched.
	Namespace string `json:"namespace"`
	// Scorecards that score the account.
	Scorecards []AccountScorecard `json:"scorecards"`
	// Timeline holds the account's tasks, oldest first.
	Timeline []AccountTask `json:"timeline"`
}

// AccountScorecard is the account's row on one Scorecard.
type AccountScorecard struct {
	// Scorecard's name.
	Scorecard string `json:"scorecard"`
	// Target score of the Scorecard's objective.
	Target float64 `json:"target"`
	// AtRisk is true when the account scores below the target.
	AtRisk bool `json:"atRisk"`
	// EvaluatedAt is when the Scorecard scored it.
	EvaluatedAt *time.Time `json:"evaluatedAt,omitempty"`
	cxv1.ScorecardAccount
}

// AccountTask is one task of the account's timeline.
type AccountTask struct {
	TaskRow
	// Opened is the episode's start; Closed when the task closed.
	Opened time.Time  `json:"opened"`
	Closed *time.Time `json:"closed,omitempty"`
	// Improvement verified on fresh data, with its interval, when
	// Verified.
	Improvement *cxv1.Verification `json:"improvement,omitempty"`
}

func runAccount(cmd *cobra.Command, g *Globals, o *accountOptions, account string) error {
	format, err := parseOutputFormat(o.output)
	if err != nil {
		return err
	}
	c, err := g.Client()
	if err != nil {
		return err
	}
	ns, err := g.Namespace()
	if err != nil {
		return err
	}
	var scorecards cxv1.ScorecardList
	if err := c.List(cmd.Context(), &scorecards, client.InNamespace(ns)); err != nil {
		return fmt.Errorf("list scorecards: %w", err)
	}
	var tasks cxv1.ImprovementTaskList
	if err := c.List(cmd.Context(), &tasks, client.InNamespace(ns)); err != nil {
		return fmt.Errorf("list improvement tasks: %w", err)
	}
	view, err := accountView(account, ns, scorecards.Items, tasks.Items)
	if err != nil {
		return err
	}
	if format != outputTable {
		return printStructured(g.Streams.Out, format, view)
	}
	if len(view.Scorecards) == 0 && len(view.Timeline) == 0 {
		fmt.Fprintf(g.Streams.ErrOut, "No scorecard scores %q and no task names it in namespace %s.\n", account, ns)
		return nil
	}
	return printAccount(g.Streams.Out, view)
}

// accountView gathers an account's rows and tasks.
func accountView(account, ns string, scorecards []cxv1.Scorecard, tasks []cxv1.ImprovementTask) (AccountView, error) {
	view := AccountView{Account: account, Namespace: ns, Scorecards: []AccountScorecard{}, Timeline: []AccountTask{}}
	columns := map[string]bool{}
	for i := range scorecards {
		sc := &scorecards[i]
		columns[sc.Spec.Key] = true
		for _, m := range sc.Spec.Members {
			columns[m.KeyColumn] = true
		}
		accounts, err := metricspec.DecodeScorecardAccounts(sc.Status.EncodedAccounts)
		if err != nil {
			return view, fmt.Errorf("scorecard %s: %w", sc.Name, err)
		}
		i, found := slices.BinarySearchFunc(accounts, account, func(a cxv1.ScorecardAccount, k string) int { return cmp.Compare(a.Key, k) })
		if !found {
			continue
		}
		row := AccountScorecard{Scorecard: sc.Name, Target: sc.Spec.Objective.Target, ScorecardAccount: accounts[i]}
		row.AtRisk = row.Score < row.Target
		if at := sc.Status.EvaluatedAt; at != nil {
			t := at.UTC()
			row.EvaluatedAt = &t
		}
		view.Scorecards = append(view.Scorecards, row)
	}
	for i := range tasks {
		t := &tasks[i]
		if !namesAccount(t.Spec.SegmentValues, columns, account) {
			continue
		}
		at := AccountTask{TaskRow: taskRow(t), Opened: t.Spec.EpisodeStart.UTC()}
		if c := t.Status.ClosedAt; c != nil {
			closed := c.UTC()
			at.Closed = &closed
		}
		if t.Status.Phase == cxv1.PhaseVerified {
			at.Improvement = t.Status.Verification
		}
		view.Timeline = append(view.Timeline, at)
	}
	slices.SortStableFunc(view.Timeline, func(a, b AccountTask) int {
		return cmp.Or(a.Opened.Compare(b.Opened), cmp.Compare(a.Metric, b.Metric), cmp.Compare(a.Name, b.Name))
	})
	return view, nil
}

// namesAccount reports whether a segment's values hold the account under
// one of the key columns.
func namesAccount(values map[string]string, columns map[string]bool, account string) bool {
	for col, v := range values {
		if v == account && columns[col] {
			return true
		}
	}
	return false
}

func printAccount(w io.Writer, v AccountView) error {
	for _, sc := range v.Scorecards {
		state := "healthy"
		if sc.AtRisk {
			state = "AT RISK"
		}
		fmt.Fprintf(w, "Scorecard %s: %s scores %.1f [%.1f, %.1f] against %.4g, %s; value %s, coverage %.0f%%",
			sc.Scorecard, v.Account, sc.Score, sc.Lower, sc.Upper, sc.Target, state, formatNumber(sc.Value), 100*sc.Coverage)
		if sc.PulledDownBy != "" {
			fmt.Fprintf(w, "; pulled down most by %s", sc.PulledDownBy)
		}
		fmt.Fprintln(w)
		for _, o := range sc.Outcomes {
			fmt.Fprintf(w, "%s: %s\n", o.Name, formatNumber(o.Value))
		}
		rows := make([][]string, 0, len(sc.Members))
		for _, m := range sc.Members {
			if m.Missing {
				rows = append(rows, []string{m.Name, "missing", noValue, noValue})
				continue
			}
			rows = append(rows, []string{m.Name, formatNumber(m.Value), formatNumber(m.Score), strconv.FormatInt(m.Samples, 10)})
		}
		if err := printTable(w, []string{"MEMBER", "VALUE", "SCORE", "SAMPLES"}, rows); err != nil {
			return err
		}
		fmt.Fprintln(w)
	}
	if len(v.Timeline) == 0 {
		fmt.Fprintln(w, "No task has named the account.")
		return nil
	}
	rows := make([][]string, 0, len(v.Timeline))
	for _, t := range v.Timeline {
		closed, imp := noValue, noValue
		if t.Closed != nil {
			closed = t.Closed.Format(time.DateOnly)
		}
		if i := t.Improvement; i != nil {
			imp = fmt.Sprintf("%+.3g [%+.3g, %+.3g]", i.Improvement, i.Lower, i.Upper)
		}
		rows = append(rows, []string{t.Opened.Format(time.DateOnly), t.origin(), metricspec.SegmentLabel(t.Segment), t.Team, string(t.Phase),
			closed, imp, t.Name})
	}
	return printTable(w, []string{"OPENED", "METRIC", "SEGMENT", "TEAM", "PHASE", "CLOSED", "VERIFIED IMPROVEMENT", "TASK"}, rows)
}
