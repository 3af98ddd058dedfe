package observability

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"
)

// The manager, running as its image runs it, has measured a Metric from a
// SQLite warehouse, failed on a DataSource nobody answers and failed to
// deliver a task event to a webhook that refuses; a real Prometheus has
// scraped it through its authenticated endpoint. Then every query of every
// shipped dashboard panel returns series there, with every label its
// legend names, and the shipped PrometheusRule loads, evaluates without
// error and raises its source-failing and deliveries-failing alerts for
// exactly the broken DataSource and team.
func TestDashboardsAndAlertsAgainstAScrapedManager(t *testing.T) {
	began := time.Now()
	dir := t.TempDir()
	// Fail early, before building anything, when Prometheus is missing.
	binary(t, "CXLOOP_TEST_PROMETHEUS", "prometheus")
	// The binary and the warehouse are made while the control plane starts.
	built := make(chan func(*testing.T) string, 1)
	go func() { built <- buildManager(dir) }()
	dataRoot := filepath.Join(dir, "data-root")
	if err := os.Mkdir(dataRoot, 0o700); err != nil {
		t.Fatal(err)
	}
	generated := make(chan error, 1)
	go func() { generated <- warehouse(dataRoot) }()
	cfg, c, kubeconfig := controlPlane(t)
	if err := <-generated; err != nil {
		t.Fatal(err)
	}
	sink, deliveries := refusingSink(t)
	task := workload(t, c, sink.URL, freeAddress(t))
	t.Logf("%s: control plane and workload ready", time.Since(began).Round(time.Millisecond))
	token := scraperToken(t, cfg)

	kubeconfigPath := filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(kubeconfigPath, kubeconfig, 0o600); err != nil {
		t.Fatal(err)
	}
	metricsAddr := freeAddress(t)
	mgr := start(t, "manager", []string{"KUBECONFIG=" + kubeconfigPath}, (<-built)(t),
		"--metrics-bind-address="+metricsAddr, "--health-probe-bind-address=0", "--leader-elect=false",
		"--data-root="+dataRoot, "--allow-egress-network=127.0.0.0/8")
	t.Logf("%s: manager started", time.Since(began).Round(time.Millisecond))
	worked(t, c, mgr, task)
	t.Logf("%s: manager worked", time.Since(began).Round(time.Millisecond))
	if deliveries.Load() == 0 {
		t.Fatal("the webhook never heard of the task")
	}

	// The group of the shipped PrometheusRule, as the Prometheus Operator
	// hands it to Prometheus, unchanged: `for` needs no shortening, since
	// pending (the expression holds) already shows the rule matched.
	var rule struct {
		Kind string `json:"kind"`
		Spec struct {
			Groups []any `json:"groups"`
		} `json:"spec"`
	}
	readYAML(t, &rule, "config", "alerts", "prometheusrule.yaml")
	if rule.Kind != "PrometheusRule" || len(rule.Spec.Groups) == 0 {
		t.Fatalf("config/alerts/prometheusrule.yaml: a %q with %d groups", rule.Kind, len(rule.Spec.Groups))
	}
	groups, err := yaml.Marshal(map[string]any{"groups": rule.Spec.Groups})
	if err != nil {
		t.Fatal(err)
	}
	// The manager's serving certificate is self-signed (no cert-manager
	// here); what is under test is that the token is authenticated and
	// authorized by the API server, as in a cluster.
	prom := startPrometheus(t, dir, fmt.Sprintf(`global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
rule_files: [rules.yml]
scrape_configs:
  - job_name: cxloop-manager
    scheme: https
    tls_config: {insecure_skip_verify: true}
    authorization: {credentials_file: %q}
    static_configs: [{targets: [%[2]q]}]
  - job_name: anonymous
    scheme: https
    tls_config: {insecure_skip_verify: true}
    static_configs: [{targets: [%[2]q]}]
`, filepath.Join(dir, "token"), metricsAddr), map[string][]byte{"rules.yml": groups, "token": []byte(token)})

	until(t, 20*time.Second, "a successful scrape", prom.proc, func() (bool, string) {
		up, err := prom.query(`up{job="cxloop-manager"} == 1`)
		if err != nil {
			return false, err.Error()
		}
		if len(up) == 0 {
			return false, fmt.Sprintf("%+v", prom.targets(t))
		}
		// rate() needs two samples of every counter.
		n, err := prom.query(`count_over_time(up{job="cxloop-manager"}[1m]) >= 3`)
		return err == nil && len(n) > 0, fmt.Sprint(n, err)
	})
	// The same endpoint refuses a scrape without the token: the series
	// above came through authentication.
	if anon := prom.targets(t)["anonymous"]; anon.Health != "down" || !strings.Contains(anon.LastError, "401") {
		t.Fatalf("the scrape without a token: %+v, want down with 401 Unauthorized", anon)
	}

	t.Logf("%s: scraped", time.Since(began).Round(time.Millisecond))
	dashboards, err := filepath.Glob(filepath.Join(repoRoot, "config", "dashboards", "*.json"))
	if err != nil || len(dashboards) < 2 {
		t.Fatalf("dashboards %v: %v", dashboards, err)
	}
	for _, file := range dashboards {
		t.Run(filepath.Base(file), func(t *testing.T) { checkDashboard(t, prom, file) })
	}
	t.Run("alerts", func(t *testing.T) { checkAlerts(t, prom) })
	t.Logf("took %s", time.Since(began).Round(time.Second))
}

// target is a scrape target's state.
type target struct {
	Health    string `json:"health"`
	LastError string `json:"lastError"`
}

// targets are the scrape targets' states by job, from the targets API.
func (p *prometheus) targets(t *testing.T) map[string]target {
	t.Helper()
	var data struct {
		ActiveTargets []struct {
			target
			ScrapePool string `json:"scrapePool"`
		} `json:"activeTargets"`
	}
	if err := p.api("/api/v1/targets", nil, &data); err != nil {
		t.Fatal(err)
	}
	out := map[string]target{}
	for _, a := range data.ActiveTargets {
		out[a.ScrapePool] = a.target
	}
	return out
}

// dashboard is the part of a Grafana dashboard the check reads.
type dashboard struct {
	Templating struct {
		List []struct {
			Name       string `json:"name"`
			Type       string `json:"type"`
			Query      any    `json:"query"`
			IncludeAll bool   `json:"includeAll"`
		} `json:"list"`
	} `json:"templating"`
	Panels []panel `json:"panels"`
}

type panel struct {
	Title   string `json:"title"`
	Type    string `json:"type"`
	Targets []struct {
		RefID        string `json:"refId"`
		Expr         string `json:"expr"`
		LegendFormat string `json:"legendFormat"`
	} `json:"targets"`
	Panels []panel `json:"panels"` // a row's
}

var (
	labelValuesQuery = regexp.MustCompile(`^label_values\((.+),\s*(\w+)\)$`)
	legendLabel      = regexp.MustCompile(`\{\{\s*(\w+)\s*\}\}`)
)

// checkDashboard resolves the dashboard's variables as Grafana would,
// through Prometheus, and evaluates every panel query with them.
func checkDashboard(t *testing.T, prom *prometheus, file string) {
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	if err := yaml.Unmarshal(raw, &d); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	// Grafana's built-in ranges, for a 1s scrape interval and the last hour.
	vars := map[string]string{"__rate_interval": "1m", "__interval": "15s", "__range": "1h"}
	substitute := func(expr string) string {
		names := make([]string, 0, len(vars))
		for n := range vars {
			names = append(names, n)
		}
		sort.Slice(names, func(i, j int) bool { return len(names[i]) > len(names[j]) }) // $metric before $m
		for _, n := range names {
			expr = strings.ReplaceAll(strings.ReplaceAll(expr, "${"+n+"}", vars[n]), "$"+n, vars[n])
		}
		return expr
	}
	for _, v := range d.Templating.List {
		if v.Type == "datasource" {
			continue
		}
		q, _ := v.Query.(string)
		if m, ok := v.Query.(map[string]any); ok {
			q, _ = m["query"].(string)
		}
		match := labelValuesQuery.FindStringSubmatch(strings.TrimSpace(q))
		if v.Type != "query" || match == nil {
			t.Fatalf("variable %s: %s %q is not a label_values(series, label) query", v.Name, v.Type, q)
		}
		values := prom.labelValues(t, substitute(match[1]), match[2])
		switch {
		case len(values) == 0:
			t.Fatalf("variable %s: %s has no values", v.Name, q)
		case v.Name == "namespace":
			if !contains(values, workNamespace) {
				t.Fatalf("variable namespace: %v, without the workload's %s", values, workNamespace)
			}
			vars[v.Name] = workNamespace
		case v.IncludeAll:
			// "All", as Grafana sends a multi-value variable: a regex.
			vars[v.Name] = "(" + strings.Join(values, "|") + ")"
		default:
			vars[v.Name] = values[0]
		}
	}
	var panels []panel
	for _, p := range d.Panels {
		panels = append(panels, p)
		panels = append(panels, p.Panels...)
	}
	queries := 0
	for _, p := range panels {
		for _, tg := range p.Targets {
			if tg.Expr == "" {
				continue
			}
			queries++
			expr := substitute(tg.Expr)
			if strings.Contains(expr, "$") {
				t.Errorf("panel %q %s: %s has a variable the dashboard does not define", p.Title, tg.RefID, expr)
				continue
			}
			got, err := prom.query(expr)
			switch {
			case err != nil:
				t.Errorf("panel %q %s: %s: %v", p.Title, tg.RefID, expr, err)
				continue
			case len(got) == 0:
				t.Errorf("panel %q %s: %s returns no series", p.Title, tg.RefID, expr)
				continue
			}
			for _, l := range legendLabel.FindAllStringSubmatch(tg.LegendFormat, -1) {
				for _, s := range got {
					if s.Metric[l[1]] == "" {
						t.Errorf("panel %q %s: legend %q names %s, which %s's series %v lack", p.Title, tg.RefID, tg.LegendFormat, l[1], expr, s.Metric)
						break
					}
				}
			}
		}
	}
	if queries < 5 {
		t.Fatalf("%s has %d panel queries", file, queries)
	}
}

// labelValues answers label_values(match, label) as Grafana asks it.
func (p *prometheus) labelValues(t *testing.T, match, label string) []string {
	t.Helper()
	var values []string
	if err := p.api("/api/v1/label/"+label+"/values", url.Values{"match[]": {match}}, &values); err != nil {
		t.Fatalf("label_values(%s, %s): %v", match, label, err)
	}
	return values
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// ruleState is one rule of /api/v1/rules.
type ruleState struct {
	Name      string `json:"name"`
	Type      string `json:"type"`
	Health    string `json:"health"`
	LastError string `json:"lastError"`
	State     string `json:"state"`
	Labels    map[string]string
	Alerts    []struct {
		Labels      map[string]string `json:"labels"`
		Annotations map[string]string `json:"annotations"`
		State       string            `json:"state"`
	} `json:"alerts"`
}

// checkAlerts waits for the rules to be evaluated, then checks each one's
// health and which objects they alert on.
func checkAlerts(t *testing.T, prom *prometheus) {
	want := []string{"CxloopSourceFailing", "CxloopEvaluationsStale", "CxloopDeliveriesFailing"}
	var rules map[string]ruleState
	until(t, 20*time.Second, "every rule evaluated, the failing ones pending", prom.proc, func() (bool, string) {
		var data struct {
			Groups []struct {
				Name  string      `json:"name"`
				Rules []ruleState `json:"rules"`
			} `json:"groups"`
		}
		if err := prom.api("/api/v1/rules", nil, &data); err != nil {
			return false, err.Error()
		}
		rules = map[string]ruleState{}
		for _, g := range data.Groups {
			for _, r := range g.Rules {
				rules[r.Name] = r
			}
		}
		for _, name := range want {
			if r, ok := rules[name]; !ok || r.Health == "unknown" {
				return false, fmt.Sprintf("%s not evaluated yet: %+v", name, r)
			}
		}
		return rules["CxloopSourceFailing"].State != "inactive" && rules["CxloopDeliveriesFailing"].State != "inactive",
			fmt.Sprintf("%+v", rules)
	})
	for _, name := range want {
		r := rules[name]
		if r.Type != "alerting" || r.Health != "ok" || r.LastError != "" {
			t.Errorf("%s: a %s rule, health %s, error %q", name, r.Type, r.Health, r.LastError)
		}
	}
	alerting := func(name string, labels map[string]string) {
		t.Helper()
		r := rules[name]
		if len(r.Alerts) != 1 {
			t.Errorf("%s: %d alerts, want one for %v: %+v", name, len(r.Alerts), labels, r.Alerts)
			return
		}
		a := r.Alerts[0]
		if a.State != "pending" && a.State != "firing" {
			t.Errorf("%s: %s", name, a.State)
		}
		for k, v := range labels {
			if a.Labels[k] != v {
				t.Errorf("%s: label %s = %q, want %q (%v)", name, k, a.Labels[k], v, a.Labels)
			}
		}
		if a.Labels["severity"] == "" {
			t.Errorf("%s has no severity label", name)
		}
		for _, k := range []string{"summary", "description"} {
			for _, v := range labels {
				if !strings.Contains(a.Annotations[k], v) {
					t.Errorf("%s: %s %q does not name %s", name, k, a.Annotations[k], v)
				}
			}
		}
	}
	alerting("CxloopSourceFailing", map[string]string{"namespace": workNamespace, "datasource": brokenSource})
	alerting("CxloopDeliveriesFailing", map[string]string{"namespace": workNamespace, "team": deliveringTeam, "channel_type": "webhook"})
	if r := rules["CxloopEvaluationsStale"]; len(r.Alerts) != 0 {
		t.Errorf("CxloopEvaluationsStale alerts on a Metric evaluated seconds ago: %+v", r.Alerts)
	}
}
