package engine_test

import (
	"fmt"
	"reflect"
	"testing"
	"time"

	. "github.com/cxloop/cxloop/internal/engine"
	"github.com/cxloop/cxloop/internal/loop"
)

var planNow = time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC)

// episode is an open episode of segment since day d of February, with a
// gap (in δ) and a weight share.
func episode(segment string, d int, gap, share float64) Episode {
	return Episode{Segment: segment, Start: time.Date(2026, 2, d, 0, 0, 0, 0, time.UTC), Gap: gap, WeightShare: share}
}

// taskFor is the existing task of an episode of the metric m.
func taskFor(m Metric, ep Episode, open bool) ExistingTask {
	return ExistingTask{Name: loop.TaskName(m.Name, m.UID, ep.Segment, ep.Start), Open: open}
}

// otherTasks are n tasks of the metric for episodes not planned here.
func otherTasks(n int, open bool) []ExistingTask {
	var out []ExistingTask
	for i := range n {
		out = append(out, ExistingTask{Name: fmt.Sprintf("nps-old-%d-%v", i, open), Open: open})
	}
	return out
}

func held(segment string, reason loop.HoldReason) string { return segment + ":" + string(reason) }

func TestPlanTasks(t *testing.T) {
	base := npsMetric(24*time.Hour, 30*24*time.Hour) // maxOpenTasks 5
	three := []Episode{episode("stage=c", 3, 2, 1), episode("stage=a", 2, 2, 1), episode("stage=b", 4, 2, 1)}
	cases := []struct {
		name     string
		policy   func(*Policy)
		episodes []Episode
		existing []ExistingTask
		team     TeamLoad
		// create are the segments created, in order; held the held back
		// as segment:reason, in order.
		create []string
		held   []string
	}{
		{name: "dry run holds everything back", policy: func(p *Policy) { p.DryRun = true }, episodes: three,
			held: []string{held("stage=a", loop.HoldDryRun), held("stage=b", loop.HoldDryRun), held("stage=c", loop.HoldDryRun)}},
		{name: "no episodes plan nothing", episodes: nil, existing: otherTasks(2, true)},
		{name: "metric capacity counts only open tasks", policy: func(p *Policy) { p.MaxOpenTasks = 2 }, episodes: three,
			existing: append(otherTasks(1, true), otherTasks(4, false)...),
			create:   []string{"stage=a"},
			held:     []string{held("stage=b", loop.HoldMetricCapacity), held("stage=c", loop.HoldMetricCapacity)}},
		{name: "closed tasks alone leave the metric's capacity free", policy: func(p *Policy) { p.MaxOpenTasks = 3 }, episodes: three,
			existing: otherTasks(6, false), create: []string{"stage=a", "stage=b", "stage=c"}},
		{name: "a full metric opens nothing", policy: func(p *Policy) { p.MaxOpenTasks = 1 }, episodes: three, existing: otherTasks(1, true),
			held: []string{held("stage=a", loop.HoldMetricCapacity), held("stage=b", loop.HoldMetricCapacity), held("stage=c", loop.HoldMetricCapacity)}},
		{name: "team capacity zero is unlimited", episodes: three, team: TeamLoad{Open: 500, Max: 0},
			create: []string{"stage=a", "stage=b", "stage=c"}},
		{name: "team capacity holds back the rest", episodes: three, team: TeamLoad{Open: 3, Max: 4},
			create: []string{"stage=a"},
			held:   []string{held("stage=b", loop.HoldTeamCapacity), held("stage=c", loop.HoldTeamCapacity)}},
		{name: "a full team opens nothing", episodes: three, team: TeamLoad{Open: 4, Max: 4},
			held: []string{held("stage=a", loop.HoldTeamCapacity), held("stage=b", loop.HoldTeamCapacity), held("stage=c", loop.HoldTeamCapacity)}},
		{name: "a missing team holds everything back", episodes: three, team: TeamLoad{Missing: true},
			held: []string{held("stage=a", loop.HoldTeamNotFound), held("stage=b", loop.HoldTeamNotFound), held("stage=c", loop.HoldTeamNotFound)}},
		{name: "a missing team holds back even with the metric's capacity free", policy: func(p *Policy) { p.MaxOpenTasks = 10 },
			episodes: three[:1], existing: otherTasks(3, false), team: TeamLoad{Missing: true},
			held: []string{held("stage=c", loop.HoldTeamNotFound)}},
		{name: "a missing team does not hide a dry run", policy: func(p *Policy) { p.DryRun = true }, episodes: three[:1], team: TeamLoad{Missing: true},
			held: []string{held("stage=c", loop.HoldDryRun)}},
		{name: "an episode whose task exists is not held for a missing team", episodes: three, team: TeamLoad{Missing: true},
			existing: []ExistingTask{taskFor(base, three[0], true)},
			held:     []string{held("stage=a", loop.HoldTeamNotFound), held("stage=b", loop.HoldTeamNotFound)}},
		{name: "metric capacity is checked before the team's", policy: func(p *Policy) { p.MaxOpenTasks = 1 }, episodes: three,
			team: TeamLoad{Open: 0, Max: 2}, create: []string{"stage=a"},
			held: []string{held("stage=b", loop.HoldMetricCapacity), held("stage=c", loop.HoldMetricCapacity)}},
		{name: "an episode whose task exists is skipped, open or closed", episodes: three,
			existing: []ExistingTask{taskFor(base, three[0], true), taskFor(base, three[1], false)},
			create:   []string{"stage=b"}},
		{name: "an existing task counts against the capacity but is not held", policy: func(p *Policy) { p.MaxOpenTasks = 2 }, episodes: three,
			existing: []ExistingTask{taskFor(base, three[0], true)},
			create:   []string{"stage=a"}, held: []string{held("stage=b", loop.HoldMetricCapacity)}},
		{name: "a new episode of a segment with a task is planned", episodes: []Episode{episode("stage=a", 2, 2, 1), episode("stage=a", 20, 2, 1)},
			existing: []ExistingTask{taskFor(base, episode("stage=a", 2, 2, 1), false)}, create: []string{"stage=a"}},
		{name: "most urgent first: priority before gap", episodes: []Episode{
			episode("stage=wide", 2, 2.5, 0),  // score 1.25: priority 2
			episode("stage=heavy", 2, 1.1, 1), // score 1.65: priority 1
		}, create: []string{"stage=heavy", "stage=wide"}},
		{name: "most urgent first: then the larger gap", episodes: []Episode{
			episode("stage=a", 2, 1.4, 1),   // score 2.1: priority 1
			episode("stage=b", 2, 3.0, 0.1), // score 1.8: priority 1, larger gap
		}, create: []string{"stage=b", "stage=a"}},
		{name: "most urgent first: then the segment", episodes: []Episode{
			episode("stage=z", 2, 2, 0.5), episode("stage=m", 5, 2, 0.5), episode("stage=a", 9, 2, 0.5),
		}, create: []string{"stage=a", "stage=m", "stage=z"}},
		{name: "held back are sorted by segment, not by urgency", policy: func(p *Policy) { p.MaxOpenTasks = 1 }, episodes: []Episode{
			episode("stage=c", 2, 0.2, 0), episode("stage=a", 2, 0.3, 0), episode("stage=d", 2, 4, 1), episode("stage=b", 2, 1, 1),
		}, create: []string{"stage=d"},
			held: []string{held("stage=a", loop.HoldMetricCapacity), held("stage=b", loop.HoldMetricCapacity), held("stage=c", loop.HoldMetricCapacity)}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := base
			if c.policy != nil {
				c.policy(&m.Policy)
			}
			plan := PlanTasks(m, c.episodes, c.existing, c.team, planNow)
			var create, heldBack []string
			for _, n := range plan.Create {
				create = append(create, n.Episode.Segment)
			}
			for _, h := range plan.Held {
				heldBack = append(heldBack, held(h.Segment, h.Reason))
			}
			if !reflect.DeepEqual(create, c.create) {
				t.Errorf("create %q, want %q", create, c.create)
			}
			if !reflect.DeepEqual(heldBack, c.held) {
				t.Errorf("held %q, want %q", heldBack, c.held)
			}
			if again := PlanTasks(m, c.episodes, c.existing, c.team, planNow); !reflect.DeepEqual(again, plan) {
				t.Errorf("planning twice differs:\n%+v\n%+v", plan, again)
			}
		})
	}
}

// A planned task carries its episode, a name derived from the metric and
// the episode only, the episode's priority, and a due date DueAfter from
// now.
func TestPlannedTasksCarryTheirEpisode(t *testing.T) {
	m := npsMetric(24*time.Hour, 30*24*time.Hour)
	m.DueAfter = 72 * time.Hour
	eps := []Episode{episode("stage=a", 2, 0.6, 0), episode("stage=b", 3, 3, 1)}
	plan := PlanTasks(m, eps, nil, TeamLoad{}, planNow)
	if len(plan.Create) != 2 || len(plan.Held) != 0 {
		t.Fatalf("plan %+v", plan)
	}
	wantPriority := map[string]int32{"stage=a": 4, "stage=b": 1}
	names := map[string]bool{}
	for _, n := range plan.Create {
		if want := loop.TaskName("nps", "uid-1", n.Episode.Segment, n.Episode.Start); n.Name != want {
			t.Errorf("%s: name %s, want %s", n.Episode.Segment, n.Name, want)
		}
		names[n.Name] = true
		if n.Priority != wantPriority[n.Episode.Segment] {
			t.Errorf("%s: priority %d, want %d", n.Episode.Segment, n.Priority, wantPriority[n.Episode.Segment])
		}
		if want := planNow.Add(72 * time.Hour); !n.DueDate.Equal(want) {
			t.Errorf("%s: due %s, want %s", n.Episode.Segment, n.DueDate, want)
		}
	}
	if len(names) != 2 {
		t.Fatalf("two episodes share a name: %+v", plan.Create)
	}
	if plan.Create[0].Episode.Segment != "stage=b" || plan.Create[0].Episode.Gap != 3 || !plan.Create[0].Episode.Start.Equal(eps[1].Start) {
		t.Fatalf("the most urgent task does not carry its episode: %+v", plan.Create[0])
	}

	// The name depends on the episode, not on when it is planned or what
	// else is planned with it.
	later := PlanTasks(m, eps[1:], nil, TeamLoad{}, planNow.Add(240*time.Hour))
	if len(later.Create) != 1 || later.Create[0].Name != plan.Create[0].Name {
		t.Fatalf("planned later the name changed: %+v vs %+v", later.Create, plan.Create[0])
	}
	other := m
	other.UID = "uid-2"
	if p := PlanTasks(other, eps[1:], nil, TeamLoad{}, planNow); p.Create[0].Name == plan.Create[0].Name {
		t.Fatal("a metric recreated under the same name reuses its predecessor's task names")
	}
}

// A segment handed to its own team gets a task for that team, counted
// against that team's capacity and held back while that team does not
// exist; the other segments stay with the owner and the owner's capacity.
func TestSegmentTeamsOwnTheirSegmentsTasks(t *testing.T) {
	m := npsMetric(24*time.Hour, 30*24*time.Hour) // maxOpenTasks 5
	m.Team = "enablement"
	m.SegmentTeams = []SegmentTeam{{Column: "stage", Value: "integration", Team: "integrations"},
		{Column: "stage", Value: "training", Team: "academy"}}
	stage := func(v string, d int) Episode {
		ep := episode("stage="+v, d, 2, 1)
		ep.Values = map[string]string{"stage": v}
		return ep
	}
	eps := []Episode{stage("integration", 2), stage("training", 3), stage("kickoff", 4), stage("contract", 5)}
	plan := PlanTasks(m, eps, nil, TeamLoad{Max: 1, ByTeam: map[string]TeamLoad{"academy": {Missing: true}}}, planNow)
	got := map[string]string{}
	for _, n := range plan.Create {
		got[n.Episode.Segment] = n.Team
	}
	want := map[string]string{"stage=integration": "integrations", "stage=contract": "enablement"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("tasks by segment and team = %v, want %v", got, want)
	}
	var heldBack []string
	for _, h := range plan.Held {
		heldBack = append(heldBack, held(h.Segment, h.Reason))
	}
	// The owner's capacity of one went to contract (the earlier-sorted of
	// two equal candidates); training's team does not exist.
	if want := []string{held("stage=kickoff", loop.HoldTeamCapacity), held("stage=training", loop.HoldTeamNotFound)}; !reflect.DeepEqual(heldBack, want) {
		t.Errorf("held = %v, want %v", heldBack, want)
	}
}
