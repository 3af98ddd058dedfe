package demo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cxloop/cxloop/config/samples"
)

// warehouse is the DataSource the demo's metrics read.
const warehouse = "warehouse"

// sampleObjects returns the samples the demo applies: every Team, the
// warehouse DataSource and the Metrics that read it (samples pointing at
// servers the demo does not run are left out).
func sampleObjects() ([]*unstructured.Unstructured, error) {
	files, err := fs.Glob(samples.Files, "*.yaml")
	if err != nil {
		return nil, err
	}
	var out []*unstructured.Unstructured
	for _, f := range files {
		if f == "kustomization.yaml" {
			continue
		}
		raw, err := samples.Files.ReadFile(f)
		if err != nil {
			return nil, err
		}
		dec := yaml.NewYAMLOrJSONDecoder(bytes.NewReader(raw), 4096)
		for {
			u := &unstructured.Unstructured{}
			if err := dec.Decode(&u.Object); err != nil {
				if errors.Is(err, io.EOF) {
					break
				}
				return nil, fmt.Errorf("%s: %w", f, err)
			}
			if len(u.Object) == 0 || !usedByDemo(u) {
				continue
			}
			out = append(out, u)
		}
	}
	return out, nil
}

func usedByDemo(u *unstructured.Unstructured) bool {
	switch u.GetKind() {
	case "Team", "Scorecard":
		return true
	case "DataSource":
		return u.GetName() == warehouse
	case "Metric":
		src, _, _ := unstructured.NestedString(u.Object, "spec", "source", "name")
		return src == warehouse
	}
	return false
}

// apply creates the objects in namespace ns, in the order given.
func apply(ctx context.Context, c client.Client, ns string, objs []*unstructured.Unstructured) error {
	for _, o := range objs {
		o.SetNamespace(ns)
		if err := c.Create(ctx, o); err != nil {
			return fmt.Errorf("create %s %s: %w", strings.ToLower(o.GetKind()), o.GetName(), err)
		}
	}
	return nil
}
