package cli

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/cxloop/cxloop/config/crd"
)

var (
	invalidDir = filepath.Join("..", "..", "test", "manifests", "invalid")
	samplesDir = filepath.Join("..", "..", "config", "samples")
)

// runCLI runs kubectl-cx through its Go entry point.
func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	return runCLIWithInput(t, "", args...)
}

// runCLIWithInput runs kubectl-cx with stdin holding input.
func runCLIWithInput(t *testing.T, input string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	streams := genericiooptions.IOStreams{In: strings.NewReader(input), Out: &out, ErrOut: &errOut}
	code = Run(context.Background(), args, streams)
	return code, out.String(), errOut.String()
}

// expectation reads the "# expect: ..." line heading an invalid manifest.
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

func invalidManifests(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(invalidDir, "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 20 {
		t.Fatalf("want at least 20 invalid manifests, found %d", len(files))
	}
	return files
}

func TestValidateRejectsEveryInvalidManifest(t *testing.T) {
	for _, file := range invalidManifests(t) {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".yaml"), func(t *testing.T) {
			want := expectation(t, file)
			code, out, errOut := runCLI(t, "validate", "-f", file)
			if code != ExitError {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, ExitError, out, errOut)
			}
			if !strings.Contains(out, want) {
				t.Fatalf("output does not name the problem\n got: %s\nwant: ...%s...", out, want)
			}
			if !strings.HasPrefix(out, file+": ") {
				t.Fatalf("findings must start with the file name: %s", out)
			}
		})
	}
}

func TestValidateAcceptsTheSamples(t *testing.T) {
	code, out, errOut := runCLI(t, "validate", "-f", samplesDir)
	if code != ExitOK {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}
	if !strings.Contains(out, "objects valid") || !strings.Contains(errOut, "kustomization.yaml: skipped") {
		t.Fatalf("want a summary and a note on the kustomization\nstdout: %s\nstderr: %s", out, errOut)
	}
}

func TestValidateWalksDirectoriesAndSkipsOtherKinds(t *testing.T) {
	dir := t.TempDir()
	nested := filepath.Join(dir, "team", "nested")
	if err := os.MkdirAll(nested, 0o755); err != nil {
		t.Fatal(err)
	}
	secret := "apiVersion: v1\nkind: Secret\nmetadata:\n  name: creds\n---\n# only a comment\n---\n"
	sample, err := os.ReadFile(filepath.Join(samplesDir, "metric-nps.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	bad, err := os.ReadFile(filepath.Join(invalidDir, "task-priority-out-of-range.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	write := func(path string, data []byte) {
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(dir, "a.yaml"), append([]byte(secret), sample...))
	write(filepath.Join(nested, "b.yml"), bad)
	write(filepath.Join(nested, "notes.txt"), []byte("not a manifest: {"))

	code, out, errOut := runCLI(t, "validate", "-f", dir)
	if code != ExitError {
		t.Fatalf("exit %d, want 1\n%s%s", code, out, errOut)
	}
	if !strings.Contains(out, filepath.Join(nested, "b.yml")+": ImprovementTask/priority: spec.priority: Invalid value: 7") {
		t.Fatalf("nested .yml not validated:\n%s", out)
	}
	if !strings.Contains(errOut, "Secret/creds: skipped, not a cxloop kind") || strings.Contains(out, "notes.txt") {
		t.Fatalf("want the Secret skipped with a note and the .txt ignored\nstdout: %s\nstderr: %s", out, errOut)
	}
	if !strings.Contains(out, "1 of ") {
		t.Fatalf("want exactly one invalid object counted:\n%s", out)
	}
}

func TestValidateReportsUnknownFieldsVersionsAndBrokenYAML(t *testing.T) {
	input := `apiVersion: cxloop.dev/v1alpha1
kind: Team
metadata:
  name: Bad_Name
spec:
  displayNme: Support
---
apiVersion: cxloop.dev/v1beta1
kind: Team
metadata:
  name: later
---
apiVersion: cxloop.dev/v1alpha1
kind: Team
metadata: {name: x}
spec: [1
`
	code, out, _ := runCLIWithInput(t, input, "validate", "-f", "-")
	if code != ExitError {
		t.Fatalf("exit %d, want %d\n%s", code, ExitError, out)
	}
	for _, want := range []string{
		`-: Team/Bad_Name: metadata.name: Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain`,
		`-: Team/Bad_Name: unknown field "spec.displayNme"`,
		`-: Team/later: no kind "Team" is served in version "cxloop.dev/v1beta1"`,
		`-: document 3: yaml:`,
		"3 of 3 objects invalid in 1 file\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestValidateUsageErrors(t *testing.T) {
	if code, _, _ := runCLI(t, "validate"); code != ExitUsage {
		t.Fatalf("validate without -f: exit %d, want %d", code, ExitUsage)
	}
	if code, _, _ := runCLI(t, "validate", "--bogus"); code != ExitUsage {
		t.Fatalf("unknown flag: exit %d, want %d", code, ExitUsage)
	}
	if code, _, _ := runCLI(t, "no-such-command"); code != ExitUsage {
		t.Fatalf("unknown command: exit %d, want %d", code, ExitUsage)
	}
}

// causeKey is what must agree between the offline check and the server:
// the field path and the reason.
func causeKey(field, reason string) string { return field + " | " + reason }

func TestValidateAgreesWithTheAPIServer(t *testing.T) {
	crds, err := crd.Definitions()
	if err != nil {
		t.Fatal(err)
	}
	checker, err := NewSchemaChecker(crds)
	if err != nil {
		t.Fatal(err)
	}
	ns := newNamespace(t)
	ctx := context.Background()
	for _, file := range invalidManifests(t) {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".yaml"), func(t *testing.T) {
			f, err := os.Open(file)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			docs, err := readDocs(f)
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range docs {
				obj := d.Object
				obj.SetNamespace(ns)
				res, err := checker.Check(ctx, obj)
				if err != nil {
					t.Fatal(err)
				}
				var offline []string
				for _, e := range res.Errors {
					offline = append(offline, causeKey(e.Field, string(e.Type)))
				}
				serverErr := k8sClient.Create(ctx, obj)
				if serverErr == nil {
					t.Fatalf("the API server accepted %s", objectLabel(obj))
				}
				var status apierrors.APIStatus
				if !errors.As(serverErr, &status) || !apierrors.IsInvalid(serverErr) || status.Status().Details == nil {
					t.Fatalf("want an Invalid error with causes, got %v", serverErr)
				}
				var server []string
				for _, c := range status.Status().Details.Causes {
					server = append(server, causeKey(c.Field, string(c.Type)))
				}
				slices.Sort(offline)
				slices.Sort(server)
				if !slices.Equal(offline, server) {
					t.Fatalf("offline and API server disagree\noffline: %q\n server: %q\nserver message: %v", offline, server, serverErr)
				}
				if len(res.UnknownFields) > 0 {
					t.Errorf("unknown fields %v: the API server prunes them silently without strict field validation", res.UnknownFields)
				}
				for _, msg := range res.Messages() {
					// Every offline line appears in the server's message,
					// which joins the same field errors.
					if !strings.Contains(serverErr.Error(), msg) {
						t.Errorf("offline message %q is not in the server's %q", msg, serverErr.Error())
					}
				}
			}
		})
	}
}

func TestValidateAndTheAPIServerBothAcceptTheSamples(t *testing.T) {
	crds, err := crd.Definitions()
	if err != nil {
		t.Fatal(err)
	}
	checker, err := NewSchemaChecker(crds)
	if err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob(filepath.Join(samplesDir, "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	ns := newNamespace(t)
	ctx := context.Background()
	count := 0
	for _, file := range files {
		if isKustomization(file) {
			continue
		}
		f, err := os.Open(file)
		if err != nil {
			t.Fatal(err)
		}
		docs, err := readDocs(f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range docs {
			if !checker.KnowsGroup(d.Object.GroupVersionKind().Group) {
				continue
			}
			d.Object.SetNamespace(ns)
			res, err := checker.Check(ctx, d.Object)
			if err != nil || !res.Valid() {
				t.Errorf("%s: %s: offline: %v %v", file, objectLabel(d.Object), err, res.Messages())
			}
			if err := k8sClient.Create(ctx, d.Object); err != nil {
				t.Errorf("%s: %s: API server: %v", file, objectLabel(d.Object), err)
			}
			count++
		}
	}
	if count < 10 {
		t.Fatalf("want at least 10 sample objects, found %d", count)
	}
}
