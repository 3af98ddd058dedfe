package loop

import (
	"strings"
	"testing"
	"time"
)

func TestCheckFacts(t *testing.T) {
	start := t0
	name := TaskName("account-nps", "uid-1", "persona=admin", start)
	good := Facts{Name: name, Metric: "account-nps", Segment: "persona=admin", ValuesKey: "persona=admin", EpisodeStart: start}
	record := Record{MetricUID: "uid-1", Comparable: true, FedUntil: start.Add(72 * time.Hour), OpenSince: start}
	with := func(f func(*Facts)) Facts { x := good; f(&x); return x }
	rec := func(f func(*Record)) Record { x := record; f(&x); return x }
	cases := []struct {
		name   string
		facts  Facts
		record Record
		want   string // reason; empty: no dispute
	}{
		{"the facts the operator wrote", good, record, ""},
		{"an episode that has ended", good, rec(func(r *Record) { r.OpenSince = time.Time{} }), ""},
		{"an earlier episode of a segment open again", good, rec(func(r *Record) { r.OpenSince = start.Add(48 * time.Hour) }), ""},
		{"the whole population", Facts{Name: TaskName("account-nps", "uid-1", "", start), Metric: "account-nps", EpisodeStart: start}, record, ""},
		{"before the first evaluation", good, Record{MetricUID: "uid-1", Comparable: true}, ""},
		{"segment changed", with(func(f *Facts) { f.Segment, f.ValuesKey = "stage=onboarding", "stage=onboarding" }), record, DisputeName},
		{"segment removed", with(func(f *Facts) { f.Segment, f.ValuesKey = "", "" }), record, DisputeName},
		{"episode start moved", with(func(f *Facts) { f.EpisodeStart = start.Add(time.Hour) }), record, DisputeName},
		{"metric renamed", with(func(f *Facts) { f.Metric = "other" }), record, DisputeName},
		{"another metric's UID", good, rec(func(r *Record) { r.MetricUID = "uid-2" }), DisputeName},
		{"segment values of another segment", with(func(f *Facts) { f.ValuesKey = "stage=onboarding" }), record, DisputeSegmentValues},
		{"segment values removed", with(func(f *Facts) { f.ValuesKey = "" }), record, DisputeSegmentValues},
		{"an episode after the data the detector saw", good, rec(func(r *Record) { r.FedUntil = start.Add(-time.Hour); r.OpenSince = time.Time{} }), DisputeEpisode},
		{"an episode after the segment's open one started", good, rec(func(r *Record) { r.OpenSince = start.Add(-time.Hour) }), DisputeEpisode},
		{"a detector under another definition is no record", good, rec(func(r *Record) { r.Comparable = false; r.FedUntil = start.Add(-time.Hour) }), ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d, bad := CheckFacts(tc.facts, tc.record)
			if bad != (tc.want != "") || d.Reason != tc.want {
				t.Fatalf("dispute = %v %+v, want %q", bad, d, tc.want)
			}
			if bad && d.Message == "" {
				t.Fatal("a dispute without a message")
			}
		})
	}
}

func TestResolutionAhead(t *testing.T) {
	cases := []struct {
		name  string
		s     Status
		o     Owner
		ahead bool
	}{
		{"the current attempt", status(Verifying, 1), Owner{OwnerResolved, 1}, false},
		{"an earlier attempt after a reopening", status(Reopened, 2), Owner{OwnerResolved, 1}, false},
		{"the next attempt before a reopening", status(InProgress, 1), Owner{OwnerResolved, 2}, true},
		{"a hundred attempts ahead", status(Open, 1), Owner{OwnerResolved, 100}, true},
		{"not resolved", status(InProgress, 1), Owner{OwnerInProgress, 3}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			msg, ahead := ResolutionAhead(tc.s, tc.o)
			if ahead != tc.ahead {
				t.Fatalf("ahead = %v, want %v", ahead, tc.ahead)
			}
			if ahead && !strings.Contains(msg, "ignored") {
				t.Fatalf("message %q does not say the resolution is ignored", msg)
			}
		})
	}
}
