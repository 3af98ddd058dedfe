package controllers

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cxv1 "github.com/cxloop/cxloop/api/v1alpha1"
	"github.com/cxloop/cxloop/internal/metricspec"
)

// responseRates are the personas' shares of invitations answered.
var responseRates = map[string]float64{"executive": 0.10, "admin": 0.25, "end-user": 0.30}

// writeInvitations writes a survey whose personas answer at their own
// rates, invitations counted per persona and day, and whose scores fall
// from driverT0.
func writeInvitations(t *testing.T, db string) (answers, invited map[string]int) {
	t.Helper()
	conn, err := sql.Open("sqlite", "file:"+filepath.Join(testDataRoot, db))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for _, ddl := range []string{`CREATE TABLE answers (responded_at TIMESTAMP, persona TEXT, score INTEGER)`,
		`CREATE TABLE invitations (sent_on TIMESTAMP, persona TEXT, survey TEXT, invited INTEGER)`} {
		if _, err := conn.Exec(ddl); err != nil {
			t.Fatal(err)
		}
	}
	tx, err := conn.Begin()
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(5, 3))
	answers, invited = map[string]int{}, map[string]int{}
	windowStart := driverT0.Add(-720 * time.Hour)
	for d := -200; d < 10; d++ {
		day := driverT0.Add(time.Duration(d) * 24 * time.Hour)
		for persona, rate := range responseRates {
			n := 400
			// Another survey's invitations, filtered out.
			if _, err := tx.Exec(`INSERT INTO invitations VALUES (?, ?, 'csat', 999)`, day.Format(time.DateTime), persona); err != nil {
				t.Fatal(err)
			}
			if _, err := tx.Exec(`INSERT INTO invitations VALUES (?, ?, 'nps', ?)`, day.Format(time.DateTime), persona, n); err != nil {
				t.Fatal(err)
			}
			got := 0
			for range n {
				if r.Float64() >= rate {
					continue
				}
				got++
				score := int(math.Round(8 + 1.5*r.NormFloat64()))
				if d >= 0 {
					score -= 4
				}
				at := day.Add(time.Duration(r.IntN(86400)) * time.Second)
				if _, err := tx.Exec(`INSERT INTO answers VALUES (?, ?, ?)`, at.Format(time.DateTime), persona, max(0, min(10, score))); err != nil {
					t.Fatal(err)
				}
			}
			if !day.Before(windowStart) && day.Before(driverT0) {
				answers[persona] += got
				invited[persona] += n
			}
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	return answers, invited
}

// A survey Metric that names its invitations shows its response rate
// overall and per persona, flags the persona answering below the
// threshold, on a scorecard's row too, and the task a fall opens carries
// its segment's rate.
func TestResponseRatesAreShownAndFlagged(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t)
	answers, invited := writeInvitations(t, "invitations.db")
	shift := 10.0
	m := &cxv1.Metric{ObjectMeta: metav1.ObjectMeta{Name: "relationship-nps", Namespace: ns}, Spec: cxv1.MetricSpec{
		Owner: cxv1.MetricOwner{Team: "customer-success"}, Source: &cxv1.LocalObjectReference{Name: "invitations"},
		Formula: cxv1.FormulaNPS, SegmentBy: []string{"persona"},
		Query: &cxv1.MetricQuery{Table: "answers", Columns: &cxv1.QueryColumns{Value: "score", Time: "responded_at"}},
		Invitations: &cxv1.SurveyInvitations{Table: "invitations", Time: "sent_on", Count: "invited",
			Filters: []cxv1.QueryFilter{{Column: "survey", Operator: "Equals", Values: []string{"nps"}}}},
		Objective: cxv1.Objective{Relative: &cxv1.RelativeObjective{BaselineWindow: "720h", MaxChange: 10}, MinShift: &shift,
			MinSamples: 50},
	}}
	for _, o := range []client.Object{
		&cxv1.DataSource{ObjectMeta: metav1.ObjectMeta{Name: "invitations", Namespace: ns},
			Spec: cxv1.DataSourceSpec{Type: cxv1.DataSourceSQLite, SQLite: &cxv1.SQLiteSource{Path: "invitations.db"}}},
		&cxv1.Team{ObjectMeta: metav1.ObjectMeta{Name: "customer-success", Namespace: ns}},
		m,
	} {
		if err := k8sClient.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	evaluateAt(t, m, driverT0)
	got := metricAt(t, m, "response rate measured", func(m *cxv1.Metric) bool { return m.Status.ResponseRate != nil })
	rr := got.Status.ResponseRate
	total, sent := 0, 0
	for p := range responseRates {
		total, sent = total+answers[p], sent+invited[p]
	}
	if rr.Responses != int64(total) || rr.Invitations != int64(sent) || rr.Rate == nil ||
		math.Abs(*rr.Rate-100*float64(total)/float64(sent)) > 1e-9 {
		t.Fatalf("response rate %+v, the rows give %d of %d", rr, total, sent)
	}
	if rr.MinResponseRate != 20 || rr.LowSegments != 1 || len(rr.Lowest) != 3 {
		t.Fatalf("response rate %+v, want the executives alone below 20 %%", rr)
	}
	for i, p := range []string{"executive", "admin", "end-user"} {
		s := rr.Lowest[i]
		if s.Segment != "persona="+p || s.Responses != int64(answers[p]) || s.Invitations != int64(invited[p]) || s.Low != (p == "executive") {
			t.Errorf("lowest[%d] = %+v, want %s with %d of %d", i, s, p, answers[p], invited[p])
		}
	}

	// A scorecard over the personas flags the executives' row.
	sc := &cxv1.Scorecard{ObjectMeta: metav1.ObjectMeta{Name: "by-persona", Namespace: ns}, Spec: cxv1.ScorecardSpec{
		Owner: cxv1.ScorecardOwner{Team: "customer-success"}, Key: "persona",
		Members:   []cxv1.ScorecardMember{{Name: "nps", Metric: m.Name, KeyColumn: "persona", Target: ptrTo(60.0)}},
		Objective: cxv1.ScorecardObjective{Target: 70}}}
	if err := k8sClient.Create(ctx, sc); err != nil {
		t.Fatal(err)
	}
	var scored cxv1.Scorecard
	eventually(t, 20*time.Second, "scorecard scored", func() (bool, string) {
		if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(sc), &scored); err != nil {
			return false, err.Error()
		}
		return scored.Status.EncodedAccounts != "", fmt.Sprintf("conditions=%v", scored.Status.Conditions)
	})
	rows, err := metricspec.DecodeScorecardAccounts(scored.Status.EncodedAccounts)
	if err != nil || len(rows) != 3 {
		t.Fatalf("rows %+v, %v", rows, err)
	}
	for _, row := range rows {
		p := row.Key
		ms := row.Members[0]
		want := 100 * float64(answers[p]) / float64(invited[p])
		if ms.ResponseRate == nil || math.Abs(*ms.ResponseRate-want) > 1e-9 || ms.LowResponseRate != (p == "executive") ||
			row.LowResponseRate != (p == "executive") {
			t.Errorf("%s: row %+v, member %+v; want a response rate of %.2f, low only for executives", p, row, ms, want)
		}
	}

	var task *cxv1.ImprovementTask
	for day := 1; day < 10 && task == nil; day++ {
		evaluateAt(t, m, driverT0.Add(time.Duration(day)*24*time.Hour))
		time.Sleep(200 * time.Millisecond)
		var tasks cxv1.ImprovementTaskList
		if err := k8sClient.List(ctx, &tasks, client.InNamespace(ns)); err != nil {
			t.Fatal(err)
		}
		for i := range tasks.Items {
			if tasks.Items[i].Spec.Segment == "persona=executive" {
				task = &tasks.Items[i]
			}
		}
	}
	if task == nil {
		t.Fatal("the executives' fall opened no task within 10 days")
	}
	if r := task.Spec.ResponseRate; r == nil || r.Segment != "persona=executive" || !r.Low || r.Rate > 12 || r.Rate < 8 {
		t.Fatalf("the executives' task carries response rate %+v, want about 10 %% and low", r)
	}
	t.Logf("the executives' task: %s", fmt.Sprintf("%+v", *task.Spec.ResponseRate))
}
