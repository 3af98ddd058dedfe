package loop

import (
	"testing"
	"time"
)

func TestSummarize(t *testing.T) {
	day := 24 * time.Hour
	at := func(d int) *time.Time { x := t0.Add(time.Duration(d) * day); return &x }
	tasks := []TaskRecord{
		{Phase: Open, Attempt: 1, OpenedAt: t0},
		{Phase: InProgress, Attempt: 1, OpenedAt: t0},
		{Phase: Reopened, Attempt: 3, Escalated: true, OpenedAt: t0},
		{Phase: Verifying, Attempt: 1, OpenedAt: t0},
		{Phase: Verified, Attempt: 1, OpenedAt: t0, ClosedAt: at(10)},
		{Phase: Verified, Attempt: 2, OpenedAt: t0, ClosedAt: at(30)},
		{Phase: Verified, Attempt: 1, OpenedAt: t0, ClosedAt: at(14)},
		{Phase: Dismissed, Attempt: 1, OpenedAt: t0, ClosedAt: at(2)},
		{Phase: Recovered, Attempt: 1, OpenedAt: t0, ClosedAt: at(5)},
		{Phase: Cancelled, Attempt: 1, Escalated: true, OpenedAt: t0, ClosedAt: at(5)},
	}
	s := Summarize(tasks)
	if s.Open != 3 || s.Verifying != 1 || s.Verified != 3 || s.Dismissed != 1 || s.Escalated != 1 {
		t.Fatalf("counts = %+v", s)
	}
	if s.FirstAttemptRate == nil || *s.FirstAttemptRate != 2.0/3.0 {
		t.Fatalf("first-attempt rate = %v, want 2/3", s.FirstAttemptRate)
	}
	if s.MedianTimeToVerify != 14*day {
		t.Fatalf("median time to verify = %v, want 14 days", s.MedianTimeToVerify)
	}
	if empty := Summarize(nil); empty.FirstAttemptRate != nil || empty.MedianTimeToVerify != 0 {
		t.Fatalf("empty summary = %+v", empty)
	}
}
