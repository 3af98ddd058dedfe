package loop

import (
	"strings"
	"testing"
	"time"
)

func TestTaskNameIsDeterministicAndShort(t *testing.T) {
	a := TaskName("account-nps", "uid-1", "persona=admin", t0)
	if a != TaskName("account-nps", "uid-1", "persona=admin", t0) {
		t.Fatal("same episode, different names")
	}
	for _, other := range []string{
		TaskName("account-nps", "uid-2", "persona=admin", t0),
		TaskName("account-nps", "uid-1", "persona=executive", t0),
		TaskName("account-nps", "uid-1", "persona=admin", t0.Add(time.Hour)),
	} {
		if other == a {
			t.Fatalf("different episodes share the name %s", a)
		}
	}
	long := TaskName(strings.Repeat("very-long-metric-name-", 10), "uid", "", t0)
	if len(long) > maxNameLength || strings.Contains(long, "--") {
		t.Fatalf("name %q (%d chars) is not a valid short name", long, len(long))
	}
	if !strings.HasPrefix(a, "account-nps-") || len(a) != len("account-nps-")+10 {
		t.Fatalf("name %q: want the metric name and a 10-character hash", a)
	}
}

func TestPriority(t *testing.T) {
	cases := []struct {
		gap, share float64
		want       int32
	}{
		{3, 1, 1}, {1, 1, 1}, {1, 0, 3}, {2, 0.5, 1}, {1, 0.5, 2}, {0.6, 0.5, 3}, {0.2, 0.1, 4}, {-1, 1, 4},
	}
	for _, c := range cases {
		if got := Priority(c.gap, c.share); got != c.want {
			t.Errorf("Priority(%v, %v) = %d, want %d", c.gap, c.share, got, c.want)
		}
	}
}

func TestSelectOpensTheMostUrgentAndHoldsTheRestVisibly(t *testing.T) {
	cands := []Candidate{
		{Segment: "account=small", Gap: 0.6, WeightShare: 0.01},
		{Segment: "account=big", Gap: 2, WeightShare: 0.4},
		{Segment: "account=mid", Gap: 1.2, WeightShare: 0.2},
	}
	open, held := Select(cands, Capacity{MetricOpen: 0, MetricMax: 2})
	if len(open) != 2 || open[0].Segment != "account=big" || open[1].Segment != "account=mid" {
		t.Fatalf("open = %v", open)
	}
	if len(held) != 1 || held[0].Segment != "account=small" || held[0].Reason != HoldMetricCapacity {
		t.Fatalf("held = %v", held)
	}

	open, held = Select(cands, Capacity{MetricMax: 5, TeamOpen: 9, TeamMax: 10})
	if len(open) != 1 || open[0].Segment != "account=big" || len(held) != 2 || held[0].Reason != HoldTeamCapacity {
		t.Fatalf("team capacity: open=%v held=%v", open, held)
	}

	open, held = Select(cands, Capacity{DryRun: true, MetricMax: 5})
	if len(open) != 0 || len(held) != 3 || held[0].Reason != HoldDryRun {
		t.Fatalf("dry run: open=%v held=%v", open, held)
	}
}

func TestExpired(t *testing.T) {
	closed := t0
	s := Status{Phase: Verified, ClosedAt: &closed}
	if Expired(s, t0.Add(89*24*time.Hour), 90*24*time.Hour) {
		t.Fatal("expired before its retention")
	}
	if !Expired(s, t0.Add(90*24*time.Hour), 90*24*time.Hour) {
		t.Fatal("not expired after its retention")
	}
	if Expired(Status{Phase: Reopened, ClosedAt: &closed}, t0.Add(1e6*time.Hour), time.Hour) {
		t.Fatal("an open task never expires")
	}
}
