package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/cxloop/cxloop/config/crd"
	"github.com/cxloop/cxloop/internal/engine"
	"github.com/cxloop/cxloop/internal/measure"
)

func init() { Register(newValidateCommand) }

const validateLong = `Validate cxloop manifests offline, against the CRDs built into this binary.

Every .yaml and .yml file under each -f directory is read (recursively), and
every document in it. cxloop objects (DataSource, Metric, Team,
ImprovementTask) are checked with the API server's own code: unknown fields
are reported, structural defaults applied, then the OpenAPI schema and the
CEL rules are checked, so each message carries the field path and reason the
API server would give. Other kinds (Secrets, ConfigMaps, ...) and
kustomization.yaml files are skipped with a note on stderr.

The check is the one made on create: rules that compare with the stored
object (oldSelf, such as "metric is immutable") need a cluster and are not
run. One check goes beyond the API server's: a derived Metric's expression
is compiled as the operator compiles it, so an expression the operator
would stall on (one that does not compile, or whose cost exceeds the
budget, reason ExpressionTooCostly) is refused here too. Each problem is printed as

  FILE: Kind/name: <message>

and the command exits 1 when any object is invalid, 0 otherwise.`

// validateOptions are the flags of `validate`.
type validateOptions struct {
	files []string
}

func newValidateCommand(g *Globals) *cobra.Command {
	o := &validateOptions{}
	cmd := &cobra.Command{
		Use:   "validate -f DIR|FILE [-f ...]",
		Short: "Check manifests against the cxloop CRDs without a cluster",
		Long:  validateLong,
		Example: `  # every manifest of a GitOps directory
  kubectl cx validate -f deploy/cxloop/

  # one file, and one from stdin
  kubectl cx validate -f metric-nps.yaml
  kustomize build overlays/prod | kubectl cx validate -f -`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if len(o.files) == 0 {
				return usageErrorf("validate needs at least one -f DIR|FILE")
			}
			return runValidate(cmd.Context(), g, o)
		},
	}
	cmd.Flags().StringArrayVarP(&o.files, "filename", "f", nil, "file or directory of manifests to validate (repeatable; - for stdin)")
	return cmd
}

// validateTally counts what validate saw.
type validateTally struct {
	files, objects, invalid, skipped int
}

func runValidate(ctx context.Context, g *Globals, o *validateOptions) error {
	paths, err := expandPaths(o.files)
	if err != nil {
		return err
	}
	crds, err := crd.Definitions()
	if err != nil {
		return fmt.Errorf("read the built-in CRDs: %w", err)
	}
	checker, err := NewSchemaChecker(crds)
	if err != nil {
		return err
	}
	out, notes := g.Streams.Out, g.Streams.ErrOut
	var t validateTally
	for _, path := range paths {
		t.files++
		if isKustomization(path) {
			t.skipped++
			fmt.Fprintf(notes, "note: %s: skipped, a kustomization is not an object\n", path)
			continue
		}
		if err := validateFile(ctx, checker, g.Streams.In, path, out, notes, &t); err != nil {
			t.objects++
			t.invalid++
			fmt.Fprintf(out, "%s: %v\n", path, err)
		}
	}
	if t.invalid > 0 {
		fmt.Fprintf(out, "%d of %s invalid in %s\n", t.invalid, plural(t.objects, "object"), plural(t.files, "file"))
		return &ReportedError{Summary: fmt.Sprintf("%d invalid objects", t.invalid)}
	}
	fmt.Fprintf(out, "%s valid in %s (%d skipped)\n", plural(t.objects, "object"), plural(t.files, "file"), t.skipped)
	return nil
}

// validateFile checks every document of one file, printing findings.
func validateFile(ctx context.Context, checker *SchemaChecker, stdin io.Reader, path string, out, notes io.Writer, t *validateTally) error {
	var r io.Reader = stdin
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		r = f
	}
	docs, err := readDocs(r)
	for _, d := range docs {
		if d.Err != nil {
			t.objects++
			t.invalid++
			fmt.Fprintf(out, "%s: document %d: %v\n", path, d.Index, d.Err)
			continue
		}
		gvk := d.Object.GroupVersionKind()
		label := objectLabel(d.Object)
		if !checker.KnowsGroup(gvk.Group) {
			t.skipped++
			fmt.Fprintf(notes, "note: %s: %s: skipped, not a cxloop kind\n", path, label)
			continue
		}
		t.objects++
		res, err := checker.Check(ctx, d.Object)
		var unknown *ErrUnknownKind
		switch {
		case errors.As(err, &unknown):
			t.invalid++
			fmt.Fprintf(out, "%s: %s: %v\n", path, label, err)
			continue
		case err != nil:
			return err
		}
		if !res.Valid() {
			t.invalid++
			for _, msg := range res.Messages() {
				fmt.Fprintf(out, "%s: %s: %s\n", path, label, msg)
			}
			continue
		}
		if err := checkExpression(res.Object); err != nil {
			t.invalid++
			fmt.Fprintf(out, "%s: %s: spec.expression: %v\n", path, label, err)
		}
	}
	return err
}

// checkExpression compiles a derived Metric's expression over its inputs,
// as the operator does before evaluating it: the API server bounds only
// the expression's length, not what it costs to run.
func checkExpression(obj *unstructured.Unstructured) error {
	if obj.GroupVersionKind().Kind != "Metric" {
		return nil
	}
	formula, _, _ := unstructured.NestedString(obj.Object, "spec", "formula")
	expression, _, _ := unstructured.NestedString(obj.Object, "spec", "expression")
	if formula != string(measure.FormulaDerived) || expression == "" {
		return nil
	}
	inputs, _, _ := unstructured.NestedSlice(obj.Object, "spec", "inputs")
	names := make([]string, 0, len(inputs))
	for _, in := range inputs {
		if m, ok := in.(map[string]any); ok {
			if name, ok := m["name"].(string); ok {
				names = append(names, name)
			}
		}
	}
	_, err := measure.CompileDerived(expression, names)
	if errors.Is(err, measure.ErrExpressionTooCostly) {
		return fmt.Errorf("%s: %w", engine.ReasonExpressionTooCostly, err)
	}
	return err
}

// plural writes a count with its noun: "1 file", "3 files".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
