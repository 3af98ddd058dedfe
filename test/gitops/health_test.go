// Package gitops tests how GitOps tools judge cxloop objects: kstatus (the
// library Flux uses) and the Argo CD health check under config/argocd, run
// in gopher-lua, the interpreter Argo CD embeds.
package gitops

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fluxcd/cli-utils/pkg/kstatus/status"
	lua "github.com/yuin/gopher-lua"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

func metric(generation, observed int64, suspend bool, conds ...map[string]any) *unstructured.Unstructured {
	list := make([]any, 0, len(conds))
	for _, c := range conds {
		list = append(list, c)
	}
	obj := map[string]any{
		"apiVersion": "cxloop.dev/v1alpha1",
		"kind":       "Metric",
		"metadata":   map[string]any{"name": "account-nps", "namespace": "cx", "generation": generation},
		"spec":       map[string]any{"formula": "nps", "suspend": suspend},
	}
	if observed > 0 || len(conds) > 0 {
		obj["status"] = map[string]any{"observedGeneration": observed, "conditions": list}
	}
	return &unstructured.Unstructured{Object: obj}
}

func cond(typ, st, reason string) map[string]any {
	return map[string]any{"type": typ, "status": st, "reason": reason, "message": reason + " message",
		"lastTransitionTime": "2026-01-01T00:00:00Z"}
}

var cases = []struct {
	name    string
	obj     *unstructured.Unstructured
	kstatus status.Status
	argo    string
}{
	{"measured and in control", metric(2, 2, false, cond("Ready", "True", "Measured")), status.CurrentStatus, "Healthy"},
	{"a customer-experience drop stays healthy", metric(2, 2, false,
		cond("Ready", "True", "Measured"), cond("ChangeDetected", "True", "EpisodeOpen")), status.CurrentStatus, "Healthy"},
	{"insufficient data is still the operator doing its job", metric(1, 1, false,
		cond("Ready", "True", "Measured"), cond("InsufficientData", "True", "BelowMinSamples")), status.CurrentStatus, "Healthy"},
	{"new generation not yet observed", metric(3, 2, false, cond("Ready", "True", "Measured")), status.InProgressStatus, "Progressing"},
	{"source retried with backoff", metric(1, 1, false,
		cond("Ready", "False", "SourceUnavailable"), cond("Reconciling", "True", "ProgressingWithRetry")), status.InProgressStatus, "Progressing"},
	{"stalled until the user fixes the spec", metric(1, 1, false,
		cond("Ready", "False", "DataSourceNotFound"), cond("Stalled", "True", "DataSourceNotFound")), status.FailedStatus, "Degraded"},
	// kstatus judges an object without status as Current (it cannot tell a
	// kind without status from one not yet reconciled); Argo CD waits.
	{"no status yet", metric(1, 0, false), status.CurrentStatus, "Progressing"},
	// Measured, but its tasks are held back for want of an owner: the
	// manifests need fixing, which Argo CD shows; kstatus reads Ready.
	{"owner Team missing", metric(1, 1, false,
		cond("Ready", "True", "Measured"), cond("TeamNotFound", "True", "TeamNotFound")), status.CurrentStatus, "Degraded"},
	{"suspended", metric(1, 1, true, cond("Ready", "True", "Suspended")), status.CurrentStatus, "Suspended"},
}

func TestKstatusReadsCxloopConditions(t *testing.T) {
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res, err := status.Compute(tc.obj)
			if err != nil {
				t.Fatal(err)
			}
			if res.Status != tc.kstatus {
				t.Fatalf("kstatus = %s (%s), want %s", res.Status, res.Message, tc.kstatus)
			}
		})
	}
}

func TestArgoCDHealthCheck(t *testing.T) {
	script, err := os.ReadFile(filepath.Join("..", "..", "config", "argocd", "health.lua"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, msg := runHealth(t, string(script), tc.obj.Object)
			if got != tc.argo {
				t.Fatalf("Argo CD health = %s (%s), want %s", got, msg, tc.argo)
			}
		})
	}
}

func TestArgoCDPatchCarriesTheScriptForEveryKind(t *testing.T) {
	script, err := os.ReadFile(filepath.Join("..", "..", "config", "argocd", "health.lua"))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join("..", "..", "config", "argocd", "argocd-cm-patch.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var cm struct {
		Data map[string]string `json:"data"`
	}
	if err := yaml.Unmarshal(raw, &cm); err != nil {
		t.Fatal(err)
	}
	for _, kind := range []string{"DataSource", "Metric", "Team", "ImprovementTask"} {
		key := "resource.customizations.health.cxloop.dev_" + kind
		if strings.TrimSpace(cm.Data[key]) != strings.TrimSpace(string(script)) {
			t.Errorf("%s differs from health.lua", key)
		}
	}
}

// runHealth runs an Argo CD health script with obj bound as Argo CD binds
// it, and returns the status and message of the table it returns.
func runHealth(t *testing.T, script string, obj map[string]any) (string, string) {
	t.Helper()
	L := lua.NewState(lua.Options{SkipOpenLibs: false})
	defer L.Close()
	L.SetGlobal("obj", toLua(L, obj))
	if err := L.DoString(script); err != nil {
		t.Fatalf("health.lua: %v", err)
	}
	ret, ok := L.Get(-1).(*lua.LTable)
	if !ok {
		t.Fatalf("health.lua returned %v, want a table", L.Get(-1))
	}
	return ret.RawGetString("status").String(), ret.RawGetString("message").String()
}

func toLua(L *lua.LState, v any) lua.LValue {
	switch x := v.(type) {
	case map[string]any:
		tbl := L.NewTable()
		for k, val := range x {
			tbl.RawSetString(k, toLua(L, val))
		}
		return tbl
	case []any:
		tbl := L.NewTable()
		for _, val := range x {
			tbl.Append(toLua(L, val))
		}
		return tbl
	case string:
		return lua.LString(x)
	case bool:
		return lua.LBool(x)
	case int64:
		return lua.LNumber(x)
	case int:
		return lua.LNumber(x)
	case float64:
		return lua.LNumber(x)
	case nil:
		return lua.LNil
	}
	panic("unsupported type")
}

// The dashboard must parse and query only series the exporter publishes.
func TestDashboardQueriesExportedSeries(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "..", "config", "dashboards", "cxloop-metrics.json"))
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := yaml.Unmarshal(raw, &dash); err != nil {
		t.Fatal(err)
	}
	exported := []string{"cxloop_metric_value", "cxloop_metric_lower", "cxloop_metric_upper", "cxloop_metric_samples",
		"cxloop_metric_window_state", "cxloop_metric_detector_statistic", "cxloop_metric_last_evaluation_timestamp_seconds",
		"cxloop_segment_value", "cxloop_segment_samples", "cxloop_scorecard_index", "cxloop_scorecard_account_score",
		"cxloop_scorecard_account_outcome"}
	if len(dash.Panels) < 5 {
		t.Fatalf("dashboard has %d panels", len(dash.Panels))
	}
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			found := false
			for _, name := range exported {
				if strings.Contains(tg.Expr, name+"{") {
					found = true
				}
			}
			if !found {
				t.Errorf("panel %q queries %q, which the exporter does not publish", p.Title, tg.Expr)
			}
		}
	}
}
