package engine_test

import (
	"testing"
	"time"

	. "github.com/cxloop/cxloop/internal/engine"
)

func TestEscalationTeam(t *testing.T) {
	cases := []struct {
		name                  string
		metricEscalation      string
		ownerEscalation, want string
	}{
		{"the metric's escalation team first", "leads", "support-leads", "leads"},
		{"else the owner's own escalation team", "", "support-leads", "support-leads"},
		{"else the owner", "", "", "success"},
		{"the metric's even when the owner has none", "leads", "", "leads"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := npsMetric(24*time.Hour, 30*24*time.Hour) // owned by success
			m.Policy.EscalationTeam = c.metricEscalation
			if got := EscalationTeam(m, c.ownerEscalation); got != c.want {
				t.Fatalf("escalated to %q, want %q", got, c.want)
			}
		})
	}
}

var (
	epStart  = time.Date(2026, 2, 2, 0, 0, 0, 0, time.UTC)
	recovery = epStart.Add(5 * 24 * time.Hour)
	ended    = epStart.Add(9 * 24 * time.Hour)
)

// detector holds the given segment states.
func detector(segs ...SegmentState) *Detector {
	return &Detector{FedUntil: ended, Segments: segs}
}

func openState(segment string, start, recoverySince time.Time) SegmentState {
	return SegmentState{Segment: segment, Statistic: 7, Samples: 40, Since: start.Add(-24 * time.Hour), EpisodeStart: start,
		RecoverySince: recoverySince}
}

// the task of the episode of stage=integration since epStart.
var integrationTask = Task{Segment: "stage=integration", SegmentValues: map[string]string{"stage": "integration"}, EpisodeStart: epStart}

func TestRecoverySince(t *testing.T) {
	cases := []struct {
		name   string
		det    *Detector
		ended  *time.Time
		want   time.Time
		wantOK bool
	}{
		{"an ended episode: when it ended", detector(openState("stage=integration", epStart, recovery)), &ended, ended, true},
		{"an ended episode without detector state: when it ended", nil, &ended, ended, true},
		// The detector's estimate of when the metric came back is a time
		// chosen because the data looked good: never a start while the
		// episode is open.
		{"an open episode recovering: none", detector(openState("stage=integration", epStart, recovery)), nil, time.Time{}, false},
		{"an open episode not recovering: none", detector(openState("stage=integration", epStart, time.Time{})), nil, time.Time{}, false},
		{"no detector state: none", nil, nil, time.Time{}, false},
		{"another segment recovering: none", detector(openState("stage=kickoff", epStart, recovery)), nil, time.Time{}, false},
		{"a later episode of the segment recovering: none",
			detector(openState("stage=integration", epStart.Add(48*time.Hour), recovery)), nil, time.Time{}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, ok := RecoverySince(c.det, integrationTask, c.ended)
			if ok != c.wantOK || !got.Equal(c.want) {
				t.Fatalf("RecoverySince = %s, %v; want %s, %v", got, ok, c.want, c.wantOK)
			}
		})
	}
}

func TestEpisodeClosed(t *testing.T) {
	cases := []struct {
		name string
		det  *Detector
		want bool
	}{
		{"no detector state yet: nothing ended", nil, false},
		{"the episode is held open", detector(openState("stage=kickoff", epStart, time.Time{}), openState("stage=integration", epStart, recovery)), false},
		{"the episode is gone", detector(openState("stage=kickoff", epStart, time.Time{})), true},
		{"no segment holds anything", detector(), true},
		{"the segment has evidence but no episode", detector(SegmentState{Segment: "stage=integration", Statistic: 2, Samples: 10}), true},
		{"the segment holds a later episode", detector(openState("stage=integration", epStart.Add(24*time.Hour), time.Time{})), true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := EpisodeClosed(c.det, integrationTask); got != c.want {
				t.Fatalf("EpisodeClosed = %v, want %v", got, c.want)
			}
		})
	}
}
