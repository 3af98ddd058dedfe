package crd

import "testing"

func TestDefinitionsHoldEveryKind(t *testing.T) {
	defs, err := Definitions()
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]bool{}
	for _, d := range defs {
		if d.Spec.Group != "cxloop.dev" {
			t.Errorf("%s: group %s", d.Name, d.Spec.Group)
		}
		kinds[d.Spec.Names.Kind] = true
	}
	for _, k := range []string{"DataSource", "Metric", "Team", "ImprovementTask"} {
		if !kinds[k] {
			t.Errorf("missing %s", k)
		}
	}
}
