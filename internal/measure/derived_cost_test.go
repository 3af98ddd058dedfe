package measure

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"
)

// nestedMaps is a comprehension bomb: depth .map calls nested over a
// ten-element list, 10^depth steps, yielding a double so only its cost is
// wrong.
func nestedMaps(depth int) string {
	const list = "[0, 1, 2, 3, 4, 5, 6, 7, 8, 9]"
	inner := "x0"
	for i := depth - 1; i >= 0; i-- {
		inner = list + ".map(x" + string(rune('0'+i)) + ", " + inner + ")"
	}
	return "double(size(" + inner + "))"
}

func TestDerivedCostBudget(t *testing.T) {
	cases := []struct {
		name    string
		expr    string
		inputs  []string
		costly  bool
		compile bool
	}{
		{"scaled", "nrr * 100.0", []string{"nrr"}, false, true},
		{"ratio of a difference", "(a - b) / c", []string{"a", "b", "c"}, false, true},
		{"conditional", "nrr > 1.0 ? nrr - 1.0 : 0.0", []string{"nrr"}, false, true},
		{"longest arithmetic the API admits", strings.Repeat("nrr * 1.5 + ", 85) + "nrr", []string{"nrr"}, false, true},
		{"one small map", "double(size([1.0, 2.0].map(v, v * nrr)))", []string{"nrr"}, false, true},
		{"six nested maps", nestedMaps(6), []string{"nrr"}, true, false},
		{"three nested maps", nestedMaps(3), []string{"nrr"}, true, false},
		{"nine nested maps", nestedMaps(9), []string{"nrr"}, true, false},
		{"nested map yielding a list", strings.TrimSuffix(strings.TrimPrefix(nestedMaps(6), "double(size("), "))"), []string{"nrr"}, true, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			start := time.Now()
			x, err := CompileDerived(c.expr, c.inputs)
			if elapsed := time.Since(start); elapsed > time.Second {
				t.Errorf("compile took %s: the check must refuse before anything runs", elapsed)
			}
			var xe *ExpressionError
			switch {
			case c.costly && (!errors.Is(err, ErrExpressionTooCostly) || !errors.As(err, &xe)):
				t.Fatalf("want an ExpressionError wrapping ErrExpressionTooCostly, got %v", err)
			case c.costly && !strings.Contains(err.Error(), "exceeds the limit"):
				t.Fatalf("the error does not say why: %v", err)
			case !c.costly && err != nil:
				t.Fatalf("an ordinary expression is refused: %v", err)
			}
			if !c.compile {
				return
			}
			values := map[string]float64{}
			for i, n := range c.inputs {
				values[n] = float64(i + 2)
			}
			if _, err := x.Eval(values); err != nil {
				t.Fatalf("evaluate: %v", err)
			}
		})
	}
}

// Evaluation enforces the budget itself, so an expression the estimate
// misjudged still stops: here the estimate is switched off.
func TestDerivedEvaluationStopsAtTheBudget(t *testing.T) {
	x, err := compileDerived(nestedMaps(6), []string{"nrr"}, math.MaxUint64)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = x.Eval(map[string]float64{"nrr": 1})
	if elapsed := time.Since(start); elapsed > time.Second {
		t.Errorf("evaluation took %s", elapsed)
	}
	if !errors.Is(err, ErrExpressionTooCostly) {
		t.Fatalf("want ErrExpressionTooCostly, got %v", err)
	}
	est, err := x.Estimate(map[string]Estimate{"nrr": {Value: 1, Sufficient: true, N: 10, NEff: 10}})
	if !errors.Is(err, ErrExpressionTooCostly) {
		t.Fatalf("Estimate: want ErrExpressionTooCostly, got %v (%+v)", err, est)
	}
}
