package measure

import (
	"errors"
	"math"
	"strconv"
	"strings"
	"testing"
)

func TestHashIsStable(t *testing.T) {
	// Pinned: a change here relabels every stored value. Change the
	// canonical form only with a new hashVersion.
	if got := (Definition{Formula: FormulaNPS}).Hash(); got != "b7e62ea490831fe6" {
		t.Errorf("nps hash %s changed", got)
	}
	if got := (Definition{Formula: FormulaCSAT}).Hash(); got != "ea4a5f90c2d9534f" {
		t.Errorf("csat hash %s changed", got)
	}
}

func TestHashIgnoresSpelledOutDefaults(t *testing.T) {
	pairs := [][2]Definition{
		{{Formula: FormulaNPS}, {Formula: FormulaNPS, ScaleMin: 0, ScaleMax: 10, PromoterMin: 9, DetractorMax: 6, Unrated: UnratedExclude}},
		{{Formula: FormulaCSAT}, {Formula: FormulaCSAT, ScaleMin: 1, ScaleMax: 5, SatisfiedMin: 4}},
		{{Formula: FormulaCES}, {Formula: FormulaCES, ScaleMin: 1, ScaleMax: 7}},
		{{Formula: FormulaDerived, Expression: "a*b", Inputs: []string{"b", "a"}}, {Formula: FormulaDerived, Expression: "a*b", Inputs: []string{"a", "b"}}},
	}
	for _, p := range pairs {
		if p[0].Hash() != p[1].Hash() {
			t.Errorf("%+v and %+v hash differently", p[0], p[1])
		}
	}
}

func TestHashSeesEveryRule(t *testing.T) {
	four := 14400.0
	base := Definition{Formula: FormulaCSAT}
	variants := []Definition{
		{Formula: FormulaCSAT, SatisfiedMin: 5},
		{Formula: FormulaCSAT, ScaleMin: 1, ScaleMax: 7},
		{Formula: FormulaCSAT, Unrated: UnratedCountAsNegative},
		{Formula: FormulaCSAT, Source: "surveys WHERE channel = 'support'"},
		{Formula: FormulaCSAT, Rules: map[string]string{"hours": "business"}},
		{Formula: FormulaRate},
		{Formula: FormulaPercentile, Percentile: 50},
		{Formula: FormulaPercentile, Percentile: 90},
		{Formula: FormulaPercentile, Percentile: 90, ShareOver: &four},
		{Formula: FormulaNPS, PromoterMin: 8},
	}
	seen := map[string]int{base.Hash(): -1}
	for i, v := range variants {
		h := v.Hash()
		if j, dup := seen[h]; dup {
			t.Errorf("variant %d (%+v) hashes like %d", i, v, j)
		}
		seen[h] = i
	}
}

func TestWithDefaults(t *testing.T) {
	d := Definition{Formula: FormulaCSAT, ScaleMin: 1, ScaleMax: 10}.WithDefaults()
	if d.SatisfiedMin != 9 || d.Unrated != UnratedExclude {
		t.Errorf("csat 1..10 defaults: %+v", d)
	}
	d = Definition{Formula: FormulaNPS, ScaleMin: 1, ScaleMax: 5}.WithDefaults()
	if d.ScaleMin != 0 || d.ScaleMax != 10 {
		t.Errorf("nps scale is fixed at 0..10: %+v", d)
	}
}

func TestFamilies(t *testing.T) {
	want := map[string]Family{
		FormulaNPS: Categorical, FormulaCSAT: Categorical, FormulaRate: Categorical,
		FormulaCES: MomentsFamily, FormulaMean: MomentsFamily, FormulaSum: MomentsFamily, FormulaCount: MomentsFamily,
		FormulaPercentile: Quantile, FormulaRatio: RatioOfSums, FormulaValue: Gauge, FormulaDerived: Derived,
	}
	for f, fam := range want {
		if got := (Definition{Formula: f}).Family(); got != fam {
			t.Errorf("%s: family %s, want %s", f, got, fam)
		}
	}
	if (Definition{Formula: "x"}).Family() != 0 || Family(0).String() != "Family(0)" {
		t.Error("unknown formula should have no family")
	}
}

func TestValidateNamesTheField(t *testing.T) {
	nan := math.NaN()
	cases := map[string]Definition{
		"unrated":      {Formula: FormulaNPS, Unrated: "Ignore"},
		"promoterMin":  {Formula: FormulaNPS, PromoterMin: 5, DetractorMax: 6},
		"scaleMax":     {Formula: FormulaCES, ScaleMin: 7, ScaleMax: 1},
		"satisfiedMin": {Formula: FormulaCSAT, SatisfiedMin: 6},
		"percentile":   {Formula: FormulaPercentile, Percentile: nan},
		"expression":   {Formula: FormulaDerived},
		"shareOver":    {Formula: FormulaPercentile, Percentile: 50, ShareOver: &nan},
	}
	for field, d := range cases {
		var e *DefinitionError
		if err := d.Validate(); !errors.As(err, &e) || e.Field != field {
			t.Errorf("%+v: %v, want a %s error", d, err, field)
		}
	}
}

func TestSketchIndexSQLDividesBySameNumber(t *testing.T) {
	sql := SketchIndexSQL("first_response_seconds")
	i := strings.Index(sql, "/ ")
	j := strings.Index(sql[i:], ")")
	lit := strings.TrimSpace(sql[i+2 : i+j])
	v, err := strconv.ParseFloat(lit, 64)
	if err != nil || v != sketchLnGamma {
		t.Errorf("SQL divisor %q parses to %v, want %v", lit, v, sketchLnGamma)
	}
	if !strings.Contains(sql, "LN(CAST(first_response_seconds AS DOUBLE PRECISION))") {
		t.Errorf("SQL %s", sql)
	}
}
