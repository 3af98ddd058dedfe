package observability

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cxv1 "github.com/cxloop/cxloop/api/v1alpha1"
	"github.com/cxloop/cxloop/internal/demodata"
	"github.com/cxloop/cxloop/internal/metricspec"
)

// The workload's names, which the series and alerts must carry.
const (
	workNamespace  = "cx"
	goodSource     = "warehouse"
	brokenSource   = "old-prometheus"
	goodMetric     = "support-csat"
	brokenMetric   = "queue-wait"
	deliveringTeam = "support-operations"
)

// warehouse writes the demo warehouse with data up to weeks ahead, so the
// manager, on the wall clock, measures a full window now.
func warehouse(root string) error {
	sc := demodata.DefaultScript()
	sc.T0 = time.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, -40)
	sc.History, sc.Future, sc.Scale = 30*demodata.Day, 42*demodata.Day, 0.3
	if _, err := demodata.Generate(filepath.Join(root, "warehouse.db"), sc); err != nil {
		return fmt.Errorf("generate the demo warehouse: %w", err)
	}
	return nil
}

// refusingSink is a webhook receiver that answers every delivery 503, and
// counts them.
func refusingSink(t *testing.T) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		calls.Add(1)
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	t.Cleanup(srv.Close)
	return srv, &calls
}

// workload creates what the manager works on: a SQLite DataSource, a
// Metric segmented by persona that it measures and a Scorecard of it per
// account, a Prometheus DataSource
// on a port nothing listens on and a Metric that reads it, and a task of
// the measured Metric whose team's webhook refuses deliveries.
func workload(t *testing.T, c client.Client, sinkURL, deadAddress string) *cxv1.ImprovementTask {
	t.Helper()
	ctx := context.Background()
	target, warning := 80.0, 85.0
	apply(t, c,
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: workNamespace}},
		&cxv1.DataSource{ObjectMeta: metav1.ObjectMeta{Name: goodSource, Namespace: workNamespace},
			Spec: cxv1.DataSourceSpec{Type: cxv1.DataSourceSQLite, SQLite: &cxv1.SQLiteSource{Path: "warehouse.db"}}},
		&cxv1.DataSource{ObjectMeta: metav1.ObjectMeta{Name: brokenSource, Namespace: workNamespace},
			Spec: cxv1.DataSourceSpec{Type: cxv1.DataSourcePrometheus, Prometheus: &cxv1.PrometheusSource{URL: "http://" + deadAddress}}},
		&cxv1.Team{ObjectMeta: metav1.ObjectMeta{Name: deliveringTeam, Namespace: workNamespace},
			Spec: cxv1.TeamSpec{Channels: []cxv1.DeliveryChannel{{Name: "tickets", Type: cxv1.ChannelWebhook,
				Webhook: &cxv1.WebhookChannel{URL: sinkURL}}}}},
		&cxv1.Metric{ObjectMeta: metav1.ObjectMeta{Name: goodMetric, Namespace: workNamespace},
			Spec: cxv1.MetricSpec{
				Owner:   cxv1.MetricOwner{Team: deliveringTeam},
				Source:  &cxv1.LocalObjectReference{Name: goodSource},
				Formula: cxv1.FormulaCSAT,
				Query: &cxv1.MetricQuery{Table: "survey_responses",
					Columns: &cxv1.QueryColumns{Value: "score", Time: "responded_at"},
					Filters: []cxv1.QueryFilter{{Column: "survey", Operator: "Equals", Values: []string{"csat"}}}},
				SegmentBy: []string{"persona"},
				Objective: cxv1.Objective{Target: &target, WarningAt: &warning, MinSamples: 30},
			}},
		// Every account short of a perfect CSAT is at risk against 100,
		// so the at-risk accounts' series exist.
		&cxv1.Scorecard{ObjectMeta: metav1.ObjectMeta{Name: "account-health", Namespace: workNamespace},
			Spec: cxv1.ScorecardSpec{Owner: cxv1.ScorecardOwner{Team: deliveringTeam}, Key: "account",
				Members:   []cxv1.ScorecardMember{{Name: "csat", Metric: goodMetric, KeyColumn: "account"}},
				Outcomes:  []cxv1.ScorecardOutcome{{Name: "csat", Metric: goodMetric, KeyColumn: "account"}},
				Objective: cxv1.ScorecardObjective{Target: 100}}},
		&cxv1.Metric{ObjectMeta: metav1.ObjectMeta{Name: brokenMetric, Namespace: workNamespace},
			Spec: cxv1.MetricSpec{
				Owner:     cxv1.MetricOwner{Team: deliveringTeam},
				Source:    &cxv1.LocalObjectReference{Name: brokenSource},
				Formula:   cxv1.FormulaValue,
				Query:     &cxv1.MetricQuery{PromQL: "avg(cx_queue_wait_seconds)"},
				Objective: cxv1.Objective{Target: &target},
			}},
	)
	// A task as the Metric controller opens one, for the team whose
	// channel refuses: its Opened event is delivered, and fails.
	var m cxv1.Metric
	if err := c.Get(ctx, client.ObjectKey{Namespace: workNamespace, Name: goodMetric}, &m); err != nil {
		t.Fatal(err)
	}
	task := &cxv1.ImprovementTask{ObjectMeta: metav1.ObjectMeta{Name: goodMetric + "-admin", Namespace: workNamespace},
		Spec: cxv1.ImprovementTaskSpec{Metric: goodMetric, Segment: "persona=admin", SegmentValues: map[string]string{"persona": "admin"},
			Team: deliveringTeam, EpisodeStart: metav1.NewTime(time.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, -3)),
			DefinitionHash: metricspec.Definition(&m).Hash(), Objective: cxv1.TaskObjective{Direction: cxv1.AtLeast, Target: target, MinShift: 5},
			Priority: 2}}
	apply(t, c, task)
	return task
}

// worked waits until the manager has done the work the series report: the
// good Metric measured with its detector and worst segments, the broken one
// failing on its source, and the task's delivery attempted and failed.
func worked(t *testing.T, c client.Client, mgr *process, task *cxv1.ImprovementTask) {
	t.Helper()
	ctx := context.Background()
	until(t, 40*time.Second, "the warehouse Metric measured", mgr, func() (bool, string) {
		var m cxv1.Metric
		if err := c.Get(ctx, client.ObjectKey{Namespace: workNamespace, Name: goodMetric}, &m); err != nil {
			return false, err.Error()
		}
		st := m.Status
		return st.Value != nil && st.Detector != nil && len(st.WorstSegments) > 0,
			fmt.Sprintf("value %v, detector %v, %d worst segments, conditions %+v", st.Value, st.Detector != nil, len(st.WorstSegments), st.Conditions)
	})
	until(t, 20*time.Second, "the scorecard scored", mgr, func() (bool, string) {
		var sc cxv1.Scorecard
		if err := c.Get(ctx, client.ObjectKey{Namespace: workNamespace, Name: "account-health"}, &sc); err != nil {
			return false, err.Error()
		}
		return sc.Status.Index != nil && len(sc.Status.AtRisk) > 0, fmt.Sprintf("%+v", sc.Status.Conditions)
	})
	until(t, 20*time.Second, "the broken Metric's source unavailable", mgr, func() (bool, string) {
		var m cxv1.Metric
		if err := c.Get(ctx, client.ObjectKey{Namespace: workNamespace, Name: brokenMetric}, &m); err != nil {
			return false, err.Error()
		}
		return meta.IsStatusConditionTrue(m.Status.Conditions, cxv1.ConditionSourceUnavailable), fmt.Sprintf("%+v", m.Status.Conditions)
	})
	until(t, 20*time.Second, "a failed delivery recorded", mgr, func() (bool, string) {
		var got cxv1.ImprovementTask
		if err := c.Get(ctx, client.ObjectKeyFromObject(task), &got); err != nil {
			return false, err.Error()
		}
		for _, d := range got.Status.Deliveries {
			if d.Tries > 0 && !d.Succeeded && d.Message != "sending" {
				return true, ""
			}
		}
		return false, fmt.Sprintf("%+v", got.Status.Deliveries)
	})
}

// scraperToken is a token of a ServiceAccount bound, as a cluster binds
// Prometheus's, to the shipped cxloop-metrics-reader ClusterRole.
func scraperToken(t *testing.T, cfg *rest.Config) string {
	t.Helper()
	ctx := context.Background()
	kube := kubernetes.NewForConfigOrDie(cfg)
	ns, sa := "monitoring", "prometheus"
	if _, err := kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := kube.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: sa}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var role rbacv1.ClusterRole
	readYAML(t, &role, "config", "rbac", "metrics_reader_role.yaml")
	if _, err := kube.RbacV1().ClusterRoles().Create(ctx, &role, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	binding := &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "prometheus-reads-cxloop"},
		RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: role.Name},
		Subjects: []rbacv1.Subject{{Kind: "ServiceAccount", Name: sa, Namespace: ns}}}
	if _, err := kube.RbacV1().ClusterRoleBindings().Create(ctx, binding, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	tok, err := kube.CoreV1().ServiceAccounts(ns).CreateToken(ctx, sa, &authenticationv1.TokenRequest{}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return tok.Status.Token
}
