package controllers

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cxv1 "github.com/cxloop/cxloop/api/v1alpha1"
	"github.com/cxloop/cxloop/internal/demodata"
)

// scorecardMetric is a suspended Metric of the demo warehouse: the
// scorecard reads it per account, its own detector stays out of the test.
func scorecardMetric(ns, name string, formula cxv1.Formula, target float64, q cxv1.MetricQuery) *cxv1.Metric {
	return &cxv1.Metric{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: cxv1.MetricSpec{
			Owner: cxv1.MetricOwner{Team: "customer-success"}, Source: &cxv1.LocalObjectReference{Name: "warehouse"},
			Formula: formula, Query: &q, Suspend: true,
			Objective: cxv1.Objective{Target: &target, MinSamples: 50},
		},
	}
}

func surveyQuery(survey string, weight string) cxv1.MetricQuery {
	return cxv1.MetricQuery{Table: "survey_responses",
		Columns: &cxv1.QueryColumns{Value: "score", Time: "responded_at", Weight: weight},
		Filters: []cxv1.QueryFilter{{Column: "survey", Operator: "Equals", Values: []string{survey}}}}
}

// The account-health scorecard on the demo warehouse: NPS weighted by
// persona and revenue, CSAT and first-contact resolution, joined on the
// account from three tables, with each account's recurring revenue as its
// value. The accounts at risk, the index and the value at risk are those a
// computation straight from the SQLite file gives.
func TestScorecardRanksAccountsAtRiskAsComputedFromTheWarehouse(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t)
	createWarehouse(t, ns)
	metrics := []*cxv1.Metric{
		scorecardMetric(ns, "account-nps", cxv1.FormulaNPS, 30, surveyQuery("nps", "revenue_weight")),
		scorecardMetric(ns, "support-csat", cxv1.FormulaCSAT, 80, surveyQuery("csat", "")),
		scorecardMetric(ns, "first-contact-resolution", cxv1.FormulaRate, 70, cxv1.MetricQuery{Table: "tickets",
			Columns: &cxv1.QueryColumns{Value: "first_contact_resolved", Time: "resolved_at"}}),
		scorecardMetric(ns, "account-arr", cxv1.FormulaMean, 50000, cxv1.MetricQuery{Table: "account_periods",
			Columns: &cxv1.QueryColumns{Value: "starting_arr", Time: "period_end"}}),
		scorecardMetric(ns, "churn", cxv1.FormulaRate, 5, cxv1.MetricQuery{Table: "account_periods",
			Columns: &cxv1.QueryColumns{Value: "churned", Time: "period_end"}}),
	}
	for _, m := range metrics {
		if err := k8sClient.Create(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	two, other := 2.0, 0.0
	sc := &cxv1.Scorecard{
		ObjectMeta: metav1.ObjectMeta{Name: "account-health", Namespace: ns},
		Spec: cxv1.ScorecardSpec{
			Owner: cxv1.ScorecardOwner{Team: "customer-success"}, Key: "account",
			Members: []cxv1.ScorecardMember{
				{Name: "nps", Metric: "account-nps", KeyColumn: "account", Weight: &two, Floor: ptrTo(-30.0),
					Personas: &cxv1.PersonaWeighting{Column: "persona", OtherWeight: &other,
						Weights: []cxv1.PersonaWeight{{Persona: "executive", Weight: 3}, {Persona: "admin", Weight: 2}, {Persona: "end-user", Weight: 1}}}},
				{Name: "csat", Metric: "support-csat", KeyColumn: "account"},
				{Name: "fcr", Metric: "first-contact-resolution", KeyColumn: "account"},
			},
			Value:     &cxv1.ScorecardValue{Metric: "account-arr", KeyColumn: "account"},
			Outcomes:  []cxv1.ScorecardOutcome{{Name: "churn", Metric: "churn", KeyColumn: "account"}},
			Objective: cxv1.ScorecardObjective{Target: 70},
		},
	}
	testClock.Set(demodata.DefaultT0.Add(6 * time.Hour))
	if err := k8sClient.Create(ctx, sc); err != nil {
		t.Fatal(err)
	}
	var got cxv1.Scorecard
	eventually(t, 30*time.Second, "scorecard scored", func() (bool, string) {
		if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(sc), &got); err != nil {
			return false, err.Error()
		}
		return got.Status.EvaluatedAt != nil, fmt.Sprintf("conditions=%v", got.Status.Conditions)
	})

	end := demodata.DefaultT0 // the members' 24h windows end at midnight
	want := independentScorecard(t, end.Add(-720*time.Hour), end, 70)
	if int(got.Status.Accounts) != len(want.scores) || int(got.Status.AccountsAtRisk) != len(want.atRisk) {
		t.Fatalf("status has %d accounts, %d at risk; the warehouse gives %d and %d",
			got.Status.Accounts, got.Status.AccountsAtRisk, len(want.scores), len(want.atRisk))
	}
	if len(want.atRisk) < 5 || len(want.atRisk) == len(want.scores) {
		t.Fatalf("%d of %d accounts at risk: the test needs some at risk and some not", len(want.atRisk), len(want.scores))
	}
	var order []string
	for _, a := range got.Status.AtRisk {
		order = append(order, a.Key)
		if w := want.scores[a.Key]; math.Abs(a.Score-w) > 1e-6 {
			t.Errorf("%s scores %v, the warehouse gives %v", a.Key, a.Score, w)
		}
	}
	if top := want.atRisk[:min(len(want.atRisk), cxv1.MaxScorecardAccountsListed)]; !slices.Equal(order, top) {
		t.Errorf("accounts at risk in status:\n  %v\nby the warehouse:\n  %v", order, top)
	}
	if got.Status.ValueAtRisk == nil || math.Abs(*got.Status.ValueAtRisk-want.valueAtRisk) > 1e-6*want.valueAtRisk {
		t.Errorf("value at risk = %v, want %v", got.Status.ValueAtRisk, want.valueAtRisk)
	}
	if got.Status.Index == nil || math.Abs(*got.Status.Index-want.index) > 1e-6 {
		t.Errorf("index = %v, want %v", got.Status.Index, want.index)
	}
	// Churn beside the scores: the at-risk accounts' mean and the healthy
	// ones', as the rows give them.
	if o := got.Status.Outcomes; len(o) != 1 || o[0].Name != "churn" || int(o[0].AtRiskAccounts) != want.atRiskChurned ||
		int(o[0].HealthyAccounts) != want.healthy || o[0].AtRisk == nil || math.Abs(*o[0].AtRisk-want.churnAtRisk) > 1e-9 ||
		o[0].Healthy == nil || math.Abs(*o[0].Healthy-want.churnHealthy) > 1e-9 {
		t.Errorf("outcomes = %+v, want churn %.3f over %d at risk and %.3f over %d healthy", got.Status.Outcomes,
			want.churnAtRisk, want.atRiskChurned, want.churnHealthy, want.healthy)
	}
	first := got.Status.AtRisk[0]
	if first.PulledDownBy == "" || len(first.Members) != 3 {
		t.Errorf("the first account at risk = %+v, want its three members and the one pulling it down", first)
	}
	if c := condition(got.Status.Conditions, cxv1.ConditionReady); c == nil || c.Status != metav1.ConditionTrue {
		t.Errorf("Ready = %+v, want True", c)
	}
}

// A Scorecard that cannot be scored as written stalls with the reason and
// the member to fix, and scores as soon as the user fixes it: a member
// Metric created later, a member whose formula has no worst value given a
// floor.
func TestScorecardStallsUntilItsMembersCanBeScored(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t)
	createWarehouse(t, ns)
	testClock.Set(demodata.DefaultT0.Add(6 * time.Hour))
	handoffs := scorecardMetric(ns, "handoffs", cxv1.FormulaMean, 1.5, cxv1.MetricQuery{Table: "tickets",
		Columns: &cxv1.QueryColumns{Value: "handoffs", Time: "resolved_at"}})
	handoffs.Spec.Objective.Direction = cxv1.AtMost
	if err := k8sClient.Create(ctx, handoffs); err != nil {
		t.Fatal(err)
	}
	sc := &cxv1.Scorecard{
		ObjectMeta: metav1.ObjectMeta{Name: "health", Namespace: ns},
		Spec: cxv1.ScorecardSpec{
			Owner: cxv1.ScorecardOwner{Team: "customer-success"}, Key: "account",
			Members: []cxv1.ScorecardMember{
				{Name: "fcr", Metric: "first-contact-resolution", KeyColumn: "account"},
				{Name: "handoffs", Metric: "handoffs", KeyColumn: "account"},
			},
			Objective: cxv1.ScorecardObjective{Target: 70},
		},
	}
	if err := k8sClient.Create(ctx, sc); err != nil {
		t.Fatal(err)
	}
	stalled := func(reason, mentions string) {
		t.Helper()
		var got cxv1.Scorecard
		eventually(t, 20*time.Second, "Stalled "+reason, func() (bool, string) {
			if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(sc), &got); err != nil {
				return false, err.Error()
			}
			c := condition(got.Status.Conditions, cxv1.ConditionStalled)
			return c != nil && c.Status == metav1.ConditionTrue && c.Reason == reason && strings.Contains(c.Message, mentions),
				fmt.Sprintf("conditions=%v", got.Status.Conditions)
		})
		if got.Status.Index != nil {
			t.Errorf("a stalled scorecard shows index %v", *got.Status.Index)
		}
	}
	stalled("MetricNotFound", "Metric first-contact-resolution not found")

	// The member created: the Scorecard moves on to the next problem, a
	// mean has no worst value to score 0 at.
	fcr := scorecardMetric(ns, "first-contact-resolution", cxv1.FormulaRate, 70, cxv1.MetricQuery{Table: "tickets",
		Columns: &cxv1.QueryColumns{Value: "first_contact_resolved", Time: "resolved_at"}})
	if err := k8sClient.Create(ctx, fcr); err != nil {
		t.Fatal(err)
	}
	stalled("InvalidMember", "member handoffs (Metric handoffs): the member's formula has no worst value: set its floor")

	// A floor on the good side of the target is refused as well.
	patch := client.MergeFrom(sc.DeepCopy())
	low := 0.5
	sc.Spec.Members[1].Floor = &low
	if err := k8sClient.Patch(ctx, sc, patch); err != nil {
		t.Fatal(err)
	}
	stalled("InvalidMember", "floor must be worse than its target")

	patch = client.MergeFrom(sc.DeepCopy())
	high := 4.0
	sc.Spec.Members[1].Floor = &high
	if err := k8sClient.Patch(ctx, sc, patch); err != nil {
		t.Fatal(err)
	}
	var got cxv1.Scorecard
	eventually(t, 20*time.Second, "scored", func() (bool, string) {
		if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(sc), &got); err != nil {
			return false, err.Error()
		}
		ready := condition(got.Status.Conditions, cxv1.ConditionReady)
		return ready != nil && ready.Status == metav1.ConditionTrue && got.Status.Index != nil &&
			condition(got.Status.Conditions, cxv1.ConditionStalled) == nil, fmt.Sprintf("conditions=%v", got.Status.Conditions)
	})
	if len(got.Status.Members) != 2 || got.Status.Members[1].Accounts == 0 || *got.Status.Members[1].Floor != 4 {
		t.Errorf("members = %+v, want handoffs scored from 4 down to 1.5", got.Status.Members)
	}
}
