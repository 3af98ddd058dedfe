package hostile

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"unicode/utf8"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	cxv1 "github.com/cxloop/cxloop/api/v1alpha1"
)

// Segment values are data, and data may be anything: bytes that are not
// UTF-8 and a value of 4 KiB are measured, not refused, and reach neither
// the status nor the exported series' labels unchanged; the Metric is
// Ready with its exact value and the exporter still gathers.
func TestSegmentValuesThatAreNotUTF8OrHugeAreMeasuredSafely(t *testing.T) {
	good := sentinel(t)
	ns := newNamespace(t)
	create(t, ownerTeam(ns))
	huge := strings.Repeat("enterprise", 400)
	path := csvFile(t, func(f *os.File) {
		fmt.Fprint(f, "answered_at,score,survey,plan\n")
		for i := 0; i < 150; i++ {
			score := 2
			if i < 105 {
				score = 5
			}
			plan := []string{"pro\xff\xfe", huge, "free"}[i%3]
			fmt.Fprintf(f, "2026-02-0%dT%02d:00:00Z,%d,csat,%s\n", 1+i%9, i%24, score, plan)
		}
	})
	hostileSource(t, ns, csvSource(path), func(m *cxv1.Metric) { m.Spec.SegmentBy = []string{"plan"} })
	m := metricAt(t, &cxv1.Metric{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "hostile"}}, "measured", func(m *cxv1.Metric) bool {
		return meta.IsStatusConditionTrue(m.Status.Conditions, cxv1.ConditionReady) && m.Status.Value != nil
	})
	if *m.Status.Value != 70 || m.Status.Samples != 150 {
		t.Fatalf("value %v on %d samples, want exactly 70 on 150", *m.Status.Value, m.Status.Samples)
	}
	for _, s := range m.Status.WorstSegments {
		if !utf8.ValidString(s.Segment) || strings.Contains(s.Segment, "\xff") {
			t.Errorf("segment %q in the status is not valid UTF-8", s.Segment)
		}
	}
	families, err := registry.Gather()
	if err != nil {
		t.Fatalf("the exporter no longer gathers: %v", err)
	}
	series := 0
	for _, f := range families {
		for _, metric := range f.GetMetric() {
			for _, l := range metric.GetLabel() {
				if !utf8.ValidString(l.GetValue()) || len(l.GetValue()) > 1024 {
					t.Errorf("series %s has label %s=%q", f.GetName(), l.GetName(), l.GetValue())
				}
				if l.GetName() == "namespace" && l.GetValue() == ns {
					series++
				}
			}
		}
	}
	if series == 0 {
		t.Fatal("the hostile Metric exports no series")
	}
	intact(t, good)
	noLeak(t)
}
