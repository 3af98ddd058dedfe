package loop

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"
)

// maxNameLength is the longest object name Kubernetes accepts for most
// kinds (a DNS subdomain is 253, but labels referencing it are 63).
const maxNameLength = 63

// TaskName is the deterministic name of the task for one episode: the
// metric's name and a short hash of (metric UID, segment key, episode
// start). Creating a task under this name twice is a no-op, so a crash
// between detection and creation never duplicates a task. The start counts
// to the second, the precision Kubernetes keeps of a time.
func TaskName(metric, metricUID, segment string, episodeStart time.Time) string {
	h := sha256.Sum256([]byte(metricUID + "\x00" + segment + "\x00" + episodeStart.UTC().Truncate(time.Second).Format(time.RFC3339)))
	suffix := hex.EncodeToString(h[:])[:10]
	prefix := metric
	if max := maxNameLength - len(suffix) - 1; len(prefix) > max {
		prefix = strings.TrimRight(prefix[:max], "-.")
	}
	return prefix + "-" + suffix
}

// Candidate is an episode that may become a task.
type Candidate struct {
	Segment      string
	EpisodeStart time.Time
	// Gap is how far the value is on the wrong side of the target, in
	// units of the smallest shift worth a task (δ); zero or less when the
	// value is not on the wrong side.
	Gap float64
	// WeightShare is the segment's share of the metric's total weight (its
	// share of revenue, say), between 0 and 1; 1 for the whole population.
	WeightShare float64
	// Team owns the candidate's segment when it is not the metric's
	// owner (a journey stage's own team); empty for the owner.
	Team string
}

// Priority maps a gap (in units of δ) and a weight share to 1 (most urgent)
// through 4. A gap of two δ or more on a segment carrying at least a
// quarter of the weight is urgent; a small gap on a small segment is not.
func Priority(gap, weightShare float64) int32 {
	score := math.Max(gap, 0) * (0.5 + math.Min(math.Max(weightShare, 0), 1))
	switch {
	case score >= 1.5:
		return 1
	case score >= 1.0:
		return 2
	case score >= 0.5:
		return 3
	}
	return 4
}

// HoldReason says why a candidate did not become a task.
type HoldReason string

// The hold reasons shown on a Metric.
const (
	HoldDryRun         HoldReason = "DryRun"
	HoldMetricCapacity HoldReason = "MetricCapacity"
	HoldTeamCapacity   HoldReason = "TeamCapacity"
	// HoldTeamNotFound: the owning Team does not exist, so nobody would
	// receive the task; it opens once the Team is created.
	HoldTeamNotFound HoldReason = "TeamNotFound"
	// HoldMemberTaskOpen: a Scorecard's account has a task open on one of
	// its member Metrics; the member's task is the direction to act in,
	// and the account's own task opens once it closes, if the account
	// still breaches.
	HoldMemberTaskOpen HoldReason = "MemberTaskOpen"
)

// Held is a candidate that was held back, with the reason.
type Held struct {
	Candidate
	Reason HoldReason
}

// Capacity is what may still open.
type Capacity struct {
	DryRun bool
	// MetricOpen and MetricMax count the metric's open tasks and its cap.
	MetricOpen, MetricMax int
	// TeamOpen and TeamMax count the team's open tasks and its capacity;
	// TeamMax zero means no cap.
	TeamOpen, TeamMax int
	// TeamMissing: the owning team does not exist; nothing opens.
	TeamMissing bool
	// Teams are the capacities of the teams candidates name in Team; a
	// team not listed has no cap.
	Teams map[string]TeamCapacity
}

// TeamCapacity is the capacity of a team that owns some of a metric's
// segments.
type TeamCapacity struct {
	// Open counts the team's open tasks; Max is its capacity, zero for no
	// cap.
	Open, Max int
	// Missing: the team does not exist; its candidates do not open.
	Missing bool
}

// Select orders candidates by urgency (priority, then gap, then segment)
// and splits them into those to open and those held back, so caps hold the
// most urgent work and nothing is dropped silently.
func Select(cands []Candidate, c Capacity) (open []Candidate, held []Held) {
	sorted := append([]Candidate(nil), cands...)
	sort.SliceStable(sorted, func(i, j int) bool {
		pi, pj := Priority(sorted[i].Gap, sorted[i].WeightShare), Priority(sorted[j].Gap, sorted[j].WeightShare)
		if pi != pj {
			return pi < pj
		}
		if sorted[i].Gap != sorted[j].Gap {
			return sorted[i].Gap > sorted[j].Gap
		}
		return sorted[i].Segment < sorted[j].Segment
	})
	metricOpen := c.MetricOpen
	teams := map[string]TeamCapacity{"": {Open: c.TeamOpen, Max: c.TeamMax, Missing: c.TeamMissing}}
	for name, t := range c.Teams {
		if name != "" {
			teams[name] = t
		}
	}
	for _, cand := range sorted {
		team := teams[cand.Team]
		switch {
		case c.DryRun:
			held = append(held, Held{cand, HoldDryRun})
		case team.Missing:
			held = append(held, Held{cand, HoldTeamNotFound})
		case metricOpen >= c.MetricMax:
			held = append(held, Held{cand, HoldMetricCapacity})
		case team.Max > 0 && team.Open >= team.Max:
			held = append(held, Held{cand, HoldTeamCapacity})
		default:
			open = append(open, cand)
			metricOpen++
			team.Open++
			teams[cand.Team] = team
		}
	}
	return open, held
}

// Open reports whether a phase counts against a capacity: the task still
// needs the team's work or proof.
func (p Phase) Open() bool {
	return p == "" || !p.Final()
}

// Expired reports whether a closed task has outlived its retention.
func Expired(s Status, now time.Time, retention time.Duration) bool {
	return s.Phase.Final() && s.ClosedAt != nil && now.Sub(*s.ClosedAt) >= retention
}

// DueDate is when a task opened at opened is expected to be fixed.
func DueDate(opened time.Time, dueAfter time.Duration) time.Time {
	return opened.Add(dueAfter)
}

// String renders a candidate for logs and status messages.
func (c Candidate) String() string {
	seg := c.Segment
	if seg == "" {
		seg = "(all)"
	}
	return fmt.Sprintf("%s since %s", seg, c.EpisodeStart.UTC().Format(time.RFC3339))
}
