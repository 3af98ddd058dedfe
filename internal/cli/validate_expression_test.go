package cli

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cxloop/cxloop/config/crd"
)

// derivedMetricManifest is a schema-valid derived Metric.
func derivedMetricManifest(name, expression string) string {
	return `apiVersion: cxloop.dev/v1alpha1
kind: Metric
metadata:
  name: ` + name + `
spec:
  owner:
    team: customer-success
  formula: derived
  expression: '` + expression + `'
  inputs:
    - {name: nrr, metric: net-revenue-retention}
  objective:
    target: 100
`
}

// The API server admits an expression within its bounds on length and
// macros; validate compiles it as the operator does and refuses one whose
// cost is still too high, which
// the operator would stall on, while an ordinary expression beside it
// passes.
func TestValidateRefusesACostlyExpression(t *testing.T) {
	// Two nested maps over a hundred elements: within the API server's
	// bound on macros (two) and length, but 10,000 steps an evaluation.
	hundred := make([]string, 100)
	for i := range hundred {
		hundred[i] = strconv.Itoa(i)
	}
	list := "[" + strings.Join(hundred, ",") + "]"
	bomb := "double(size(" + list + ".map(x, " + list + ".map(y, nrr))))"
	crds, err := crd.Definitions()
	if err != nil {
		t.Fatal(err)
	}
	checker, err := NewSchemaChecker(crds)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "metrics.yaml")
	manifest := derivedMetricManifest("nrr-bomb", bomb) + "---\n" + derivedMetricManifest("nrr-percent", "nrr * 100.0")
	if err := os.WriteFile(file, []byte(manifest), 0o600); err != nil {
		t.Fatal(err)
	}
	docs, err := readDocs(strings.NewReader(manifest))
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range docs {
		if res, err := checker.Check(t.Context(), d.Object); err != nil || !res.Valid() {
			t.Fatalf("%s: the schema must admit it, so only the expression check can refuse it: %v %v", objectLabel(d.Object), err, res.Messages())
		}
	}

	start := time.Now()
	code, out, errOut := runCLI(t, "validate", "-f", file)
	if elapsed := time.Since(start); elapsed > 10*time.Second {
		t.Errorf("validate took %s", elapsed)
	}
	if code != ExitError {
		t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, ExitError, out, errOut)
	}
	want := file + ": Metric/nrr-bomb: spec.expression: ExpressionTooCostly: "
	if !strings.Contains(out, want) || !strings.Contains(out, "exceeds the limit") {
		t.Fatalf("output does not name the costly expression\n got: %s\nwant: %s...", out, want)
	}
	if strings.Contains(out, "nrr-percent") {
		t.Fatalf("an ordinary expression is refused: %s", out)
	}
	if !strings.Contains(out, "1 of 2 objects invalid") {
		t.Fatalf("summary: %s", out)
	}
}

// An expression the operator could not compile is refused too, in CEL's
// words.
func TestValidateRefusesAnExpressionThatDoesNotCompile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "metric.yaml")
	if err := os.WriteFile(file, []byte(derivedMetricManifest("nrr-percent", "nrr * 100")), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, _ := runCLI(t, "validate", "-f", file)
	if code != ExitError || !strings.Contains(out, "Metric/nrr-percent: spec.expression: ") || !strings.Contains(out, "write constants as 12.0") {
		t.Fatalf("exit %d: %s", code, out)
	}
}
