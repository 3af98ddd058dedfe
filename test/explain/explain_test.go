// Package explain checks that every field of every cxloop CRD documents
// itself, so `kubectl explain` reads as documentation.
package explain

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"sigs.k8s.io/yaml"
)

// Every property of every CRD's schema has a description that is more
// than its own name: what `kubectl explain KIND.FIELD` prints.
func TestEveryFieldExplainsItself(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "..", "config", "crd", "bases", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no CRDs: %v", err)
	}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var crd apiextensionsv1.CustomResourceDefinition
		if err := yaml.UnmarshalStrict(raw, &crd); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		kind := strings.ToLower(crd.Spec.Names.Kind)
		for _, v := range crd.Spec.Versions {
			if v.Schema == nil || v.Schema.OpenAPIV3Schema == nil {
				t.Errorf("%s %s has no schema", kind, v.Name)
				continue
			}
			var missing []string
			undocumented(kind, *v.Schema.OpenAPIV3Schema, &missing)
			sort.Strings(missing)
			for _, m := range missing {
				t.Errorf("kubectl explain %s prints no description", m)
			}
		}
	}
}

// undocumented collects the paths below s whose description is empty or
// only repeats the field's name.
func undocumented(path string, s apiextensionsv1.JSONSchemaProps, out *[]string) {
	for name, p := range s.Properties {
		child := path + "." + name
		if path == strings.Split(path, ".")[0] && (name == "apiVersion" || name == "kind" || name == "metadata") {
			continue
		}
		d := strings.TrimSpace(p.Description)
		if d == "" || strings.EqualFold(strings.TrimSuffix(d, "."), name) {
			*out = append(*out, child)
		}
		undocumented(child, p, out)
	}
	if s.Items != nil && s.Items.Schema != nil {
		undocumented(path, *s.Items.Schema, out)
	}
}
