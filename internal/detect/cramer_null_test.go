package detect

import (
	"math"
	"testing"

	"github.com/cxloop/cxloop/internal/measure"
)

func statsOf(d measure.Definition, rows ...measure.Row) *measure.Stats {
	s := &measure.Stats{}
	for _, r := range rows {
		d.Fold(s, r)
	}
	return s
}

func scores(counts map[float64]int) []measure.Row {
	var rows []measure.Row
	for v, n := range counts {
		for range n {
			rows = append(rows, measure.Row{Value: v, Valid: true})
		}
	}
	return rows
}

func TestNullOf(t *testing.T) {
	nps := measure.Definition{Formula: measure.FormulaNPS}
	rate := measure.Definition{Formula: measure.FormulaRate}
	negative := measure.Definition{Formula: measure.FormulaCSAT, Unrated: measure.UnratedCountAsNegative}
	over := 30.0
	share := measure.Definition{Formula: measure.FormulaPercentile, ShareOver: &over}
	for _, tc := range []struct {
		name string
		def  measure.Definition
		rows []measure.Row
		want []Atom
	}{
		// Shares with half a unit of prior over the formula's values.
		{"nps", nps, scores(map[float64]int{0: 1, 5: 1, 7: 2, 8: 1, 9: 3, 10: 2}),
			[]Atom{{-100, (2 + 0.5/3) / 10.5}, {0, (3 + 0.5/3) / 10.5}, {100, (5 + 0.5/3) / 10.5}}},
		{"rate", rate, scores(map[float64]int{0: 49, 1: 1}), []Atom{{0, 49.25 / 50.5}, {100, 1.25 / 50.5}}},
		{"a small window still has every value", rate, scores(map[float64]int{0: 4}), []Atom{{0, 4.25 / 4.5}, {100, 0.25 / 4.5}}},
		// The unrated count in the shares but not in the prior's scale
		// (its effective units are the rated ones).
		{"csat counting unrated as unsatisfied", negative,
			append(scores(map[float64]int{5: 6, 4: 1, 2: 1}), measure.Row{}, measure.Row{}),
			[]Atom{{0, 3.25 / 10.5}, {100, 7.25 / 10.5}}},
		{"share over a threshold", share, scores(map[float64]int{10: 3, 40: 1}), []Atom{{0, 3.25 / 4.5}, {100, 1.25 / 4.5}}},
		{"mean on an open scale", measure.Definition{Formula: measure.FormulaMean}, scores(map[float64]int{3: 2, 40: 1}), nil},
		{"no units", nps, nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := NullOf(tc.def, statsOf(tc.def.WithDefaults(), tc.rows...))
			if len(got) != len(tc.want) {
				t.Fatalf("null %v, want %v", got, tc.want)
			}
			for i := range got {
				if got[i].Value != tc.want[i].Value || math.Abs(got[i].P-tc.want[i].P) > 1e-12 {
					t.Fatalf("null %v, want %v", got, tc.want)
				}
			}
		})
	}
}

// TestNullOfEffortScores: an effort score's statistics keep two moments;
// the distribution on the scale with those moments and the most entropy
// has them, and the skew of a mix piled at the top of the scale.
func TestNullOfEffortScores(t *testing.T) {
	def := measure.Definition{Formula: measure.FormulaCES}
	shares := []int{1, 2, 4, 10, 20, 33, 30}
	counts := map[float64]int{}
	var m, m2, m3 float64
	for i, n := range shares {
		counts[float64(i+1)] = n
		x, p := float64(i+1), float64(n)/100
		m += p * x
		m2 += p * x * x
	}
	v := m2 - m*m
	for i, n := range shares {
		m3 += float64(n) / 100 * math.Pow(float64(i+1)-m, 3)
	}
	null := NullOf(def, statsOf(def.WithDefaults(), scores(counts)...))
	if len(null) != 7 {
		t.Fatalf("null %v, want the seven points of the scale", null)
	}
	var gm, gv, g3 float64
	for _, a := range null {
		gm += a.P * a.Value
	}
	for _, a := range null {
		gv += a.P * (a.Value - gm) * (a.Value - gm)
		g3 += a.P * math.Pow(a.Value-gm, 3)
	}
	if math.Abs(gm-m) > 1e-9 || math.Abs(gv-v) > 1e-9 {
		t.Fatalf("mean %v variance %v, want %v %v", gm, gv, m, v)
	}
	skew, want := g3/math.Pow(gv, 1.5), m3/math.Pow(v, 1.5)
	if !(skew < -0.5) || math.Abs(skew-want) > 0.5 {
		t.Fatalf("skewness %v, want near the mix's %v", skew, want)
	}
	if got := maxEntropy(1, 7, 4, 9.5); got != nil {
		t.Fatalf("a variance only the scale's ends exceed: %v, want nil", got)
	}
}
