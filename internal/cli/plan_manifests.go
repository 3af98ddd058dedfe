package cli

import (
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	cxv1 "github.com/cxloop/cxloop/api/v1alpha1"
	"github.com/cxloop/cxloop/config/crd"
	"github.com/cxloop/cxloop/internal/metricspec"
)

// manifestSet is what plan and backtest read from manifests.
type manifestSet struct {
	sources map[string]*cxv1.DataSource
	teams   map[string]*cxv1.Team
	metrics []*cxv1.Metric
	// scorecards, sorted by namespace and name.
	scorecards []*cxv1.Scorecard
	secrets    metricspec.SecretReader
}

// loadManifests reads, validates and decodes the manifests of -f, with the
// CRD schema's defaults applied as the API server applies them.
func loadManifests(ctx context.Context, o *planOptions) (*manifestSet, error) {
	paths, err := expandPaths(o.files)
	if err != nil {
		return nil, err
	}
	crds, err := crd.Definitions()
	if err != nil {
		return nil, err
	}
	checker, err := NewSchemaChecker(crds)
	if err != nil {
		return nil, err
	}
	sources := map[string]*cxv1.DataSource{}
	teams := map[string]*cxv1.Team{}
	secrets := map[string]map[string][]byte{}
	var metrics []*cxv1.Metric
	var scorecards []*cxv1.Scorecard
	for _, p := range paths {
		if isKustomization(p) {
			continue
		}
		f, err := os.Open(p)
		if err != nil {
			return nil, err
		}
		docs, err := readDocs(f)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		for _, d := range docs {
			if d.Err != nil {
				return nil, fmt.Errorf("%s: document %d: %w", p, d.Index, d.Err)
			}
			u := d.Object
			if u.GetNamespace() == "" {
				u.SetNamespace(o.namespace)
			}
			key := u.GetNamespace() + "/" + u.GetName()
			if u.GetKind() == "Secret" && u.GetAPIVersion() == "v1" {
				// As in the cluster, only Secrets that opt in are read.
				if u.GetLabels()[cxv1.SecretLabel] == "true" {
					secrets[key] = secretData(u)
				}
				continue
			}
			if !checker.KnowsGroup(u.GroupVersionKind().Group) {
				continue
			}
			res, err := checker.Check(ctx, u)
			if err != nil {
				return nil, err
			}
			if !res.Valid() {
				return nil, usageErrorf("%s: %s is invalid: %s (run kubectl cx validate)", p, objectLabel(u), strings.Join(res.Messages(), "; "))
			}
			u = res.Object
			switch u.GetKind() {
			case "DataSource":
				var ds cxv1.DataSource
				if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &ds); err != nil {
					return nil, err
				}
				sources[key] = &ds
			case "Team":
				var t cxv1.Team
				if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &t); err != nil {
					return nil, err
				}
				teams[key] = &t
			case "Metric":
				var m cxv1.Metric
				if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &m); err != nil {
					return nil, err
				}
				metrics = append(metrics, &m)
			case "Scorecard":
				var sc cxv1.Scorecard
				if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &sc); err != nil {
					return nil, err
				}
				scorecards = append(scorecards, &sc)
			}
		}
	}
	readSecret := func(_ context.Context, ns, name string) (map[string][]byte, string, error) {
		data := map[string][]byte{}
		for k, v := range secrets[ns+"/"+name] {
			data[k] = v
		}
		prefix := "CXLOOP_SECRET_" + envName(name) + "_"
		for _, kv := range os.Environ() {
			if k, v, ok := strings.Cut(kv, "="); ok && strings.HasPrefix(k, prefix) {
				data[strings.ToLower(strings.ReplaceAll(strings.TrimPrefix(k, prefix), "_", "-"))] = []byte(v)
				data[strings.ToLower(strings.TrimPrefix(k, prefix))] = []byte(v)
			}
		}
		if len(data) == 0 {
			return nil, "", fmt.Errorf("secret %s/%s: not in the manifests (labelled %s=true) and no %s* environment variables", ns, name, cxv1.SecretLabel, prefix)
		}
		return data, "", nil
	}
	sort.Slice(metrics, func(i, j int) bool {
		return metrics[i].Namespace+"/"+metrics[i].Name < metrics[j].Namespace+"/"+metrics[j].Name
	})
	sort.Slice(scorecards, func(i, j int) bool {
		return scorecards[i].Namespace+"/"+scorecards[i].Name < scorecards[j].Namespace+"/"+scorecards[j].Name
	})
	return &manifestSet{sources: sources, teams: teams, metrics: metrics, scorecards: scorecards, secrets: readSecret}, nil
}

// secretData reads a Secret manifest's data (base64) and stringData.
func secretData(u *unstructured.Unstructured) map[string][]byte {
	out := map[string][]byte{}
	var s corev1.Secret
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &s); err == nil {
		for k, v := range s.Data {
			out[k] = v
		}
		for k, v := range s.StringData {
			out[k] = []byte(v)
		}
		return out
	}
	if data, ok, _ := unstructured.NestedStringMap(u.Object, "data"); ok {
		for k, v := range data {
			if b, err := base64.StdEncoding.DecodeString(v); err == nil {
				out[k] = b
			}
		}
	}
	return out
}

func envName(s string) string {
	return strings.ToUpper(strings.NewReplacer("-", "_", ".", "_").Replace(s))
}
