package source

import (
	"context"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/cxloop/cxloop/internal/measure"
)

// RecordsTable is the table name a Metric gives for an in-process source
// (CSV, HTTP JSON), whose records are the only table it has.
const RecordsTable = "records"

// field is one field of a record as text: a CSV cell, a JSON string,
// number (its literal text) or boolean. Present is false for a missing
// field, an empty CSV cell and JSON null, which read as SQL's NULL does.
type field struct {
	text    string
	present bool
}

// recordPlan is a Query compiled for sources that aggregate in-process:
// it folds one record at a time, so memory stays flat however many records
// stream past, and it applies the same rules as the SQL builder (window on
// the time column, filters, NULL as unrated, segments as text).
//
// The plan reads the fields it names (names, each once); a source
// resolves them once to its columns or paths and hands each record over
// as those fields in that order, so nothing is looked up by name per
// record. A field's text may be a view of the source's buffer, valid only
// while the record is folded: the plan copies what it keeps (segment and
// cluster values).
//
// Records are counted in the intervals [bounds[i], bounds[i+1]), one
// bucket each (history_records.go): a Query is a history of one interval.
type recordPlan struct {
	def     measure.Definition
	q       Query
	fam     measure.Family
	timeCol string
	filters []compiledFilter
	// names are the fields read; the slots below index them, -1 for a
	// role the query does not map.
	names                                  []string
	time, value, weight, num, den, cluster int
	segments                               []int
	recordBuckets
}

type compiledFilter struct {
	Filter
	slot    int
	numbers []float64 // the values as numbers, when all of them are
}

// planRecords checks that q can be answered from records and prepares it
// for the window [from, to).
func planRecords(def measure.Definition, q Query, from, to time.Time, statement string) (*recordPlan, error) {
	return planHistory(def, q, []time.Time{from, to}, statement)
}

// planHistory prepares q for the intervals between consecutive bounds,
// which increase strictly.
func planHistory(def measure.Definition, q Query, bounds []time.Time, statement string) (*recordPlan, error) {
	fam := def.Family()
	if fam == 0 || fam == measure.Derived {
		return nil, wrap(ErrBadQuery, "formula %q has no statistics of its own", def.Formula)
	}
	if fam == measure.Gauge {
		return nil, wrap(ErrBadQuery, "formula %q reads a gauge, which only Prometheus sources have", def.Formula)
	}
	switch {
	case q.SQL != "" || q.PromQL != "":
		return nil, wrap(ErrBadQuery, "this source reads records: map their fields with table %q and columns, not SQL or PromQL", RecordsTable)
	case q.Table != "" && q.Table != RecordsTable:
		return nil, wrap(ErrBadQuery, "this source has one table, %q, not %q", RecordsTable, q.Table)
	}
	p := &recordPlan{def: def, q: q, fam: fam, timeCol: q.Time}
	if q.InteractionTime != "" {
		p.timeCol = q.InteractionTime
	}
	if p.timeCol == "" {
		return nil, wrap(ErrBadQuery, "the time field is required")
	}
	if fam == measure.RatioOfSums {
		if q.Numerator == "" || q.Denominator == "" {
			return nil, wrap(ErrBadQuery, "formula %q needs numerator and denominator fields", def.Formula)
		}
	} else if q.Value == "" {
		return nil, wrap(ErrBadQuery, "formula %q needs a value field", def.Formula)
	}
	for _, f := range q.Filters {
		cf := compiledFilter{Filter: f}
		switch f.Operator {
		case Equals, NotEquals, LessThan, GreaterThan:
			if len(f.Values) != 1 {
				return nil, wrap(ErrBadQuery, "filter on %s: %s takes exactly one value", f.Column, f.Operator)
			}
		case In, NotIn:
			if len(f.Values) == 0 {
				return nil, wrap(ErrBadQuery, "filter on %s: %s needs values", f.Column, f.Operator)
			}
		default:
			return nil, wrap(ErrBadQuery, "filter on %s: unknown operator %q", f.Column, f.Operator)
		}
		for _, v := range f.Values {
			x, ok := parseNumber(v)
			if !ok {
				cf.numbers = nil
				break
			}
			cf.numbers = append(cf.numbers, x)
		}
		p.filters = append(p.filters, cf)
	}
	p.slots()
	if err := p.recordBuckets.init(p, bounds, statement); err != nil {
		return nil, err
	}
	return p, nil
}

// slots gives every field the plan reads its place in a record.
func (p *recordPlan) slots() {
	at := map[string]int{}
	slot := func(name string) int {
		if name == "" {
			return -1
		}
		i, ok := at[name]
		if !ok {
			i = len(p.names)
			at[name] = i
			p.names = append(p.names, name)
		}
		return i
	}
	p.time = slot(p.timeCol)
	p.value, p.weight = -1, slot(p.q.Weight)
	p.num, p.den = -1, -1
	if p.fam == measure.RatioOfSums {
		p.num, p.den = slot(p.q.Numerator), slot(p.q.Denominator)
	} else {
		p.value = slot(p.q.Value)
	}
	for i := range p.filters {
		p.filters[i].slot = slot(p.filters[i].Column)
	}
	for _, c := range p.q.Segments {
		p.segments = append(p.segments, slot(c))
	}
	if clustered(p.def, p.q) {
		p.cluster = slot(p.q.Cluster)
	} else {
		p.cluster = -1
	}
}

// fold counts one record, its fields in the order of p.names. A time
// that cannot be read is an error, since nothing can say which window the
// record belongs to; a value that cannot be read is counted as rejected,
// never dropped.
func (p *recordPlan) fold(rec []field, where func() string) error {
	tf := rec[p.time]
	if !tf.present {
		return nil // as SQL's NULL: in no window
	}
	at, err := parseTime(tf.text)
	if err != nil {
		return wrap(ErrBadQuery, "%s: field %s: %v", where(), p.timeCol, err)
	}
	i := p.interval(at)
	if i < 0 {
		return nil
	}
	for j := range p.filters {
		if !p.filters[j].keeps(rec[p.filters[j].slot]) {
			return nil
		}
	}
	b, err := p.bucket(i)
	if err != nil {
		return err
	}
	targets := [2]*measure.Stats{b.res.Overall}
	if len(p.segments) > 0 {
		if targets[1], err = p.segmentOf(i, b, rec); err != nil {
			return err
		}
	}
	row, ok := p.row(rec)
	if ok && b.clusters != nil {
		seg := targets[0]
		if targets[1] != nil {
			seg = targets[1]
		}
		value := ""
		if p.cluster >= 0 {
			value = rec[p.cluster].text
		}
		c, err := b.clusters.of(seg, value)
		if err != nil {
			return err
		}
		p.def.Fold(c, row)
	}
	for _, s := range targets {
		if s == nil {
			continue
		}
		if !ok {
			s.Rejected.Add(1)
			continue
		}
		p.def.Fold(s, row)
	}
	return nil
}

// row reads a record's value, weight, numerator and denominator; ok is
// false when a present field is not a number.
func (p *recordPlan) row(rec []field) (measure.Row, bool) {
	r := measure.Row{Weight: 1}
	if p.weight >= 0 {
		wf := rec[p.weight]
		w, ok := parseNumber(wf.text)
		if !wf.present || !ok {
			return r, false
		}
		r.Weight = w
		if w == 0 {
			// measure.Fold reads a zero weight as "unweighted"; in the data it
			// means a unit that should not count, so it is rejected rather
			// than counted with weight 1.
			return r, false
		}
	}
	if p.fam == measure.RatioOfSums {
		nf, df := rec[p.num], rec[p.den]
		if !nf.present || !df.present {
			return r, true // unrated
		}
		n, ok1 := parseNumber(nf.text)
		d, ok2 := parseNumber(df.text)
		if !ok1 || !ok2 {
			return r, false
		}
		r.Num, r.Den, r.Valid = n, d, true
		return r, true
	}
	vf := rec[p.value]
	if !vf.present {
		return r, true // unrated
	}
	v, ok := parseNumber(vf.text)
	if !ok {
		return r, false
	}
	r.Value, r.Valid = v, true
	return r, true
}

// keeps applies the filter the way SQL does: a missing field compares
// false under every operator; numbers compare as numbers when the field
// and every value are numbers, text otherwise.
func (f *compiledFilter) keeps(v field) bool {
	if !v.present {
		return false
	}
	x, numeric := 0.0, f.numbers != nil
	if numeric {
		x, numeric = parseNumber(v.text)
	}
	cmp := func(i int) int {
		if numeric {
			switch {
			case x < f.numbers[i]:
				return -1
			case x > f.numbers[i]:
				return 1
			}
			return 0
		}
		return strings.Compare(v.text, f.Values[i])
	}
	switch f.Operator {
	case Equals:
		return cmp(0) == 0
	case NotEquals:
		return cmp(0) != 0
	case LessThan:
		return cmp(0) < 0
	case GreaterThan:
		return cmp(0) > 0
	case In, NotIn:
		found := false
		for i := range f.Values {
			if cmp(i) == 0 {
				found = true
				break
			}
		}
		return found == (f.Operator == In)
	}
	return false
}

// parseNumber reads a decimal number; JSON booleans read as 1 and 0 so a
// true/false outcome can be a rate's value.
func parseNumber(s string) (float64, bool) {
	switch s {
	case "true":
		return 1, true
	case "false":
		return 0, true
	}
	x, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || math.IsNaN(x) || math.IsInf(x, 0) {
		return 0, false
	}
	return x, true
}

// checkEvery is how many records pass between looks at the context, so a
// long file is cancelled at the timeout without a syscall per record.
const checkEvery = 4096

func cancelled(ctx context.Context, n int) error {
	if n%checkEvery != 0 {
		return nil
	}
	return ctx.Err()
}
