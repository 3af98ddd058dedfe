package detect

import (
	"fmt"
	"testing"
	"time"

	"github.com/cxloop/cxloop/internal/measure"
)

// thousandSegments is a window of 1,000 segments and the whole population.
func thousandSegments(n float64) map[string]measure.Contribution {
	w := map[string]measure.Contribution{"": batch(1000*n, 30, 71)}
	for i := 0; i < 1000; i++ {
		w[fmt.Sprintf("account=%04d", i)] = batch(n, 30, 71)
	}
	return w
}

// BenchmarkConfigure is the calibration a reconcile runs for a Metric of
// 1,000 segments.
func BenchmarkConfigure(b *testing.B) {
	w := thousandSegments(20)
	for i := 0; i < b.N; i++ {
		if _, _, err := Configure(Setup{Direction: AtLeast, Reference: 30, Formula: measure.FormulaNPS, Window: w,
			WindowLength: 30 * 24 * time.Hour, Interval: 24 * time.Hour, BaselineUnits: 20000}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFeed is one interval of new data over 1,000 segments.
func BenchmarkFeed(b *testing.B) {
	c := Config{Direction: AtLeast, Reference: 30, Shift: 5, Sigma: 71, Threshold: 10}
	fresh := thousandSegments(1)
	st := State{}
	for i := 0; i < b.N; i++ {
		st, _ = c.Feed(st, Batch{From: day0, To: day0.Add(24 * time.Hour), Segments: fresh})
	}
}
