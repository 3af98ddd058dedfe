package loop

import (
	"sort"
	"time"
)

// TaskRecord is what a team summary needs of one task.
type TaskRecord struct {
	Phase     Phase
	Attempt   int32
	Escalated bool
	OpenedAt  time.Time
	ClosedAt  *time.Time
}

// TeamSummary counts a team's tasks and measures how well its fixes work.
type TeamSummary struct {
	Open, Verifying, Verified, Dismissed, Escalated int32
	// FirstAttemptRate is the share of verified tasks proven on their first
	// resolution; nil before any task is verified.
	FirstAttemptRate *float64
	// MedianTimeToVerify is the median time from opening to verification;
	// zero before any task is verified.
	MedianTimeToVerify time.Duration
}

// Summarize counts tasks by phase and measures first-attempt verification
// and time to verify.
func Summarize(tasks []TaskRecord) TeamSummary {
	var s TeamSummary
	var firstAttempt int
	var durations []time.Duration
	for _, t := range tasks {
		switch t.Phase {
		case Verifying:
			s.Verifying++
		case Verified:
			s.Verified++
			if t.Attempt <= 1 {
				firstAttempt++
			}
			if t.ClosedAt != nil {
				durations = append(durations, t.ClosedAt.Sub(t.OpenedAt))
			}
		case Dismissed:
			s.Dismissed++
		case Recovered, Cancelled:
		default:
			s.Open++
		}
		if t.Escalated && !t.Phase.Final() {
			s.Escalated++
		}
	}
	if s.Verified > 0 {
		r := float64(firstAttempt) / float64(s.Verified)
		s.FirstAttemptRate = &r
	}
	if n := len(durations); n > 0 {
		sort.Slice(durations, func(i, j int) bool { return durations[i] < durations[j] })
		if n%2 == 1 {
			s.MedianTimeToVerify = durations[n/2]
		} else {
			s.MedianTimeToVerify = (durations[n/2-1] + durations[n/2]) / 2
		}
	}
	return s
}
