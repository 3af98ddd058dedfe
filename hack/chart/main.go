// Command chart copies the generated and shared manifests the Helm chart
// renders from into charts/cxloop: the CRDs controller-gen writes to
// config/crd/bases into crds/, and the manager's ClusterRole, the
// task-label admission policy and the operator's PrometheusRule into
// files/, which the templates read. `make chart` and `make manifests` run
// it; with -check it changes nothing and fails when the chart is stale.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// copies lists every chart file and the source it is copied from,
// relative to the repository's root.
func copies(root string) (map[string]string, error) {
	out := map[string]string{
		"charts/cxloop/files/role.yaml":           "config/rbac/role.yaml",
		"charts/cxloop/files/task-labels.yaml":    "config/policy/task-labels.yaml",
		"charts/cxloop/files/prometheusrule.yaml": "config/alerts/prometheusrule.yaml",
	}
	crds, err := filepath.Glob(filepath.Join(root, "config", "crd", "bases", "*.yaml"))
	if err != nil {
		return nil, err
	}
	if len(crds) == 0 {
		return nil, fmt.Errorf("no CRDs in %s: run `make manifests`", filepath.Join(root, "config", "crd", "bases"))
	}
	for _, c := range crds {
		out["charts/cxloop/crds/"+filepath.Base(c)] = "config/crd/bases/" + filepath.Base(c)
	}
	return out, nil
}

// sync writes every copy that differs from its source, or with check
// only names them. It also names (or removes) CRDs in crds/ that no
// longer have a source.
func sync(root string, check bool) ([]string, error) {
	files, err := copies(root)
	if err != nil {
		return nil, err
	}
	var stale []string
	for dst, src := range files {
		want, err := os.ReadFile(filepath.Join(root, src))
		if err != nil {
			return nil, err
		}
		got, err := os.ReadFile(filepath.Join(root, dst))
		if err == nil && bytes.Equal(got, want) {
			continue
		}
		stale = append(stale, dst)
		if check {
			continue
		}
		if err := os.MkdirAll(filepath.Dir(filepath.Join(root, dst)), 0o755); err != nil {
			return nil, err
		}
		if err := os.WriteFile(filepath.Join(root, dst), want, 0o644); err != nil {
			return nil, err
		}
	}
	present, err := filepath.Glob(filepath.Join(root, "charts", "cxloop", "crds", "*.yaml"))
	if err != nil {
		return nil, err
	}
	for _, p := range present {
		rel := "charts/cxloop/crds/" + filepath.Base(p)
		if _, ok := files[rel]; ok {
			continue
		}
		stale = append(stale, rel)
		if !check {
			if err := os.Remove(p); err != nil {
				return nil, err
			}
		}
	}
	sort.Strings(stale)
	return stale, nil
}

func main() {
	root := flag.String("root", ".", "the repository's root")
	check := flag.Bool("check", false, "change nothing; fail when the chart differs from its sources")
	flag.Parse()
	stale, err := sync(*root, *check)
	if err != nil {
		fmt.Fprintln(os.Stderr, "chart:", err)
		os.Exit(1)
	}
	if *check && len(stale) > 0 {
		fmt.Fprintf(os.Stderr, "chart: stale, run `make chart`: %s\n", strings.Join(stale, ", "))
		os.Exit(1)
	}
}
