package engine_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	. "github.com/cxloop/cxloop/internal/engine"
	"github.com/cxloop/cxloop/internal/measure"
)

// A costly expression is a rejection with its own reason, so its Metric
// says why; any other rejection keeps the caller's reason.
func TestEvaluateDerivedNamesACostlyExpression(t *testing.T) {
	end := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	both := map[string]InputValue{"a": {Hash: "h1", Value: value(42), Samples: 300}, "b": {Hash: "h2", Value: value(30), Samples: 200}}
	list := "[a, b, a, b, a, b, a, b, a, b]"
	bomb := "a"
	for range 6 {
		bomb = list + ".map(v, " + bomb + ")"
	}
	bomb = "double(size(" + bomb + "))"
	cases := []struct {
		name, expression, reason string
	}{
		{"nested maps", bomb, ReasonExpressionTooCostly},
		{"a syntax error", "a -", "InvalidSpec"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res, err := EvaluateDerived(derivedMetric(c.expression), both, end)
			if !errors.Is(err, ErrRejected) || res != nil {
				t.Fatalf("EvaluateDerived = %v, %v; want ErrRejected", res, err)
			}
			if got := RejectionReason(err, "InvalidSpec"); got != c.reason {
				t.Fatalf("reason %q, want %q (%v)", got, c.reason, err)
			}
			if c.reason == ReasonExpressionTooCostly && (!errors.Is(err, measure.ErrExpressionTooCostly) || !strings.Contains(err.Error(), "exceeds the limit")) {
				t.Fatalf("the error does not say the expression is too costly: %v", err)
			}
		})
	}
}
