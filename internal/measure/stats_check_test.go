package measure

import (
	"errors"
	"math"
	"testing"
)

func TestCheckStatsAcceptsFoldedStats(t *testing.T) {
	for _, d := range fuzzDefinitions {
		var s Stats
		for i := range 200 {
			d.Fold(&s, decodeRow(d, [4]byte{byte(i * 7), byte(i * 13), 0, byte(i * 3)}))
		}
		if err := d.CheckStats(&s); err != nil {
			t.Errorf("%s: %v", d.Formula, err)
		}
	}
}

func TestCheckStatsRefusesFaultySources(t *testing.T) {
	nps := Definition{Formula: FormulaNPS}
	p90 := Definition{Formula: FormulaPercentile, Percentile: 90}
	cases := []struct {
		name string
		def  Definition
		s    func() *Stats
	}{
		{"total is not the sum of scores", nps, func() *Stats {
			s := fold(nps, rows(10, 9, 0))
			s.Total.Add(1)
			return s
		}},
		{"score off the scale", nps, func() *Stats {
			s := fold(nps, rows(10))
			s.MergeScore(11, Cell{N: 1, W: 1, W2: 1})
			s.Total.Add(1)
			return s
		}},
		{"sketch misses units", p90, func() *Stats {
			s := fold(p90, rows(1, 2, 3))
			s.Total.Add(1)
			return s
		}},
		{"negative count", nps, func() *Stats { return &Stats{Unrated: Cell{N: -1}} }},
		{"weights without units", nps, func() *Stats { return &Stats{Rejected: Cell{W: 2}} }},
		{"extremes out of order", Definition{Formula: FormulaMean}, func() *Stats {
			return &Stats{Total: Cell{N: 2, W: 2, W2: 2}, Moments: Moments{SumWX: 3, SumWX2: 5, Min: 2, Max: 1}}
		}},
		{"sum not finite", Definition{Formula: FormulaRatio}, func() *Stats {
			return &Stats{Total: Cell{N: 2, W: 2, W2: 2}, Ratio: RatioSums{SumNum: math.Inf(1), SumDen: 2}}
		}},
		{"scores on a mean", Definition{Formula: FormulaMean}, func() *Stats {
			s := &Stats{}
			s.AddScore(1, 1)
			s.Total.Add(1)
			return s
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := c.def.CheckStats(c.s()); !errors.Is(err, ErrInconsistentStats) {
				t.Errorf("CheckStats: %v", err)
			}
			if _, err := Compute(c.def, c.s(), 0.95, 1); !errors.Is(err, ErrInconsistentStats) {
				t.Errorf("Compute: %v", err)
			}
		})
	}
}
