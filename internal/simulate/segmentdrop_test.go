package simulate

import (
	"math"
	"sort"
	"testing"

	"github.com/cxloop/cxloop/internal/engine"
	"github.com/cxloop/cxloop/internal/measure"
)

// wideCase is a metric of many accounts answering on a rota, with the
// reference mix bench/scale's warehouse draws.
func wideCase(segments int) Case {
	return Case{Name: "wide", Formula: measure.FormulaNPS, Direction: engine.AtLeast, Level: 30, Shift: 10,
		Segments: segments, Every: 5, Promoters: 0.5, Detractors: 0.2}
}

// A drop limited to some segments changes only them: from its day they
// answer at its volume and lower, the others keep their rota of one unit
// every five days at the reference mix, and a quiet day holds nothing.
func TestChangeInSomeSegments(t *testing.T) {
	c := wideCase(40)
	w := newWorld(c, 9, 200)
	w.quiet = map[int]bool{150: true}
	ch := Change{Day: 100, By: 60, Segments: 4, PerDay: 30}
	s := w.draw(9, ch)
	units := func(seg, lo, hi int) (n, det int64) {
		cl := between(s.prefix[seg], lo, hi)
		return cl.n[0] + cl.n[1] + cl.n[2], cl.n[0]
	}
	for seg := range 40 {
		before, detBefore := units(seg, 0, 100)
		after, detAfter := units(seg, 100, 200)
		if before != 20 {
			t.Errorf("segment %d answered %d units in 100 days before the drop, want 20 on its rota", seg, before)
		}
		if seg >= ch.Segments {
			want := int64(20)
			if seg%5 == 150%5 {
				want-- // its day on the rota was quiet
			}
			if after != want {
				t.Errorf("unchanged segment %d answered %d units in the 100 days after, want %d", seg, after, want)
			}
			continue
		}
		// 99 days of Poisson(30): 2,970 ± 55; at NPS −30 from (0.5, 0.2)
		// 56 % detractors, 20 % before.
		if after < 2700 || after > 3240 {
			t.Errorf("changed segment %d answered %d units after the drop, want about 2,970", seg, after)
		}
		if share := float64(detAfter) / float64(after); math.Abs(share-0.56) > 0.04 {
			t.Errorf("changed segment %d: detractor share %.2f after the drop, want 0.56 (%d of %d before)", seg, share, detBefore, before)
		}
		if n, _ := units(seg, 150, 151); n != 0 {
			t.Errorf("changed segment %d answered %d units on the quiet day", seg, n)
		}
	}
	if p := NPSShares(30, 0.5, 0.2); math.Abs(p[0]-0.2) > 1e-12 || math.Abs(p[2]-0.5) > 1e-12 {
		t.Errorf("shares at the reference level %v, want the reference mix", p)
	}
}

// Through the operator's path, a drop in a few of many segments opens a
// task for each of them within days, and a drop of twice the size at the
// same volume is found no later (median over the segments and trials).
func TestSegmentDropDelays(t *testing.T) {
	c := wideCase(200)
	m := Case{Formula: c.Formula, Direction: c.Direction, Level: 20, Shift: c.Shift}.Metric()
	m.Objective.MinSamples = 20
	m.Policy.MaxOpenTasks = 10
	median := func(by float64) float64 {
		d := SegmentDrop{Metric: m, History: 60, Quiet: []int{33, 63}, Horizon: 14,
			Change: Change{Day: 64, By: by, Segments: 5, PerDay: 20}}
		trials, err := SegmentDropTrials(c, d, 2, 1)
		if err != nil {
			t.Fatal(err)
		}
		var delays []float64
		for _, tr := range trials {
			if len(tr.Delays) != 5 || !(tr.Threshold > 0) {
				t.Fatalf("a trial of a drop in 5 segments: %+v", tr)
			}
			delays = append(delays, tr.Delays...)
		}
		sort.Float64s(delays)
		t.Logf("drop of %g: delays %v", by, delays)
		return delays[len(delays)/2]
	}
	small, large := median(60), median(120)
	if math.IsInf(small, 1) || small < 1 || large > small {
		t.Errorf("median delays: %v days for a drop of 60 points, %v for 120", small, large)
	}
}
