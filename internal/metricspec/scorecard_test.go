package metricspec

import (
	"fmt"
	"math"
	"reflect"
	"testing"

	cxv1 "github.com/cxloop/cxloop/api/v1alpha1"
	"github.com/cxloop/cxloop/internal/scorecard"
)

// Every scored account survives the status encoding exactly, sorted by
// key; past the bound the most valuable are kept; a value that is not a
// number is dropped, not the whole encoding.
func TestScorecardAccountsRoundTrip(t *testing.T) {
	var res scorecard.Result
	for i := range cxv1.MaxScorecardAccountsEncoded + 10 {
		res.Accounts = append(res.Accounts, scorecard.Account{Key: fmt.Sprintf("acct-%05d", i), Score: float64(i%100) + 0.25,
			Lower: 1, Upper: 99, Coverage: 0.5, Value: float64(i), HasValue: true, PulledDownBy: "nps",
			Members: []scorecard.MemberScore{{Name: "nps", Value: -3.5, Score: 40, Samples: 7}, {Name: "csat", Missing: true}}})
	}
	got, err := DecodeScorecardAccounts(EncodeScorecardAccounts(res))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != cxv1.MaxScorecardAccountsEncoded {
		t.Fatalf("%d accounts kept, want %d", len(got), cxv1.MaxScorecardAccountsEncoded)
	}
	// The ten least valuable fell off: acct-00000 to acct-00009.
	if got[0].Key != "acct-00010" || got[len(got)-1].Key != fmt.Sprintf("acct-%05d", cxv1.MaxScorecardAccountsEncoded+9) {
		t.Fatalf("kept %s .. %s", got[0].Key, got[len(got)-1].Key)
	}
	want := scorecardAccount(res.Accounts[10], &Scored{Result: res})
	if !reflect.DeepEqual(got[0], want) {
		t.Errorf("decoded %+v, want %+v", got[0], want)
	}
	small := scorecard.Result{Accounts: []scorecard.Account{{Key: "a", Score: 50, Value: math.NaN(), HasValue: true}}}
	if got, err := DecodeScorecardAccounts(EncodeScorecardAccounts(small)); err != nil || len(got) != 1 || got[0].Value != nil {
		t.Errorf("an account worth NaN decodes as %+v (%v), want it without a value", got, err)
	}
	if enc := EncodeScorecardAccounts(scorecard.Result{}); enc != "" {
		t.Errorf("no accounts encode as %q", enc)
	}
}
