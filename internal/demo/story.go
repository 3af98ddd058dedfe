package demo

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cxv1 "github.com/cxloop/cxloop/api/v1alpha1"
	"github.com/cxloop/cxloop/internal/demodata"
)

// story plays the owners' part of the script and narrates the loop.
type story struct {
	c        client.Client
	episodes []demodata.EpisodeTimes
	say      func(string, ...any)
	seen     map[string]string // task name -> last phase reported
	resolved map[string]int32  // task name -> attempts resolved by the story
}

func newStory(c client.Client, sum demodata.Summary, say func(string, ...any)) *story {
	return &story{c: c, episodes: sum.Episodes, say: say, seen: map[string]string{}, resolved: map[string]int32{}}
}

// step reports what changed and resolves tasks whose preset time came.
func (s *story) step(ctx context.Context, now time.Time) error {
	var tasks cxv1.ImprovementTaskList
	if err := s.c.List(ctx, &tasks, client.InNamespace(Namespace)); err != nil {
		return err
	}
	byStory(tasks.Items)
	day := now.Format("Jan 02")
	for i := range tasks.Items {
		t := &tasks.Items[i]
		phase := string(t.Status.Phase)
		if meta.IsStatusConditionTrue(t.Status.Conditions, cxv1.ConditionEscalated) {
			phase += "+Escalated"
		}
		if phase != "" && s.seen[t.Name] != phase {
			s.seen[t.Name] = phase
			s.say("%s  %-26s %-22s %-28s %s", day, originLabel(t), segmentLabel(t.Spec.Segment), t.CurrentTeam(), describe(t))
		}
		if err := s.resolveIfDue(ctx, t, now); err != nil {
			return err
		}
	}
	return nil
}

func describe(t *cxv1.ImprovementTask) string {
	st := &t.Status
	switch st.Phase {
	case cxv1.PhaseOpen:
		return fmt.Sprintf("task opened (priority %d): %s", t.Spec.Priority, st.Message)
	case cxv1.PhaseVerifying:
		return fmt.Sprintf("owner resolved attempt %d; verifying on fresh data", st.Attempt)
	case cxv1.PhaseVerified:
		return "VERIFIED: " + st.Message
	case cxv1.PhaseReopened:
		s := fmt.Sprintf("REOPENED as attempt %d: %s", st.Attempt, st.Message)
		if st.EscalatedTo != "" {
			s += "; ESCALATED to " + st.EscalatedTo
		}
		return s
	case cxv1.PhaseRecovered:
		return "RECOVERED without action: " + st.Message
	}
	return string(st.Phase) + ": " + st.Message
}

func segmentLabel(seg string) string {
	if seg == "" {
		return "(all)"
	}
	return seg
}

// resolveIfDue resolves a task at its episode's preset time for the
// task's current attempt, as the owning team would.
func (s *story) resolveIfDue(ctx context.Context, t *cxv1.ImprovementTask, now time.Time) error {
	ep := s.episodeOf(t)
	if ep == nil || t.Status.Attempt == 0 {
		return nil
	}
	attempt := t.Status.Attempt
	if int(attempt) > len(ep.Resolutions) || now.Before(ep.Resolutions[attempt-1]) || s.resolved[t.Name] >= attempt {
		return nil
	}
	switch t.Status.Phase {
	case cxv1.PhaseOpen, cxv1.PhaseInProgress, cxv1.PhaseReopened:
	default:
		return nil
	}
	patch := client.MergeFrom(t.DeepCopy())
	t.Spec.State = cxv1.TaskResolved
	t.Spec.Resolution = &cxv1.Resolution{Attempt: attempt,
		Note: fmt.Sprintf("%s: fix number %d is in", t.CurrentTeam(), attempt)}
	if err := s.c.Patch(ctx, t, patch); err != nil {
		return fmt.Errorf("resolve %s: %w", t.Name, err)
	}
	s.resolved[t.Name] = attempt
	s.say("%s  %-26s %-22s %-28s owner: resolved attempt %d (%q)", now.Format("Jan 02"), originLabel(t),
		segmentLabel(t.Spec.Segment), t.CurrentTeam(), attempt, t.Spec.Resolution.Note)
	return nil
}

func (s *story) episodeOf(t *cxv1.ImprovementTask) *demodata.EpisodeTimes {
	for i := range s.episodes {
		if s.episodes[i].Metric == t.Spec.Metric && s.episodes[i].Segment == t.Spec.Segment {
			return &s.episodes[i]
		}
	}
	return nil
}

// finished reports whether every episode reached its scripted outcome.
func (s *story) finished() bool {
	reached := 0
	for _, ep := range s.episodes {
		for name, phase := range s.seen {
			if strings.HasPrefix(name, ep.Metric+"-") && strings.Contains(phase, ep.Outcome) {
				reached++
				break
			}
		}
	}
	return reached == len(s.episodes)
}

// summary prints the metrics and tasks as they stand and returns them.
func (s *story) summary(ctx context.Context, out io.Writer) (*Result, error) {
	var metrics cxv1.MetricList
	if err := s.c.List(ctx, &metrics, client.InNamespace(Namespace)); err != nil {
		return nil, err
	}
	var tasks cxv1.ImprovementTaskList
	if err := s.c.List(ctx, &tasks, client.InNamespace(Namespace)); err != nil {
		return nil, err
	}
	fmt.Fprintln(out, "\n==> metrics")
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "METRIC\tFORMULA\tVALUE [CONFIDENCE INTERVAL]\tTARGET\tSAMPLES\tSTATE\tTEAM")
	for _, m := range metrics.Items {
		st := &m.Status
		value, target := "-", "-"
		if d := st.Display; d != nil {
			value, target = cmp.Or(d.Value, "-"), cmp.Or(d.Target, "-")
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%d\t%s\t%s\n", m.Name, m.Spec.Formula, value, target, st.Samples, st.State, m.Spec.Owner.Team)
	}
	w.Flush()
	byStory(tasks.Items)
	fmt.Fprintln(out, "\n==> improvement tasks")
	w = tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "TASK\tMETRIC\tSEGMENT\tTEAM\tPHASE\tATTEMPT\tESCALATED TO\tIMPROVEMENT")
	for _, t := range tasks.Items {
		imp := "-"
		if v := t.Status.Verification; v != nil {
			imp = fmt.Sprintf("%+.3g [%+.3g, %+.3g]", v.Improvement, v.Lower, v.Upper)
		}
		esc := t.Status.EscalatedTo
		if esc == "" {
			esc = "-"
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n", t.Name, originLabel(&t), segmentLabel(t.Spec.Segment), t.CurrentTeam(),
			t.Status.Phase, t.Status.Attempt, esc, imp)
	}
	w.Flush()
	printDrivers(out, metrics.Items, tasks.Items)
	var scorecards cxv1.ScorecardList
	if err := s.c.List(ctx, &scorecards, client.InNamespace(Namespace)); err != nil {
		return nil, err
	}
	for _, sc := range scorecards.Items {
		printScorecard(out, &sc)
	}
	return &Result{Metrics: metrics.Items, Tasks: tasks.Items, Scorecards: scorecards.Items}, nil
}

// originLabel names what opened a task: its Metric, or its Scorecard as
// scorecard/NAME.
func originLabel(t *cxv1.ImprovementTask) string {
	if t.Spec.Scorecard != "" {
		return "scorecard/" + t.Spec.Scorecard
	}
	return t.Spec.Metric
}
