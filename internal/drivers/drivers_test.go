package drivers

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// planted draws 300 accounts whose outcome correlates with three drivers
// at about rho each (a bivariate normal pair per driver, sharing the
// outcome).
func planted(seed uint64, rhos ...float64) (map[string]float64, []map[string]float64) {
	r := rand.New(rand.NewPCG(seed, 1))
	outcome := map[string]float64{}
	ds := make([]map[string]float64, len(rhos))
	for i := range ds {
		ds[i] = map[string]float64{}
	}
	for a := range 300 {
		key := fmt.Sprintf("acct-%03d", a)
		y := r.NormFloat64()
		outcome[key] = 30 + 20*y
		for i, rho := range rhos {
			ds[i][key] = 70 + 10*(rho*y+math.Sqrt(1-rho*rho)*r.NormFloat64())
		}
	}
	return outcome, ds
}

func TestAssociationRecoversPlantedDriversInOrder(t *testing.T) {
	for seed := uint64(1); seed <= 20; seed++ {
		outcome, ds := planted(seed, 0.52, 0.31, 0)
		var as []Association
		for i, name := range []string{"fcr", "on-time", "noise"} {
			a, ok := Associate(name, outcome, ds[i], 0.95)
			if !ok || a.Segments != 300 {
				t.Fatalf("seed %d %s: %+v", seed, name, a)
			}
			as = append(as, a)
		}
		Rank(as)
		if as[0].Name != "fcr" || as[1].Name != "on-time" || as[2].Name != "noise" {
			t.Errorf("seed %d: ranked %s, %s, %s", seed, as[0].Name, as[1].Name, as[2].Name)
		}
		if !as[0].Supported || !as[1].Supported {
			t.Errorf("seed %d: planted drivers unsupported: %+v", seed, as[:2])
		}
		for _, a := range as {
			if !(a.SpearmanLower <= a.Spearman && a.Spearman <= a.SpearmanUpper) || !(a.PearsonLower <= a.Pearson && a.Pearson <= a.PearsonUpper) {
				t.Errorf("seed %d %s: estimate outside its interval: %+v", seed, a.Name, a)
			}
		}
	}
}

// The interval covers the true correlation at about its level: for a
// bivariate normal, Spearman's ρ is (6/π)·asin(ρ/2).
func TestSpearmanIntervalCoversAtItsLevel(t *testing.T) {
	rho := 0.4
	truth := 6 / math.Pi * math.Asin(rho/2)
	covered, trials := 0, 400
	for seed := range uint64(trials) {
		outcome, ds := planted(seed+100, rho)
		a, _ := Associate("d", outcome, ds[0], 0.95)
		if a.SpearmanLower <= truth && truth <= a.SpearmanUpper {
			covered++
		}
	}
	if rate := float64(covered) / float64(trials); rate < 0.92 || rate > 0.98 {
		t.Errorf("the 95%% interval covered the truth %.1f%% of the time", 100*rate)
	}
}

func TestRanksShareTies(t *testing.T) {
	got := ranks([]float64{3, 1, 3, 2, 3})
	want := []float64{4, 1, 4, 2, 4}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("ranks = %v, want %v", got, want)
		}
	}
}

func TestTooFewSegmentsGiveNoAssociation(t *testing.T) {
	outcome := map[string]float64{}
	driver := map[string]float64{}
	for i := range MinSegments - 1 {
		k := fmt.Sprint(i)
		outcome[k], driver[k] = float64(i), float64(i)
	}
	driver["extra"] = 1 // only in the driver: not a pair
	if a, ok := Associate("d", outcome, driver, 0.95); ok || a.Segments != MinSegments-1 {
		t.Errorf("association = %+v, %v; want none from %d segments", a, ok, MinSegments-1)
	}
}

// A driver that leads the outcome by two intervals is found at lag 2.
func TestLaggedFindsTheLead(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	n := 60
	driver, outcome := make([]float64, n), make([]float64, n)
	for i := range n {
		driver[i] = r.NormFloat64()
	}
	for i := range n {
		outcome[i] = 0.3 * r.NormFloat64()
		if i >= 2 {
			outcome[i] += driver[i-2]
		}
	}
	outcome[10] = math.NaN()
	lag, c, pairs := Lagged(outcome, driver, 4)
	if lag != 2 || c < 0.8 || pairs != n-3 {
		t.Errorf("lag %d, r %.2f over %d pairs; want lag 2, r above 0.8 over %d", lag, c, pairs, n-3)
	}
}
