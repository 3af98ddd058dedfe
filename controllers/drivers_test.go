package controllers

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cxv1 "github.com/cxloop/cxloop/api/v1alpha1"
)

const (
	driverAccounts = 300
	driverDays     = 200 // of history before driverT0: more than the calibration needs
)

var driverT0 = time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)

// writeDriverWarehouse plants drivers in a warehouse of 300 accounts: each
// account has a latent health h; its NPS answers, its shipments on time
// and its tickets resolved at first contact follow h (the shipments
// loosely, the tickets more closely), and its invoices' accuracy does
// not. From driverT0 every account answers 4 points lower.
func writeDriverWarehouse(t *testing.T, db string) {
	t.Helper()
	conn, err := sql.Open("sqlite", "file:"+filepath.Join(testDataRoot, db))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for _, ddl := range []string{
		`CREATE TABLE answers (responded_at TIMESTAMP, account TEXT, score INTEGER)`,
		`CREATE TABLE shipments (shipped_at TIMESTAMP, account TEXT, on_time INTEGER)`,
		`CREATE TABLE tickets (resolved_at TIMESTAMP, customer TEXT, first_contact INTEGER)`,
		`CREATE TABLE invoices (sent_at TIMESTAMP, account TEXT, accurate INTEGER)`,
	} {
		if _, err := conn.Exec(ddl); err != nil {
			t.Fatal(err)
		}
	}
	tx, err := conn.Begin()
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(11, 29))
	logistic := func(x float64) float64 { return 1 / (1 + math.Exp(-x)) }
	bit := func(p float64) int {
		if r.Float64() < p {
			return 1
		}
		return 0
	}
	type account struct{ health, shipping, support float64 }
	accounts := make([]account, driverAccounts)
	for i := range accounts {
		h := r.NormFloat64()
		accounts[i] = account{health: h,
			support:  0.47*h + math.Sqrt(1-0.47*0.47)*r.NormFloat64(),
			shipping: 0.38*h + math.Sqrt(1-0.38*0.38)*r.NormFloat64()}
	}
	for d := -driverDays; d < 21; d++ {
		day := driverT0.Add(time.Duration(d) * 24 * time.Hour)
		for i, a := range accounts {
			name := fmt.Sprintf("acct-%03d", i)
			at := day.Add(time.Duration(r.IntN(86400)) * time.Second).Format("2006-01-02 15:04:05")
			score := int(math.Round(7 + 1.6*a.health + 1.8*r.NormFloat64()))
			if d >= 0 {
				score -= 4
			}
			score = max(0, min(10, score))
			for _, row := range []struct {
				table string
				value int
			}{
				{"answers", score},
				{"shipments", bit(logistic(1.4 + 1.2*a.shipping))},
				{"tickets", bit(logistic(0.9 + 1.2*a.support))},
				{"invoices", bit(logistic(2.0 + 1.2*r.NormFloat64()))},
			} {
				if _, err := tx.Exec(fmt.Sprintf(`INSERT INTO %s VALUES (?, ?, ?)`, row.table), at, name, row.value); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
}

func driverMetric(ns, name, table, value, timeCol string, target float64) *cxv1.Metric {
	return &cxv1.Metric{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}, Spec: cxv1.MetricSpec{
		Owner: cxv1.MetricOwner{Team: "operations"}, Source: &cxv1.LocalObjectReference{Name: "drivers"},
		Formula:   cxv1.FormulaRate,
		Query:     &cxv1.MetricQuery{Table: table, Columns: &cxv1.QueryColumns{Value: value, Time: timeCol}},
		Objective: cxv1.Objective{Target: &target, MinSamples: 50},
	}}
}

// The NPS of 300 accounts names its drivers: the two planted ones rank in
// the order of their planted strength (about 0.5 and 0.3 across accounts),
// each with the Spearman a computation straight from the rows gives, and
// the non-driver ranks last, unsupported. The task a fall of NPS opens
// carries the two drivers with their values.
func TestDriversAreRankedAndCarriedByTheTask(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t)
	writeDriverWarehouse(t, "drivers.db")
	shift := 10.0
	outcome := &cxv1.Metric{ObjectMeta: metav1.ObjectMeta{Name: "account-nps", Namespace: ns}, Spec: cxv1.MetricSpec{
		Owner: cxv1.MetricOwner{Team: "customer-success"}, Source: &cxv1.LocalObjectReference{Name: "drivers"},
		Formula: cxv1.FormulaNPS,
		Query:   &cxv1.MetricQuery{Table: "answers", Columns: &cxv1.QueryColumns{Value: "score", Time: "responded_at"}},
		Objective: cxv1.Objective{Relative: &cxv1.RelativeObjective{BaselineWindow: "720h", MaxChange: 10}, MinShift: &shift,
			MinSamples: 50},
		Drivers: &cxv1.DriverAnalysis{KeyColumn: "account", Metrics: []cxv1.DriverMetric{
			{Metric: "invoice-accuracy", KeyColumn: "account"},
			{Metric: "on-time-shipments", KeyColumn: "account"},
			{Metric: "first-contact-resolution", KeyColumn: "customer"},
		}},
	}}
	objs := []client.Object{
		&cxv1.DataSource{ObjectMeta: metav1.ObjectMeta{Name: "drivers", Namespace: ns},
			Spec: cxv1.DataSourceSpec{Type: cxv1.DataSourceSQLite, SQLite: &cxv1.SQLiteSource{Path: "drivers.db"}}},
		&cxv1.Team{ObjectMeta: metav1.ObjectMeta{Name: "customer-success", Namespace: ns}},
		driverMetric(ns, "on-time-shipments", "shipments", "on_time", "shipped_at", 85),
		driverMetric(ns, "first-contact-resolution", "tickets", "first_contact", "resolved_at", 75),
		driverMetric(ns, "invoice-accuracy", "invoices", "accurate", "sent_at", 85),
		outcome,
	}
	for _, o := range objs {
		if err := k8sClient.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	var task *cxv1.ImprovementTask
	var got *cxv1.Metric
	driverValues := map[string]*float64{}
	for day := 0; day <= 20 && task == nil; day++ {
		now := driverT0.Add(time.Duration(day) * 24 * time.Hour)
		for _, o := range objs[2:5] {
			m := o.(*cxv1.Metric)
			evaluateAt(t, m, now)
			driverValues[m.Name] = metricAt(t, m, "evaluated", func(*cxv1.Metric) bool { return true }).Status.Value
		}
		evaluateAt(t, outcome, now)
		time.Sleep(200 * time.Millisecond)
		got = metricAt(t, outcome, "drivers measured", func(m *cxv1.Metric) bool { return m.Status.Drivers != nil })
		var tasks cxv1.ImprovementTaskList
		if err := k8sClient.List(ctx, &tasks, client.InNamespace(ns)); err != nil {
			t.Fatal(err)
		}
		for i := range tasks.Items {
			if tasks.Items[i].Spec.Metric == outcome.Name {
				task = &tasks.Items[i]
			}
		}
	}
	if task == nil {
		t.Fatal("the fall of NPS opened no task within 20 days")
	}

	// The ranking, against Spearman computed from the rows over the
	// window of the evaluation that opened the task.
	end := got.Status.Drivers.WindowEnd.Time
	from := end.Add(-720 * time.Hour)
	nps := perAccount(t, "answers", "responded_at", "account", "score", from, end, func(v []float64) float64 {
		var promoters, detractors float64
		for _, s := range v {
			if s >= 9 {
				promoters++
			} else if s <= 6 {
				detractors++
			}
		}
		return 100 * (promoters - detractors) / float64(len(v))
	})
	share := func(v []float64) float64 {
		var sum float64
		for _, x := range v {
			sum += x
		}
		return 100 * sum / float64(len(v))
	}
	want := map[string]map[string]float64{
		"first-contact-resolution": perAccount(t, "tickets", "resolved_at", "customer", "first_contact", from, end, share),
		"on-time-shipments":        perAccount(t, "shipments", "shipped_at", "account", "on_time", from, end, share),
		"invoice-accuracy":         perAccount(t, "invoices", "sent_at", "account", "accurate", from, end, share),
	}
	as := got.Status.Drivers.Associations
	if len(as) != 3 || as[0].Metric != "first-contact-resolution" || as[1].Metric != "on-time-shipments" || as[2].Metric != "invoice-accuracy" {
		t.Fatalf("drivers ranked %+v", as)
	}
	for _, a := range as {
		rho := spearmanOf(nps, want[a.Metric])
		if a.Spearman == nil || math.Abs(*a.Spearman-rho) > 1e-9 || a.Segments != driverAccounts {
			t.Errorf("%s: Spearman %v over %d accounts, the rows give %.4f over %d", a.Metric, a.Spearman, a.Segments, rho, driverAccounts)
		}
		if a.LagIntervals == 0 || a.LagCorrelation == nil {
			t.Errorf("%s: no lagged correlation: %+v", a.Metric, a)
		}
		t.Logf("%s: Spearman %.3f [%.3f, %.3f], Pearson %.3f, lag %d r %.2f over %d", a.Metric, *a.Spearman, *a.SpearmanLower,
			*a.SpearmanUpper, *a.Pearson, a.Lag, *a.LagCorrelation, a.LagIntervals)
	}
	if s := *as[0].Spearman; s < 0.4 || s > 0.6 || !as[0].Supported {
		t.Errorf("the strong driver's Spearman is %.3f, planted about 0.5", s)
	}
	if s := *as[1].Spearman; s < 0.2 || s > 0.4 || !as[1].Supported {
		t.Errorf("the weak driver's Spearman is %.3f, planted about 0.3", s)
	}
	if as[2].Supported {
		t.Errorf("the non-driver is supported: %+v", as[2])
	}

	// The task, for the whole population, carries the two supported
	// drivers with their latest population values.
	if len(task.Spec.Drivers) != 2 {
		t.Fatalf("task drivers = %+v, want first-contact-resolution and on-time-shipments", task.Spec.Drivers)
	}
	for i, td := range task.Spec.Drivers {
		if td.Metric != as[i].Metric || td.Segment != "" || td.Value == nil || td.Segments != driverAccounts {
			t.Fatalf("task driver %d = %+v", i, td)
		}
		if v := driverValues[td.Metric]; v == nil || *td.Value != *v {
			t.Errorf("%s on the task = %v, its Metric's value %v", td.Metric, *td.Value, v)
		}
		if td.MissesTarget != (*td.Value < *td.Target) {
			t.Errorf("%s: missesTarget %v at %v against %v", td.Metric, td.MissesTarget, *td.Value, *td.Target)
		}
	}
	// Owners cannot rewrite the direction they were given.
	patch := client.MergeFrom(task.DeepCopy())
	task.Spec.Drivers = task.Spec.Drivers[:1]
	if err := k8sClient.Patch(ctx, task, patch); err == nil {
		t.Error("a patch dropped a task's driver")
	}
}

// perAccount reduces a table's values per account over [from, to).
func perAccount(t *testing.T, table, timeCol, keyCol, valueCol string, from, to time.Time, reduce func([]float64) float64) map[string]float64 {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(testDataRoot, "drivers.db")+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	values := map[string][]float64{}
	eachRow(t, db, fmt.Sprintf(`SELECT %s, %s, %s FROM %s`, timeCol, keyCol, valueCol, table), func(at time.Time, vals []any) {
		if !at.Before(from) && at.Before(to) {
			k := vals[0].(string)
			values[k] = append(values[k], float64(vals[1].(int64)))
		}
	})
	out := map[string]float64{}
	for k, v := range values {
		if len(v) >= 5 {
			out[k] = reduce(v)
		}
	}
	return out
}

// spearmanOf is Spearman's rank correlation of two per-account maps, over
// the accounts both have, ties ranked by their mean rank.
func spearmanOf(a, b map[string]float64) float64 {
	var keys []string
	for k := range a {
		if _, ok := b[k]; ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	rank := func(m map[string]float64) []float64 {
		order := slices.Clone(keys)
		slices.SortStableFunc(order, func(x, y string) int { return cmp.Compare(m[x], m[y]) })
		pos := map[string]float64{}
		for i := 0; i < len(order); {
			j := i
			for j+1 < len(order) && tied(m[order[j+1]], m[order[i]]) {
				j++
			}
			for k := i; k <= j; k++ {
				pos[order[k]] = float64(i+j)/2 + 1
			}
			i = j + 1
		}
		out := make([]float64, len(keys))
		for i, k := range keys {
			out[i] = pos[k]
		}
		return out
	}
	x, y := rank(a), rank(b)
	var mx, my float64
	for i := range x {
		mx += x[i]
		my += y[i]
	}
	mx /= float64(len(x))
	my /= float64(len(y))
	var sxy, sxx, syy float64
	for i := range x {
		sxy += (x[i] - mx) * (y[i] - my)
		sxx += (x[i] - mx) * (x[i] - mx)
		syy += (y[i] - my) * (y[i] - my)
	}
	return sxy / math.Sqrt(sxx*syy)
}

// tied reports values equal but for rounding: 24 of 30 and 8 of 10 are
// the same share.
func tied(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(a)) }
