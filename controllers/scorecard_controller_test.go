package controllers

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"math"
	"path/filepath"
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
				{Name: "nps", Metric: "account-nps", KeyColumn: "account", Weight: &two,
					Personas: &cxv1.PersonaWeighting{Column: "persona", OtherWeight: &other,
						Weights: []cxv1.PersonaWeight{{Persona: "executive", Weight: 3}, {Persona: "admin", Weight: 2}, {Persona: "end-user", Weight: 1}}}},
				{Name: "csat", Metric: "support-csat", KeyColumn: "account"},
				{Name: "fcr", Metric: "first-contact-resolution", KeyColumn: "account"},
			},
			Value:     &cxv1.ScorecardValue{Metric: "account-arr", KeyColumn: "account"},
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
	first := got.Status.AtRisk[0]
	if first.PulledDownBy == "" || len(first.Members) != 3 {
		t.Errorf("the first account at risk = %+v, want its three members and the one pulling it down", first)
	}
	if c := condition(got.Status.Conditions, cxv1.ConditionReady); c == nil || c.Status != metav1.ConditionTrue {
		t.Errorf("Ready = %+v, want True", c)
	}
}

type scorecardWant struct {
	scores      map[string]float64
	atRisk      []string
	valueAtRisk float64
	index       float64
}

// independentScorecard scores the demo warehouse's accounts over [from,
// to) straight from its rows, as the scorecard's spec says in words.
func independentScorecard(t *testing.T, from, to time.Time, target float64) scorecardWant {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(testDataRoot, "warehouse.db")+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	inWindow := func(at time.Time) bool { return !at.Before(from) && at.Before(to) }
	normalise := func(v, floor, target float64) float64 {
		return 100 * math.Min(1, math.Max(0, (v-floor)/(target-floor)))
	}

	// NPS per account and persona, revenue-weighted, kept at an effective
	// size of 5; the personas present averaged 3:2:1.
	type sums struct{ w, w2, promoters, detractors float64 }
	nps := map[[2]string]*sums{}
	eachRow(t, db, `SELECT responded_at, account, persona, score, revenue_weight FROM survey_responses WHERE survey = 'nps' AND score IS NOT NULL`,
		func(at time.Time, vals []any) {
			if !inWindow(at) {
				return
			}
			k := [2]string{vals[0].(string), vals[1].(string)}
			s := nps[k]
			if s == nil {
				s = &sums{}
				nps[k] = s
			}
			score, w := vals[2].(int64), vals[3].(float64)
			s.w += w
			s.w2 += w * w
			if score >= 9 {
				s.promoters += w
			} else if score <= 6 {
				s.detractors += w
			}
		})
	personaWeight := map[string]float64{"executive": 3, "admin": 2, "end-user": 1}
	type mean struct{ w, wv float64 }
	npsByAccount := map[string]*mean{}
	for k, s := range nps {
		// Equal weights give a size of 5 up to rounding.
		if s.w*s.w/s.w2 < 5*(1-1e-9) || personaWeight[k[1]] == 0 {
			continue
		}
		m := npsByAccount[k[0]]
		if m == nil {
			m = &mean{}
			npsByAccount[k[0]] = m
		}
		m.w += personaWeight[k[1]]
		m.wv += personaWeight[k[1]] * 100 * (s.promoters - s.detractors) / s.w
	}
	// CSAT (4 or 5 of 5) and first-contact resolution per account, at
	// least 5 units each.
	type share struct{ n, yes float64 }
	csat, fcr := map[string]*share{}, map[string]*share{}
	count := func(m map[string]*share, account string, yes bool) {
		s := m[account]
		if s == nil {
			s = &share{}
			m[account] = s
		}
		s.n++
		if yes {
			s.yes++
		}
	}
	eachRow(t, db, `SELECT responded_at, account, score FROM survey_responses WHERE survey = 'csat' AND score IS NOT NULL`,
		func(at time.Time, vals []any) {
			if inWindow(at) {
				count(csat, vals[0].(string), vals[1].(int64) >= 4)
			}
		})
	eachRow(t, db, `SELECT resolved_at, account, first_contact_resolved FROM tickets`, func(at time.Time, vals []any) {
		if inWindow(at) {
			count(fcr, vals[0].(string), vals[1].(int64) == 1)
		}
	})
	arr := map[string]*mean{}
	eachRow(t, db, `SELECT period_end, account, starting_arr FROM account_periods`, func(at time.Time, vals []any) {
		if !inWindow(at) {
			return
		}
		m := arr[vals[0].(string)]
		if m == nil {
			m = &mean{}
			arr[vals[0].(string)] = m
		}
		m.w++
		m.wv += vals[1].(float64)
	})

	out := scorecardWant{scores: map[string]float64{}}
	accounts := map[string]bool{}
	for a := range npsByAccount {
		accounts[a] = true
	}
	for _, m := range []map[string]*share{csat, fcr} {
		for a, s := range m {
			if s.n >= 5 {
				accounts[a] = true
			}
		}
	}
	var valueSum, weighted float64
	for a := range accounts {
		var w, ws float64
		if m := npsByAccount[a]; m != nil {
			w, ws = 2, 2*normalise(m.wv/m.w, -100, 30)
		}
		if s := csat[a]; s != nil && s.n >= 5 {
			w, ws = w+1, ws+normalise(100*s.yes/s.n, 0, 80)
		}
		if s := fcr[a]; s != nil && s.n >= 5 {
			w, ws = w+1, ws+normalise(100*s.yes/s.n, 0, 70)
		}
		out.scores[a] = ws / w
		if v := arr[a]; v != nil {
			valueSum += v.wv / v.w
			weighted += v.wv / v.w * out.scores[a]
		}
		// Judged only with half the members' weight (4) covered.
		if out.scores[a] < target && w/4 >= 0.5 {
			out.atRisk = append(out.atRisk, a)
			if v := arr[a]; v != nil {
				out.valueAtRisk += v.wv / v.w
			}
		}
	}
	out.index = weighted / valueSum
	value := func(a string) float64 {
		if v := arr[a]; v != nil {
			return v.wv / v.w
		}
		return math.Inf(-1)
	}
	slices.SortFunc(out.atRisk, func(x, y string) int {
		return cmp.Or(cmp.Compare(value(y), value(x)), cmp.Compare(out.scores[x], out.scores[y]), cmp.Compare(x, y))
	})
	return out
}

// eachRow calls fn with each row's time (the first column) and the rest.
func eachRow(t *testing.T, db *sql.DB, query string, fn func(time.Time, []any)) {
	t.Helper()
	rows, err := db.Query(query)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	for rows.Next() {
		var at time.Time
		vals := make([]any, len(cols)-1)
		dest := []any{&at}
		for i := range vals {
			dest = append(dest, &vals[i])
		}
		if err := rows.Scan(dest...); err != nil {
			t.Fatal(err)
		}
		fn(at, vals)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
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
