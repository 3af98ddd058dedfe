package controllers

import (
	"cmp"
	"database/sql"
	"math"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

type scorecardWant struct {
	scores      map[string]float64
	atRisk      []string
	valueAtRisk float64
	index       float64
	// churnAtRisk and churnHealthy are the mean churn rates of the judged
	// accounts at risk and not, with their counts.
	churnAtRisk, churnHealthy float64
	atRiskChurned, healthy    int
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
	arr, churn := map[string]*mean{}, map[string]*mean{}
	eachRow(t, db, `SELECT period_end, account, starting_arr, churned FROM account_periods`, func(at time.Time, vals []any) {
		if !inWindow(at) {
			return
		}
		for _, c := range []struct {
			m map[string]*mean
			v float64
		}{{arr, vals[1].(float64)}, {churn, 100 * float64(vals[2].(int64))}} {
			m := c.m[vals[0].(string)]
			if m == nil {
				m = &mean{}
				c.m[vals[0].(string)] = m
			}
			m.w++
			m.wv += c.v
		}
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
			w, ws = 2, 2*normalise(m.wv/m.w, -30, 30)
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
		judged := w/4 >= 0.5
		if out.scores[a] < target && judged {
			out.atRisk = append(out.atRisk, a)
			if v := arr[a]; v != nil {
				out.valueAtRisk += v.wv / v.w
			}
		}
		if c := churn[a]; c != nil && judged {
			if out.scores[a] < target {
				out.churnAtRisk += c.wv / c.w
				out.atRiskChurned++
			} else {
				out.churnHealthy += c.wv / c.w
				out.healthy++
			}
		}
	}
	out.churnAtRisk /= float64(out.atRiskChurned)
	out.churnHealthy /= float64(out.healthy)
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
