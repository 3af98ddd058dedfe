package measure_test

import (
	"fmt"

	"github.com/cxloop/cxloop/internal/measure"
)

// A source returns statistics per segment; the engine merges and computes.
func ExampleCompute() {
	nps := measure.Definition{Formula: measure.FormulaNPS}
	emea, amer := &measure.Stats{}, &measure.Stats{}
	// 45 promoters, 40 passives, 15 detractors, split over two segments.
	emea.MergeScore(10, measure.Cell{N: 30, W: 30, W2: 30})
	emea.MergeScore(8, measure.Cell{N: 20, W: 20, W2: 20})
	emea.Total = measure.Cell{N: 50, W: 50, W2: 50}
	amer.MergeScore(9, measure.Cell{N: 15, W: 15, W2: 15})
	amer.MergeScore(7, measure.Cell{N: 20, W: 20, W2: 20})
	amer.MergeScore(3, measure.Cell{N: 15, W: 15, W2: 15})
	amer.Total = measure.Cell{N: 50, W: 50, W2: 50}

	all := measure.Overall(map[string]*measure.Stats{"region=emea": emea, "region=amer": amer})
	e, err := measure.Compute(nps, all, 0.95, 30)
	if err != nil {
		panic(err)
	}
	state, _ := measure.Objective{Direction: measure.AtLeast, Target: 20}.Evaluate(e)
	fmt.Printf("NPS %.0f [%.1f, %.1f] on %d responses: %s\n", e.Value, e.Lower, e.Upper, e.N, state)
	// Output: NPS 30 [15.3, 42.9] on 100 responses: Inconclusive
}

// Folding rows is how in-process sources (CSV, HTTP JSON) build statistics.
func ExampleDefinition_Fold() {
	csat := measure.Definition{Formula: measure.FormulaCSAT} // 1..5, top-2 box
	var s measure.Stats
	for _, score := range []float64{5, 4, 4, 3, 5, 2, 4, 5, 1, 4} {
		csat.Fold(&s, measure.Row{Value: score, Valid: true})
	}
	csat.Fold(&s, measure.Row{Valid: false}) // skipped: excluded by default
	e, _ := measure.Compute(csat, &s, 0.95, 10)
	fmt.Printf("CSAT %.0f %% [%.1f, %.1f], n=%d, unrated=%d\n", e.Value, e.Lower, e.Upper, e.N, s.Unrated.N)
	// Output: CSAT 70 % [39.7, 89.2], n=10, unrated=1
}

// Derived metrics are CEL expressions over named inputs.
func ExampleCompileDerived() {
	clv, err := measure.CompileDerived("avg_purchase_value * purchase_frequency * lifespan",
		[]string{"avg_purchase_value", "purchase_frequency", "lifespan"})
	if err != nil {
		panic(err)
	}
	v, _ := clv.Eval(map[string]float64{"avg_purchase_value": 120, "purchase_frequency": 4, "lifespan": 3.5})
	fmt.Println("CLV", v)

	_, err = measure.CompileDerived("arpa * 12", []string{"arpa"})
	fmt.Println(err != nil)
	// Output:
	// CLV 1680
	// true
}
