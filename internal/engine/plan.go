package engine

import (
	"cmp"
	"sort"
	"time"

	"github.com/cxloop/cxloop/internal/loop"
)

// ExistingTask is a task the metric already has.
type ExistingTask struct {
	Name string
	// Open is true while the task still needs work or proof.
	Open bool
}

// TeamLoad is the owning team's capacity as the cluster shows it.
type TeamLoad struct {
	// Open counts the team's open tasks across its metrics.
	Open int
	// Max is the team's capacity; zero means no cap.
	Max int
	// Missing: the owning Team does not exist. A missing Team is not an
	// unlimited one: every new episode is held back (TeamNotFound) until
	// it is created, since nobody would be told of the task. Replay and
	// the backtest leave it false: offline manifests often omit Teams, and
	// a backtest answers what the detector and the caps would have done.
	Missing bool
	// ByTeam holds the loads of the teams that own some of the metric's
	// segments (Metric.SegmentTeams), by name; the fields above are the
	// owner's. A team not listed has no cap.
	ByTeam map[string]TeamLoad
}

// NewTask is a task to create for an episode.
type NewTask struct {
	Name string
	// Team owns the task: the metric's owner, or its segment's team.
	Team     string
	Episode  Episode
	Priority int32
	DueDate  time.Time
}

// TaskPlan is what PlanTasks decided.
type TaskPlan struct {
	// Create are the tasks to create, most urgent first.
	Create []NewTask
	// Held are the episodes held back, with the reason, sorted by segment.
	Held []loop.Held
}

// PlanTasks decides which open episodes become tasks: one per episode
// that has none yet, most urgent first within the metric's and the team's
// capacity; the rest are held back with the reason. A dry run holds
// everything back, and so does a missing owner Team. Names are
// deterministic, so planning twice (after a crash, say) plans the same
// tasks and creating one that exists is a no-op.
func PlanTasks(m Metric, episodes []Episode, existing []ExistingTask, team TeamLoad, now time.Time) TaskPlan {
	var plan TaskPlan
	known := map[string]bool{}
	metricOpen := 0
	for _, t := range existing {
		known[t.Name] = true
		if t.Open {
			metricOpen++
		}
	}
	byName := map[string]Episode{}
	var cands []loop.Candidate
	for _, ep := range episodes {
		name := loop.TaskName(m.Name, m.UID, ep.Segment, ep.Start)
		if known[name] {
			continue
		}
		byName[name] = ep
		team := m.TeamFor(ep.Values)
		if team == m.Team {
			team = ""
		}
		cands = append(cands, loop.Candidate{Segment: ep.Segment, EpisodeStart: ep.Start, Gap: ep.Gap, WeightShare: ep.WeightShare,
			Team: team})
	}
	if len(cands) == 0 {
		return plan
	}
	capacity := loop.Capacity{DryRun: m.Policy.DryRun, MetricOpen: metricOpen,
		MetricMax: int(m.Policy.MaxOpenTasks), TeamOpen: team.Open, TeamMax: team.Max, TeamMissing: team.Missing}
	for name, t := range team.ByTeam {
		if capacity.Teams == nil {
			capacity.Teams = map[string]loop.TeamCapacity{}
		}
		capacity.Teams[name] = loop.TeamCapacity{Open: t.Open, Max: t.Max, Missing: t.Missing}
	}
	open, held := loop.Select(cands, capacity)
	for _, c := range open {
		name := loop.TaskName(m.Name, m.UID, c.Segment, c.EpisodeStart)
		plan.Create = append(plan.Create, NewTask{Name: name, Team: cmp.Or(c.Team, m.Team), Episode: byName[name],
			Priority: loop.Priority(c.Gap, c.WeightShare), DueDate: loop.DueDate(now, m.DueAfter)})
	}
	sort.SliceStable(held, func(i, j int) bool { return held[i].Segment < held[j].Segment })
	plan.Held = held
	return plan
}
