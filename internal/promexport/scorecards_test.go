package promexport

import (
	"fmt"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	cxv1 "github.com/cxloop/cxloop/api/v1alpha1"
)

// A Scorecard's gauges: its index and accounts, and per-account series
// for its most valuable accounts at risk only, however many there are;
// a deleted Scorecard leaves none.
func TestScorecardSeriesAreBounded(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	s := NewScorecards(reg)
	index, value := 61.5, 4.2e6
	sc := &cxv1.Scorecard{ObjectMeta: metav1.ObjectMeta{Namespace: "cx", Name: "health"},
		Spec:   cxv1.ScorecardSpec{Owner: cxv1.ScorecardOwner{Team: "success"}},
		Status: cxv1.ScorecardStatus{Index: &index, Accounts: 300, AccountsAtRisk: 20, ValueAtRisk: &value}}
	for i := range 20 {
		v := float64(1000 - i)
		renewal := 90.0
		sc.Status.AtRisk = append(sc.Status.AtRisk, cxv1.ScorecardAccount{Key: fmt.Sprintf("acct-%02d", i), Score: 50, Value: &v,
			Outcomes: []cxv1.OutcomeValue{{Name: "renewal", Value: &renewal}, {Name: "churn"}}})
	}
	s.Observe(sc)
	if n := testutil.CollectAndCount(s, "cxloop_scorecard_account_score"); n != MaxScorecardAccountSeries {
		t.Errorf("%d account series, want %d", n, MaxScorecardAccountSeries)
	}
	want := `
# HELP cxloop_scorecard_index Latest index of a Scorecard: its accounts' scores, 0-100, weighted by value.
# TYPE cxloop_scorecard_index gauge
cxloop_scorecard_index{namespace="cx",scorecard="health",team="success"} 61.5
# HELP cxloop_scorecard_value_at_risk Sum of the values (such as annual revenue) of a Scorecard's accounts at risk.
# TYPE cxloop_scorecard_value_at_risk gauge
cxloop_scorecard_value_at_risk{namespace="cx",scorecard="health",team="success"} 4.2e+06
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "cxloop_scorecard_index", "cxloop_scorecard_value_at_risk"); err != nil {
		t.Error(err)
	}
	if n := testutil.CollectAndCount(s, "cxloop_scorecard_account_value"); n != MaxScorecardAccountSeries {
		t.Errorf("%d account value series, want %d", n, MaxScorecardAccountSeries)
	}
	// Measured outcomes only: renewal, not the churn without a value.
	if n := testutil.CollectAndCount(s, "cxloop_scorecard_account_outcome"); n != MaxScorecardAccountSeries {
		t.Errorf("%d account outcome series, want %d", n, MaxScorecardAccountSeries)
	}
	s.Forget("cx", "health")
	if n := testutil.CollectAndCount(s); n != 0 {
		t.Errorf("%d series after the Scorecard was deleted", n)
	}
}
