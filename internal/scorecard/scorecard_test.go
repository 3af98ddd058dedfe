package scorecard

import (
	"errors"
	"math"
	"slices"
	"testing"
)

const z95 = 1.959963984540054

func near(t *testing.T, what string, got, want float64) {
	t.Helper()
	if math.Abs(got-want) > 1e-9*math.Max(1, math.Abs(want)) {
		t.Errorf("%s = %v, want %v", what, got, want)
	}
}

// reading is a symmetric reading with standard error se.
func reading(key string, v, se float64) Reading {
	return Reading{Key: key, Value: v, Lower: v - z95*se, Upper: v + z95*se, Samples: 10}
}

func TestScaleScoresBothDirections(t *testing.T) {
	nps := Scale{Floor: -100, Target: 40}
	for _, c := range []struct{ v, want float64 }{{-100, 0}, {-30, 50}, {40, 100}, {70, 100}, {-150, 0}} {
		near(t, "nps score", nps.Score(c.v), c.want)
	}
	effort := Scale{Floor: 7, Target: 2} // lower effort is better
	for _, c := range []struct{ v, want float64 }{{7, 0}, {4.5, 50}, {2, 100}, {1, 100}} {
		near(t, "ces score", effort.Score(c.v), c.want)
	}
	lo, hi := effort.Interval(4, 5)
	near(t, "ces lower", lo, 40)
	near(t, "ces upper", hi, 60)
}

func TestMissingMemberIsLeftOutNotZero(t *testing.T) {
	in := Input{
		Members: []Member{
			{Name: "nps", Weight: 2, Scale: Scale{Floor: -100, Target: 50}},
			{Name: "fcr", Weight: 1, Scale: Scale{Floor: 0, Target: 80}},
		},
		Readings: [][]Reading{
			{reading("acme", 20, 3), reading("globex", -10, 4)},
			{reading("acme", 60, 2)},
		},
		Target:     70,
		Confidence: 0.95,
	}
	res, err := Compute(in)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Accounts) != 2 {
		t.Fatalf("accounts = %+v, want acme and globex", res.Accounts)
	}
	acme, globex := res.Accounts[0], res.Accounts[1]
	// acme: nps (20+100)/150 = 80, fcr 60/80 = 75; (2·80 + 75)/3.
	near(t, "acme score", acme.Score, (2*80+75)/3.0)
	seNPS, seFCR := 3*100/150.0, 2*100/80.0
	se := math.Sqrt(4*seNPS*seNPS+seFCR*seFCR) / 3
	near(t, "acme lower", acme.Lower, acme.Score-z95*se)
	near(t, "acme upper", acme.Upper, acme.Score+z95*se)
	near(t, "acme coverage", acme.Coverage, 1)
	if acme.PulledDownBy != "nps" { // 2·20 = 40 against 1·25
		t.Errorf("acme pulled down by %q, want nps", acme.PulledDownBy)
	}
	// globex has no fcr: its score is its nps alone, 60, not (2·60+0)/3.
	near(t, "globex score", globex.Score, 60)
	near(t, "globex coverage", globex.Coverage, 2/3.0)
	if !globex.Members[1].Missing || globex.Members[0].Missing {
		t.Errorf("globex members = %+v, want fcr missing only", globex.Members)
	}
	if acme.AtRisk || !globex.AtRisk {
		t.Errorf("at risk: acme %v, globex %v; want globex only", acme.AtRisk, globex.AtRisk)
	}
	// Unweighted index: the plain mean of the two accounts.
	near(t, "index", res.Index, (acme.Score+globex.Score)/2)
}

func TestPersonasCountAsGroups(t *testing.T) {
	m := Member{Name: "nps", Weight: 1, Scale: Scale{Floor: -100, Target: 100},
		Personas: map[string]float64{"executive": 3, "admin": 2}, OtherPersonas: 1}
	readings := []Reading{
		{Key: "acme", Persona: "executive", Value: -100, Lower: -100, Upper: 20, Samples: 1},
		{Key: "acme", Persona: "end-user", Value: 60, Lower: 50, Upper: 70, Samples: 200},
		{Key: "acme", Persona: "intern", Value: 0, Lower: -40, Upper: 40, Samples: 8},
	}
	res, err := Compute(Input{Members: []Member{m}, Readings: [][]Reading{readings}, Target: 50, Confidence: 0.95})
	if err != nil {
		t.Fatal(err)
	}
	got := res.Accounts[0].Members[0]
	// The personas present weigh 3, 1 and 1: the 200 end users count as one
	// group beside the one executive, not 200 times.
	want := (3*-100.0 + 60 + 0) / 5
	near(t, "persona-weighted value", got.Value, want)
	if got.Samples != 209 {
		t.Errorf("samples = %d, want 209", got.Samples)
	}
	// The executive's interval is asymmetric: its wider side counts.
	se := math.Sqrt(9*math.Pow(120/z95, 2)+math.Pow(10/z95, 2)+math.Pow(40/z95, 2)) / 5
	lo, hi := m.Scale.Interval(want-z95*se, want+z95*se)
	near(t, "score lower", got.Lower, lo)
	near(t, "score upper", got.Upper, hi)

	// With OtherPersonas 0 only the listed personas count.
	m.OtherPersonas = 0
	res, err = Compute(Input{Members: []Member{m}, Readings: [][]Reading{readings}, Target: 50, Confidence: 0.95})
	if err != nil {
		t.Fatal(err)
	}
	near(t, "listed personas only", res.Accounts[0].Members[0].Value, -100)
}

func TestAccountsAtRiskByValue(t *testing.T) {
	members := []Member{{Name: "csat", Weight: 1, Scale: Scale{Floor: 0, Target: 90}}}
	readings := [][]Reading{{
		reading("a", 45, 1), // score 50
		reading("b", 81, 1), // 90: not at risk
		reading("c", 27, 1), // 30
		reading("d", 54, 1), // 60
		reading("e", 9, 1),  // 10, no value
	}}
	values := map[string]float64{"a": 1e6, "b": 5e6, "c": 2e5, "d": 3e6}
	res, err := Compute(Input{Members: members, Readings: readings, Values: values, Target: 70, Confidence: 0.95})
	if err != nil {
		t.Fatal(err)
	}
	var order []string
	for _, a := range res.AtRisk {
		order = append(order, a.Key)
	}
	if got, want := order, []string{"d", "a", "c", "e"}; !slices.Equal(got, want) {
		t.Errorf("accounts at risk = %v, want %v", got, want)
	}
	near(t, "value at risk", res.ValueAtRisk, 3e6+1e6+2e5)
	// The index weighs the valued accounts by value and leaves e out.
	near(t, "index", res.Index, (1e6*50+5e6*90+2e5*30+3e6*60)/(1e6+5e6+2e5+3e6))
	if res.Unvalued != 1 {
		t.Errorf("unvalued = %d, want 1", res.Unvalued)
	}
	se := 100 / 90.0
	ise := math.Sqrt(1e12+25e12+4e10+9e12) * se / (1e6 + 5e6 + 2e5 + 3e6)
	near(t, "index lower", res.IndexLower, res.Index-z95*ise)
	// Quantiles of 10, 30, 50, 60, 90 (type 7).
	for i, want := range []float64{18, 30, 50, 60, 78} {
		near(t, "quantile", res.Quantiles[i], want)
	}
}

func TestComputeRefusesWhatCannotBeScored(t *testing.T) {
	ok := Member{Name: "m", Weight: 1, Scale: Scale{Floor: 0, Target: 1}}
	for name, in := range map[string]Input{
		"confidence":    {Members: []Member{ok}, Readings: [][]Reading{nil}, Confidence: 1},
		"weight":        {Members: []Member{{Name: "m", Weight: 0, Scale: ok.Scale}}, Readings: [][]Reading{nil}, Confidence: 0.9},
		"scale":         {Members: []Member{{Name: "m", Weight: 1, Scale: Scale{Floor: 3, Target: 3}}}, Readings: [][]Reading{nil}, Confidence: 0.9},
		"infinite":      {Members: []Member{{Name: "m", Weight: 1, Scale: Scale{Floor: math.Inf(-1), Target: 3}}}, Readings: [][]Reading{nil}, Confidence: 0.9},
		"readings left": {Members: []Member{ok}, Confidence: 0.9},
	} {
		if _, err := Compute(in); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: err = %v, want ErrInvalid", name, err)
		}
	}
}

func TestNoAccountsGiveNoIndex(t *testing.T) {
	res, err := Compute(Input{Members: []Member{{Name: "m", Weight: 1, Scale: Scale{Floor: 0, Target: 1}}},
		Readings: [][]Reading{{{Key: "x", Value: math.NaN()}}}, Target: 50, Confidence: 0.95})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Accounts) != 0 || !math.IsNaN(res.Index) || !math.IsNaN(res.Quantiles[2]) {
		t.Errorf("result = %+v, want no accounts and a NaN index", res)
	}
}

// An account whose data covers less than MinCoverage of the members'
// weight is scored but not judged: it is neither at risk nor healthy.
func TestThinAccountsAreNotJudged(t *testing.T) {
	in := Input{
		Members: []Member{
			{Name: "nps", Weight: 2, Scale: Scale{Floor: -100, Target: 50}},
			{Name: "fcr", Weight: 1, Scale: Scale{Floor: 0, Target: 80}},
		},
		Readings: [][]Reading{
			{reading("acme", -40, 3)},
			{reading("acme", 20, 2), reading("thin", 8, 2)},
		},
		Target: 70, Confidence: 0.95, MinCoverage: 0.5,
	}
	res, err := Compute(in)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Accounts) != 2 || res.Unjudged != 1 || len(res.AtRisk) != 1 || res.AtRisk[0].Key != "acme" {
		t.Fatalf("accounts %+v, at risk %+v, unjudged %d; want acme at risk and thin (a third of the weight) unjudged",
			res.Accounts, res.AtRisk, res.Unjudged)
	}
	if thin := res.Accounts[1]; thin.AtRisk || thin.Score >= 70 {
		t.Errorf("thin = %+v, want a low score that is not judged", thin)
	}
}

// Outcomes are averaged over the accounts at risk and the judged healthy
// ones; unjudged accounts and accounts without the outcome count in
// neither.
func TestOutcomesSitBesideTheScores(t *testing.T) {
	in := Input{
		Members:  []Member{{Name: "csat", Weight: 1, Scale: Scale{Floor: 0, Target: 90}}, {Name: "fcr", Weight: 1, Scale: Scale{Floor: 0, Target: 80}}},
		Readings: [][]Reading{{reading("a", 45, 1), reading("b", 81, 1), reading("c", 90, 1), reading("d", 20, 1)}, {reading("a", 40, 1), reading("b", 80, 1), reading("c", 80, 1)}},
		Target:   70, Confidence: 0.95, MinCoverage: 0.75,
	}
	res, err := Compute(in)
	if err != nil {
		t.Fatal(err)
	}
	renewal := map[string]float64{"a": 60, "b": 95, "c": 85, "d": 10}
	got := Link(res, []string{"renewal", "nrr"}, map[string]map[string]float64{"renewal": renewal})
	if len(got) != 2 || got[0].AtRiskAccounts != 1 || got[0].AtRisk != 60 || got[0].HealthyAccounts != 2 || got[0].Healthy != 90 {
		t.Fatalf("linkage = %+v, want renewal 60 for a, 90 for b and c, d unjudged", got)
	}
	if got[1].AtRiskAccounts != 0 || !math.IsNaN(got[1].AtRisk) {
		t.Errorf("an outcome without values = %+v", got[1])
	}
}
