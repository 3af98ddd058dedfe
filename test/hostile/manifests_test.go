package hostile

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cxv1 "github.com/cxloop/cxloop/api/v1alpha1"
	"github.com/cxloop/cxloop/config/crd"
	"github.com/cxloop/cxloop/internal/cli"
)

var invalidDir = filepath.Join("..", "manifests", "invalid")

// readManifests decodes every YAML document of a file.
func readManifests(t *testing.T, path string) []*unstructured.Unstructured {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewYAMLOrJSONDecoder(bufio.NewReader(bytes.NewReader(data)), 4096)
	var objs []*unstructured.Unstructured
	for {
		// Through JSON into Unstructured, so whole numbers are int64 as
		// the API server decodes them, not float64.
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			if errors.Is(err, io.EOF) {
				return objs
			}
			t.Fatalf("%s: %v", path, err)
		}
		if len(raw) == 0 || string(raw) == "null" {
			continue
		}
		u := &unstructured.Unstructured{}
		if err := u.UnmarshalJSON(raw); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		objs = append(objs, u)
	}
}

// expectation reads the "# expect: ..." line that heads an invalid manifest.
func expectation(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	first, _, _ := strings.Cut(string(data), "\n")
	want, ok := strings.CutPrefix(first, "# expect: ")
	if !ok || want == "" {
		t.Fatalf("%s: first line must be '# expect: <part of the API server's message>'", path)
	}
	return want
}

// validate runs `kubectl cx validate -f file` through the plugin's entry
// point.
func validate(file string) (code int, out string) {
	var stdout, stderr bytes.Buffer
	code = cli.Run(context.Background(), []string{"validate", "-f", file},
		genericiooptions.IOStreams{In: strings.NewReader(""), Out: &stdout, ErrOut: &stderr})
	return code, stdout.String() + stderr.String()
}

// Every invalid manifest is refused three ways that agree: the API server
// (Invalid, its causes naming field and reason), the offline schema check
// (the same causes), and `kubectl cx validate` (exit 1, every server cause's
// field in its output, and the manifest's expected message).
func TestInvalidManifestsAreRefusedAlikeByTheAPIServerAndValidate(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(invalidDir, "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 55 {
		t.Fatalf("want the corpus's 55 invalid manifests at least, found %d", len(files))
	}
	crds, err := crd.Definitions()
	if err != nil {
		t.Fatal(err)
	}
	checker, err := cli.NewSchemaChecker(crds)
	if err != nil {
		t.Fatal(err)
	}
	ns := newNamespace(t)
	ctx := context.Background()
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".yaml"), func(t *testing.T) {
			want := expectation(t, file)
			code, out := validate(file)
			if code != cli.ExitError {
				t.Fatalf("validate exit %d, want %d:\n%s", code, cli.ExitError, out)
			}
			if !strings.Contains(out, want) {
				t.Fatalf("validate does not name the problem\n got: %s\nwant: ...%s...", out, want)
			}
			for _, obj := range readManifests(t, file) {
				obj.SetNamespace(ns)
				res, err := checker.Check(ctx, obj)
				if err != nil {
					t.Fatal(err)
				}
				var offline []string
				for _, e := range res.Errors {
					offline = append(offline, e.Field+" | "+string(e.Type))
				}
				serverErr := k8sClient.Create(ctx, obj)
				if serverErr == nil {
					t.Fatalf("the API server accepted %s %s", obj.GetKind(), obj.GetName())
				}
				var status apierrors.APIStatus
				if !errors.As(serverErr, &status) || !apierrors.IsInvalid(serverErr) || status.Status().Details == nil {
					t.Fatalf("want an Invalid error with causes, got %v", serverErr)
				}
				if !strings.Contains(serverErr.Error(), want) {
					t.Fatalf("the API server's message does not name the problem\n got: %v\nwant: ...%s...", serverErr, want)
				}
				var server []string
				for _, c := range status.Status().Details.Causes {
					server = append(server, c.Field+" | "+string(c.Type))
					if !strings.Contains(out, c.Field) {
						t.Errorf("validate's output does not name the field %s the API server refused:\n%s", c.Field, out)
					}
				}
				slices.Sort(offline)
				slices.Sort(server)
				if !slices.Equal(offline, server) {
					t.Fatalf("validate and the API server disagree\nvalidate: %q\n  server: %q", offline, server)
				}
			}
		})
	}
	noLeak(t)
}

// An expression within the API server's bounds (two macros, its length)
// that costs too much to run is the one check only the operator and
// validate make: the server admits it, validate refuses it with
// ExpressionTooCostly, and the operator stalls the Metric with the same
// reason while the input Metric beside it keeps its value.
func TestCostlyExpressionIsRefusedByValidateAndStalledByTheOperator(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t)
	input := sentinelIn(t, ns)
	hundred := make([]string, 100)
	for i := range hundred {
		hundred[i] = strconv.Itoa(i)
	}
	list := "[" + strings.Join(hundred, ",") + "]"
	bomb := "double(size(" + list + ".map(x, " + list + ".map(y, csat))))"
	manifest := `apiVersion: cxloop.dev/v1alpha1
kind: Metric
metadata:
  name: csat-bomb
spec:
  owner:
    team: support-operations
  formula: derived
  inputs:
    - {name: csat, metric: ` + input.Name + `}
  expression: "` + bomb + `"
  objective:
    target: 80
`
	file := filepath.Join(t.TempDir(), "bomb.yaml")
	if err := os.WriteFile(file, []byte(manifest), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out := validate(file)
	if code != cli.ExitError || !strings.Contains(out, "Metric/csat-bomb: spec.expression: ExpressionTooCostly: ") {
		t.Fatalf("validate exit %d, want it to refuse the expression as ExpressionTooCostly:\n%s", code, out)
	}
	obj := readManifests(t, file)[0]
	obj.SetNamespace(ns)
	if err := k8sClient.Create(ctx, obj); err != nil {
		t.Fatalf("the API server refused an expression only the operator can judge: %v", err)
	}
	bombMetric := &cxv1.Metric{}
	bombMetric.Name, bombMetric.Namespace = "csat-bomb", ns
	got := metricAt(t, bombMetric, "stalled", func(m *cxv1.Metric) bool {
		return meta.IsStatusConditionTrue(m.Status.Conditions, cxv1.ConditionStalled)
	})
	if c := meta.FindStatusCondition(got.Status.Conditions, cxv1.ConditionStalled); c.Reason != "ExpressionTooCostly" {
		t.Fatalf("Stalled %s: %s, want ExpressionTooCostly", c.Reason, c.Message)
	}
	intact(t, client.ObjectKeyFromObject(input))
	noLeak(t)
}
