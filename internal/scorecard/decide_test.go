package scorecard

import (
	"testing"
	"time"

	"github.com/cxloop/cxloop/internal/detect"
)

var (
	day    = 24 * time.Hour
	policy = Policy{Target: 60, Shift: 10, Budget: 0.01, Window: 30 * day, Location: time.UTC}
	t0     = time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
)

// scored is a window's result with the accounts' scores, each with
// standard error se and 100 samples.
func scored(se float64, scores map[string]float64) Result {
	var res Result
	var all []float64
	for k, s := range scores {
		res.Accounts = append(res.Accounts, Account{Key: k, Score: s, StdErr: se, Samples: 100, Coverage: 1})
		all = append(all, s)
	}
	res.Quantiles[2] = quantile(all, 0.5)
	return res
}

func TestJudgeOpensKeepsAndEndsAnAccountsEpisode(t *testing.T) {
	det := Detector{Medians: []float64{60, 61, 59, 60}}
	from, to := t0, t0.Add(30*day)
	det, err := policy.Judge(det, scored(2, map[string]float64{"acme": 20, "globex": 60, "initech": 58}), from, to)
	if err != nil {
		t.Fatal(err)
	}
	ep, ok := det.Episode("acme")
	if !ok || len(det.Episodes) != 1 || !ep.Start.Equal(from) || ep.Score != 20 || ep.Samples != 100 {
		t.Fatalf("episodes %+v: want acme's alone, from %s", det.Episodes, from)
	}
	if det.Due(to) || !det.Due(to.Add(30*day)) {
		t.Fatalf("fed until %s: the window ending %s is judged, the next is due", det.FedUntil, to)
	}
	// The account has no data in the next window: its episode stays.
	det, _ = policy.Judge(det, scored(2, map[string]float64{"globex": 60}), to, to.Add(30*day))
	if _, ok := det.Episode("acme"); !ok {
		t.Fatal("a window without the account's data ended its episode")
	}
	// Still breaching: the same episode, its latest score.
	det, _ = policy.Judge(det, scored(2, map[string]float64{"acme": 25, "globex": 60}), to.Add(30*day), to.Add(60*day))
	if ep, ok := det.Episode("acme"); !ok || !ep.Start.Equal(from) || ep.Score != 25 {
		t.Fatalf("episode %+v: want the one from %s at 25", ep, from)
	}
	// Back at the target: ended.
	det, _ = policy.Judge(det, scored(2, map[string]float64{"acme": 60, "globex": 60}), to.Add(60*day), to.Add(90*day))
	if len(det.Episodes) != 0 {
		t.Fatalf("episodes %+v after a window at the target", det.Episodes)
	}
	if n := len(det.Medians); n != 8 || det.Medians[n-1] != 60 {
		t.Fatalf("medians %v: every window's median is kept", det.Medians)
	}
}

// A mood that lowers every account at once is judged against the spread
// the past windows' medians show, not as a drop in each account.
func TestJudgeCountsTheCommonSpread(t *testing.T) {
	scores := map[string]float64{}
	for _, k := range []string{"a", "b", "c", "d", "e", "f"} {
		scores[k] = 42
	}
	moody := Detector{Medians: []float64{60, 72, 48, 66, 54}}
	det, err := policy.Judge(moody, scored(1, scores), t0, t0.Add(30*day))
	if err != nil {
		t.Fatal(err)
	}
	if len(det.Episodes) != 0 {
		t.Fatalf("a common move within the medians' spread opened %d episodes", len(det.Episodes))
	}
	calm := Detector{Medians: []float64{60, 60.2, 59.8, 60.1, 59.9}}
	if det, _ = policy.Judge(calm, scored(1, scores), t0, t0.Add(30*day)); len(det.Episodes) != len(scores) {
		t.Fatalf("the same scores after calm windows opened %d episodes, want %d", len(det.Episodes), len(scores))
	}
}

func TestJudgeLeavesUnjudgedAccountsAlone(t *testing.T) {
	res := scored(1, map[string]float64{"thin": 5})
	res.Accounts[0].unjudged = true
	det, _ := policy.Judge(Detector{Medians: []float64{60, 60, 60}}, res, t0, t0.Add(30*day))
	if len(det.Episodes) != 0 {
		t.Fatalf("an account below the coverage opened %+v", det.Episodes)
	}
}

// A fix that changed nothing leaves the fresh score at the episode's and
// is not proven; a fix that lifted the account to its target on plenty of
// fresh data is; an account without fresh data verifies nothing.
func TestVerifyAnAccount(t *testing.T) {
	ep := Episode{Account: "acme", Start: t0, Score: 30, StdErr: 3, Samples: 300}
	look := Look{Attempt: 1, Deadline: true, Final: true, Span: 30 * day, Planned: 30 * day}
	fresh := func(score float64) Result {
		return Result{Accounts: []Account{{Key: "acme", Score: score, StdErr: 2, Samples: 300, Coverage: 1}}}
	}
	if v := policy.Verify(ep, fresh(30), 1, look); v.Verdict == detect.Proven {
		t.Fatalf("a fix that did nothing: %s", v.Message)
	}
	if v := policy.Verify(ep, fresh(80), 1, look); v.Verdict != detect.Proven {
		t.Fatalf("a fix to 80 on 300 samples: %s", v.Message)
	}
	// The null is the reference, target − δ/2, not the episode's score:
	// 57 is above the episode but not shown to have left 55.
	if v := policy.Verify(ep, fresh(57), 1, look); v.Verdict == detect.Proven {
		t.Fatalf("a fresh score within the reference's noise: %s", v.Message)
	}
	if v := policy.Verify(ep, Result{}, 1, look); v.Verdict != detect.NotProven || v.Samples != 0 {
		t.Fatalf("no fresh data at the final look: %s %+v", v.Verdict, v)
	}
	early := look
	early.Final, early.Span = false, 3*day
	if v := policy.Verify(ep, Result{}, 1, early); v.Verdict != detect.Pending {
		t.Fatalf("no fresh data early: %s", v.Verdict)
	}
}

// The medians are those of consecutive windows ending at the latest
// judged: a window without accounts starts the series afresh, and
// MedianWindows bounds each median's window.
func TestMediansAreOfConsecutiveWindows(t *testing.T) {
	det := Detector{Medians: []float64{60, 61}}
	det, _ = policy.Judge(det, scored(1, map[string]float64{"a": 62}), t0, t0.Add(30*day))
	if len(det.Medians) != 3 {
		t.Fatalf("medians %v", det.Medians)
	}
	bounds := policy.MedianWindows(det)
	if len(bounds) != 4 || !bounds[3].Equal(t0.Add(30*day)) || !bounds[0].Equal(t0.Add(-60*day)) {
		t.Fatalf("bounds %v for medians %v fed until %s", bounds, det.Medians, det.FedUntil)
	}
	det, _ = policy.Judge(det, Result{}, t0.Add(30*day), t0.Add(60*day))
	if len(det.Medians) != 0 {
		t.Fatalf("a window without accounts kept medians %v", det.Medians)
	}
}
