package cli

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	cxv1 "github.com/cxloop/cxloop/api/v1alpha1"
	"github.com/cxloop/cxloop/internal/metricspec"
	"github.com/cxloop/cxloop/internal/scorecard"
)

// accountTask creates a task for a segment of a Metric (or of a
// Scorecard, named scorecard/NAME), closed with a verified improvement
// when verified is set.
func accountTask(t *testing.T, ns, name, metric string, values map[string]string, opened int, verified *cxv1.Verification) {
	t.Helper()
	ctx := context.Background()
	var pairs []string
	for k, v := range values {
		pairs = append(pairs, k+"="+v)
	}
	task := &cxv1.ImprovementTask{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: cxv1.ImprovementTaskSpec{
			Metric: metric, Segment: strings.Join(pairs, ","), SegmentValues: values, Team: "customer-success",
			EpisodeStart: metav1.NewTime(*day(opened)), DefinitionHash: "abc123",
			Objective: cxv1.TaskObjective{Direction: cxv1.AtLeast, Target: 30, MinShift: 5}, Priority: 2,
		},
	}
	if name, ok := strings.CutPrefix(metric, "scorecard/"); ok {
		task.Spec.Metric, task.Spec.Scorecard = "", name
	}
	if verified != nil {
		task.Spec.State = cxv1.TaskResolved
		task.Spec.Resolution = &cxv1.Resolution{Note: "exec review held", Attempt: 1}
	}
	if err := k8sClient.Create(ctx, task); err != nil {
		t.Fatal(err)
	}
	if verified != nil {
		closed := metav1.NewTime(*day(opened + 10))
		task.Status = cxv1.ImprovementTaskStatus{Phase: cxv1.PhaseVerified, Attempt: 1, ClosedAt: &closed, Verification: verified}
		if err := k8sClient.Status().Update(ctx, task); err != nil {
			t.Fatal(err)
		}
	}
}

// `account` shows an account's row on the scorecard (from the encoded
// accounts, not only the at-risk list) and every task of its segments,
// oldest first, with the improvement verified; tasks of other accounts, or
// of a column that is not a key, stay out.
func TestAccountShowsItsScorecardAndTimeline(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t)
	sc := &cxv1.Scorecard{
		ObjectMeta: metav1.ObjectMeta{Name: "account-health", Namespace: ns},
		Spec: cxv1.ScorecardSpec{Owner: cxv1.ScorecardOwner{Team: "customer-success"}, Key: "account",
			Members: []cxv1.ScorecardMember{
				{Name: "nps", Metric: "account-nps", KeyColumn: "account"},
				{Name: "fcr", Metric: "first-contact-resolution", KeyColumn: "customer_id"},
			},
			Objective: cxv1.ScorecardObjective{Target: 70}},
	}
	if err := k8sClient.Create(ctx, sc); err != nil {
		t.Fatal(err)
	}
	res := scorecard.Result{Accounts: []scorecard.Account{
		{Key: "Acme Corp", Score: 55, Lower: 40, Upper: 70, Coverage: 1, Value: 2.5e6, HasValue: true, PulledDownBy: "nps",
			Members: []scorecard.MemberScore{{Name: "nps", Value: -12, Score: 38, Lower: 20, Upper: 50, Samples: 14},
				{Name: "fcr", Value: 64, Score: 91, Lower: 80, Upper: 100, Samples: 40}}},
		{Key: "Globex", Score: 90, Lower: 85, Upper: 95, Coverage: 0.5, Value: 1e5, HasValue: true,
			Members: []scorecard.MemberScore{{Name: "nps", Missing: true}, {Name: "fcr", Value: 70, Score: 100, Samples: 12}}},
	}}
	sc.Status.EncodedAccounts = metricspec.EncodeScorecardAccounts(res)
	at := metav1.NewTime(time.Date(2026, 3, 20, 0, 0, 0, 0, time.UTC))
	sc.Status.EvaluatedAt = &at
	if err := k8sClient.Status().Update(ctx, sc); err != nil {
		t.Fatal(err)
	}
	accountTask(t, ns, "nps-exec", "account-nps", map[string]string{"account": "Acme Corp", "persona": "executive"}, 2,
		&cxv1.Verification{Improvement: 14.5, Lower: 3.2, Upper: 25.8, Samples: 220, Level: 0.05})
	accountTask(t, ns, "fcr-acme", "first-contact-resolution", map[string]string{"customer_id": "Acme Corp"}, 9, nil)
	accountTask(t, ns, "nps-globex", "account-nps", map[string]string{"account": "Globex"}, 3, nil)
	accountTask(t, ns, "stage-named-acme", "journey-ces", map[string]string{"stage": "Acme Corp"}, 4, nil)
	accountTask(t, ns, "health-acme", "scorecard/account-health", map[string]string{"account": "Acme Corp"}, 12, nil)

	code, out, errOut := runCLI(t, "--kubeconfig", testKubeconfig, "-n", ns, "account", "Acme Corp", "-o", "json")
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var view AccountView
	if err := json.Unmarshal([]byte(out), &view); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if len(view.Scorecards) != 1 || view.Scorecards[0].Score != 55 || !view.Scorecards[0].AtRisk || view.Scorecards[0].PulledDownBy != "nps" ||
		len(view.Scorecards[0].Members) != 2 || *view.Scorecards[0].Members[0].Value != -12 {
		t.Errorf("scorecards = %+v", view.Scorecards)
	}
	var names []string
	for _, tk := range view.Timeline {
		names = append(names, tk.Name)
	}
	if strings.Join(names, " ") != "nps-exec fcr-acme health-acme" {
		t.Fatalf("timeline = %v, want nps-exec, fcr-acme, then the scorecard's health-acme", names)
	}
	if last := view.Timeline[2]; last.Scorecard != "account-health" || last.Metric != "" {
		t.Errorf("the scorecard's task = %+v", last)
	}
	if imp := view.Timeline[0].Improvement; imp == nil || imp.Improvement != 14.5 || view.Timeline[0].Closed == nil {
		t.Errorf("the verified task = %+v", view.Timeline[0])
	}

	code, out, _ = runCLI(t, "--kubeconfig", testKubeconfig, "-n", ns, "account", "Acme Corp")
	for _, want := range []string{"Scorecard account-health: Acme Corp scores 55.0 [40.0, 70.0] against 70, AT RISK",
		"pulled down most by nps", "MEMBER", "fcr", "+14.5 [+3.2, +25.8]", "first-contact-resolution", "scorecard/account-health"} {
		if code != ExitOK || !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	code, _, errOut = runCLI(t, "--kubeconfig", testKubeconfig, "-n", ns, "account", "Initech")
	if code != ExitOK || !strings.Contains(errOut, `No scorecard scores "Initech"`) {
		t.Errorf("an unknown account: exit %d, %s", code, errOut)
	}
	if code, _, _ := runCLI(t, "--kubeconfig", testKubeconfig, "account"); code != ExitUsage {
		t.Errorf("no account: exit %d, want usage", code)
	}
}
