package measure

import (
	"errors"
	"strings"
	"testing"
)

func TestDerivedValues(t *testing.T) {
	cases := []struct {
		expr   string
		inputs map[string]float64
		want   float64
	}{
		{"avg_purchase_value * purchase_frequency * lifespan", map[string]float64{"avg_purchase_value": 120, "purchase_frequency": 4, "lifespan": 3.5}, 1680},
		{"arpa * gross_margin / churn_rate", map[string]float64{"arpa": 500, "gross_margin": 0.7, "churn_rate": 0.02}, 17500},
		{"nrr > 1.0 ? nrr - 1.0 : 0.0", map[string]float64{"nrr": 1.25}, 0.25},
	}
	for _, c := range cases {
		names := make([]string, 0, len(c.inputs))
		for n := range c.inputs {
			names = append(names, n)
		}
		x, err := CompileDerived(c.expr, names)
		if err != nil {
			t.Fatal(err)
		}
		got, err := x.Eval(c.inputs)
		if err != nil {
			t.Fatal(err)
		}
		assertNear(t, c.expr, got, c.want, 1e-12)
	}
}

func TestDerivedCompileErrorsSayWhat(t *testing.T) {
	cases := []struct {
		expr   string
		inputs []string
		says   string
	}{
		{"a * 12", []string{"a"}, "write constants as 12.0"},
		{"a * b", []string{"a"}, "declared inputs: a"},
		{"a > 1.0", []string{"a"}, "yields bool, want double"},
		{"a +", []string{"a"}, "Syntax error"},
		{" ", []string{"a"}, "empty expression"},
		{"a", []string{"a", "a"}, "named twice"},
		{"a", []string{"a-b"}, "not an identifier"},
	}
	for _, c := range cases {
		_, err := CompileDerived(c.expr, c.inputs)
		var e *ExpressionError
		if !errors.As(err, &e) || !strings.Contains(err.Error(), c.says) {
			t.Errorf("%q: %v, want an ExpressionError saying %q", c.expr, err, c.says)
		}
	}
}

func TestDerivedEvalErrors(t *testing.T) {
	x, err := CompileDerived("a / b", []string{"a", "b"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := x.Eval(map[string]float64{"a": 1}); err == nil || !strings.Contains(err.Error(), `"b" missing`) {
		t.Errorf("missing input: %v", err)
	}
	if _, err := x.Eval(map[string]float64{"a": 1, "b": 0}); err == nil || !strings.Contains(err.Error(), "not finite") {
		t.Errorf("division by zero: %v", err)
	}
}

func TestDerivedEstimate(t *testing.T) {
	x, err := CompileDerived("arpa * margin / churn", []string{"arpa", "margin", "churn"})
	if err != nil {
		t.Fatal(err)
	}
	in := map[string]Estimate{
		"arpa":   {Value: 500, N: 80, NEff: 80, Sufficient: true, Hash: "1", Confidence: 0.95},
		"margin": {Value: 0.7, N: 1, NEff: 1, Sufficient: true, Hash: "2", Confidence: 0.95},
		"churn":  {Value: 0.02, N: 400, NEff: 400, Sufficient: true, Hash: "3", Confidence: 0.95},
	}
	e, err := x.Estimate(in)
	if err != nil || !e.Sufficient || e.N != 1 || e.Lower != e.Value || e.Method != MethodNone {
		t.Fatalf("%+v %v", e, err)
	}
	assertNear(t, "clv", e.Value, 17500, 1e-12)
	h := e.Hash
	in["churn"] = Estimate{Value: 0.02, N: 400, NEff: 400, Sufficient: true, Hash: "4"}
	if e2, _ := x.Estimate(in); e2.Hash == h {
		t.Error("a changed input definition kept the derived hash")
	}
	in["churn"] = Estimate{N: 3, Hash: "4"}
	if e3, err := x.Estimate(in); err != nil || e3.Sufficient || e3.Value != 0 {
		t.Errorf("an insufficient input gave %+v %v", e3, err)
	}
}
