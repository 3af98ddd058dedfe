package source

import (
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/cxloop/cxloop/internal/measure"
)

// identifier is the strict pattern of a column or table name: letters,
// digits and underscores, optionally schema-qualified.
var identifier = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,62}(\.[A-Za-z_][A-Za-z0-9_]{0,62})?$`)

// dialect is what differs between SQL engines; the builder is shared.
type dialect struct {
	name string
	// placeholder returns the n-th (1-based) bind placeholder.
	placeholder func(n int) string
	// timeArg converts a bound time to what the engine compares correctly.
	timeArg func(time.Time) any
	// numbered placeholders name their argument, so a statement may bind
	// values in any order and use one several times: a history's bucket
	// expression appears in the select list and again in GROUP BY.
	numbered bool
	// bucketTime is the time column as a history's bucket expression
	// compares it with its bounds.
	bucketTime func(column string) string
}

var postgresDialect = dialect{
	name:        "postgres",
	placeholder: func(n int) string { return fmt.Sprintf("$%d", n) },
	timeArg:     func(t time.Time) any { return t.UTC() },
	numbered:    true,
	bucketTime:  func(c string) string { return c },
}

// sqliteTimeLayout is how SQLite sources store times: UTC text that sorts
// in time order.
const sqliteTimeLayout = "2006-01-02 15:04:05"

var sqliteDialect = dialect{
	name:        "sqlite",
	placeholder: func(int) string { return "?" },
	timeArg:     func(t time.Time) any { return t.UTC().Format(sqliteTimeLayout) },
	// A column declared TIMESTAMP or DATETIME has NUMERIC affinity, so
	// SQLite would try to read the bound text as a number at every one
	// of a row's log₂ n comparisons. Unary + drops the column's affinity
	// and changes nothing else: the times are text, or numbers that sort
	// before any text, either way, and the WHERE clause that the index
	// serves keeps the bare column.
	bucketTime: func(c string) string { return "+" + c },
}

// quote validates and quotes an identifier.
func quote(id string) (string, error) {
	if !identifier.MatchString(id) {
		return "", wrap(ErrBadQuery, "%q is not a valid identifier", id)
	}
	parts := strings.Split(id, ".")
	for i, p := range parts {
		parts[i] = `"` + p + `"`
	}
	return strings.Join(parts, "."), nil
}

// aggregateColumns are the expressions of the aggregation's fixed columns.
type aggregateColumns struct {
	grp, over, sw, sw2, swx, swx2, sw2x, sw2x2, min, max, snum, sden, snum2, sden2, snumden, sw2num2, sw2den2, sw2numden, rated string
}

// statement is a SQL text with its bound arguments.
type statement struct {
	d    dialect
	text strings.Builder
	args []any
}

func (s *statement) bind(v any) string {
	s.args = append(s.args, v)
	return s.d.placeholder(len(s.args))
}

// queryParts are a query's validated and quoted pieces, shared by the
// aggregation and the cluster sums.
type queryParts struct {
	tcol     string
	segs     []string
	weighted bool
	// weight is the weight as a double, or "" unweighted.
	weight string
	// rawValue is the value column as stored, value the same as a double;
	// num and den a ratio's columns as doubles.
	rawValue, value, num, den string
	from                      string
}

// times weighs an expression: w·x, or x itself when unweighted.
func (p *queryParts) times(x string) string {
	if !p.weighted {
		return x
	}
	return p.weight + "*" + x
}

// parts validates and quotes the identifiers of a query.
func parts(def measure.Definition, q Query) (*queryParts, error) {
	fam := def.Family()
	if fam == 0 || fam == measure.Derived {
		return nil, wrap(ErrBadQuery, "formula %q has no statistics of its own", def.Formula)
	}
	p := &queryParts{}
	timeCol := q.Time
	if q.InteractionTime != "" {
		timeCol = q.InteractionTime
	}
	var err error
	if p.tcol, err = quote(timeCol); err != nil {
		return nil, err
	}
	for _, s := range q.Segments {
		c, err := quote(s)
		if err != nil {
			return nil, err
		}
		p.segs = append(p.segs, c)
	}
	p.weighted = q.Weight != ""
	if p.weighted {
		w, err := quote(q.Weight)
		if err != nil {
			return nil, err
		}
		p.weight = "CAST(" + w + " AS DOUBLE PRECISION)"
	}
	if fam == measure.RatioOfSums {
		n, err := quote(q.Numerator)
		if err != nil {
			return nil, err
		}
		m, err := quote(q.Denominator)
		if err != nil {
			return nil, err
		}
		p.num, p.den = "CAST("+n+" AS DOUBLE PRECISION)", "CAST("+m+" AS DOUBLE PRECISION)"
	} else {
		v, err := quote(q.Value)
		if err != nil {
			return nil, err
		}
		p.rawValue, p.value = v, "CAST("+v+" AS DOUBLE PRECISION)"
	}
	switch {
	case q.SQL != "" && q.Table != "":
		return nil, wrap(ErrBadQuery, "set either a table or a SQL query, not both")
	case q.SQL != "":
		if strings.Contains(q.SQL, ";") {
			return nil, wrap(ErrBadQuery, "the SQL query must be one SELECT statement without ';'")
		}
		p.from = "(" + q.SQL + ") AS src"
	default:
		t, err := quote(q.Table)
		if err != nil {
			return nil, err
		}
		p.from = t + " AS src"
	}
	return p, nil
}

// span is the rows a statement reads: the units of one window [from, to),
// or those of a history's buckets [bounds[i], bounds[i+1]), which the
// statement then groups by (the bucket's index is its first group column).
type span struct {
	bounds   []time.Time
	bucketed bool
	// offset is added to a history's bucket indices: the first read of a
	// statement that answers several histories (QueryHistories) numbers
	// its buckets from 0, the next from where it stopped.
	offset int
}

// windowSpan is the span of one window.
func windowSpan(from, to time.Time) span { return span{bounds: []time.Time{from, to}} }

func (s span) from() time.Time { return s.bounds[0] }
func (s span) to() time.Time   { return s.bounds[len(s.bounds)-1] }

// bucketBy makes a history's bucket the first group column of the
// statement: its index in sp, computed in the database.
func (p *queryParts) bucketBy(st *statement, sp span) {
	if !sp.bucketed {
		return
	}
	if !st.d.numbered {
		// The expression's placeholders are bound once and written twice.
		panic("source: a bucketed statement needs numbered placeholders")
	}
	p.segs = append([]string{bucketExpr(st, p.tcol, sp.bounds, sp.offset)}, p.segs...)
}

// where writes the window on the time column and the filters, binding
// every value.
func (p *queryParts) where(st *statement, q Query, from, to time.Time) error {
	st.text.WriteString(" WHERE " + p.tcol + " >= " + st.bind(st.d.timeArg(from)) + " AND " + p.tcol + " < " + st.bind(st.d.timeArg(to)))
	for _, f := range q.Filters {
		c, err := quote(f.Column)
		if err != nil {
			return err
		}
		cond, err := filterSQL(st, c, f)
		if err != nil {
			return err
		}
		st.text.WriteString(" AND " + cond)
	}
	return nil
}

// aggregate builds the pushed-down aggregation of a query: one row per
// segment and score (categorical), per segment and sketch bucket
// (quantile), or per segment (moments, ratios). Columns returned, in
// order: the segment columns, a group value (score or bucket, or NULL),
// a share-over flag, then n, Σw, Σw², Σw·x, Σw·x², Σw²·x, Σw²·x², min,
// max, Σw·num, Σw·den, Σw·num², Σw·den², Σw·num·den, Σw²·num², Σw²·den²,
// Σw²·num·den, and a rated flag.
func aggregate(d dialect, def measure.Definition, q Query, from, to time.Time) (*statement, error) {
	return aggregateOver(d, def, q, windowSpan(from, to))
}

// aggregateOver is aggregate over a span: a history's statement has the
// bucket's index as its first column, before the segment columns.
func aggregateOver(d dialect, def measure.Definition, q Query, sp span) (*statement, error) {
	st := &statement{d: d}
	return st, aggregateInto(st, def, q, sp)
}

// aggregateInto writes aggregateOver's SELECT at the end of st, binding
// its values after st's: the parts of a UNION ALL share one statement.
func aggregateInto(st *statement, def measure.Definition, q Query, sp span) error {
	fam := def.Family()
	p, err := parts(def, q)
	if err != nil {
		return err
	}
	p.bucketBy(st, sp)
	value, num, den := p.value, p.num, p.den
	// times2 weighs an expression by w²: Σw²·x is Σx unweighted.
	times2 := func(x string) string {
		if !p.weighted {
			return x
		}
		return p.weight + "*" + p.weight + "*" + x
	}

	// Only the aggregates the family needs are computed; the others are
	// NULL, so the database does no work a hand-written query would not.
	// Unweighted, Σw and Σw² equal the count and are not summed at all,
	// and the w²-weighted sums equal the w-weighted ones.
	const none = "NULL"
	cols := aggregateColumns{grp: none, over: none, sw: none, sw2: none, swx: none, swx2: none, sw2x: none, sw2x2: none, min: none, max: none,
		snum: none, sden: none, snum2: none, sden2: none, snumden: none, sw2num2: none, sw2den2: none, sw2numden: none, rated: none}
	if p.weighted {
		cols.sw, cols.sw2 = "SUM("+p.weight+")", "SUM("+p.weight+"*"+p.weight+")"
	}
	groupBy := append([]string{}, p.segs...)
	switch fam {
	case measure.Categorical:
		// One row per score: the score itself is the group, and a NULL
		// score is the unrated group.
		cols.grp = p.rawValue
		groupBy = append(groupBy, "grp")
	case measure.MomentsFamily, measure.Gauge:
		cols.swx, cols.swx2 = "SUM("+p.times(value)+")", "SUM("+p.times(value+"*"+value)+")"
		if p.weighted {
			cols.sw2x, cols.sw2x2 = "SUM("+times2(value)+")", "SUM("+times2(value+"*"+value)+")"
		}
		cols.min, cols.max = "MIN("+value+")", "MAX("+value+")"
		cols.rated = "CASE WHEN " + value + " IS NOT NULL THEN 1 ELSE 0 END"
		groupBy = append(groupBy, "rated")
	case measure.Quantile:
		cols.grp = "CASE WHEN " + value + " > 0 THEN " + measure.SketchIndexSQL(value) + " END"
		cols.rated = "CASE WHEN " + value + " IS NOT NULL THEN 1 ELSE 0 END"
		groupBy = append(groupBy, "grp", "rated")
		if def.ShareOver != nil {
			cols.over = "CASE WHEN " + value + " > " + st.bind(*def.ShareOver) + " THEN 1 ELSE 0 END"
			groupBy = append(groupBy, "over_flag")
		}
	case measure.RatioOfSums:
		cols.snum, cols.sden = "SUM("+p.times(num)+")", "SUM("+p.times(den)+")"
		cols.snum2, cols.sden2 = "SUM("+p.times(num+"*"+num)+")", "SUM("+p.times(den+"*"+den)+")"
		cols.snumden = "SUM(" + p.times(num+"*"+den) + ")"
		if p.weighted {
			cols.sw2num2, cols.sw2den2 = "SUM("+times2(num+"*"+num)+")", "SUM("+times2(den+"*"+den)+")"
			cols.sw2numden = "SUM(" + times2(num+"*"+den) + ")"
		}
		cols.rated = "CASE WHEN " + num + " IS NOT NULL AND " + den + " IS NOT NULL THEN 1 ELSE 0 END"
		groupBy = append(groupBy, "rated")
	}
	sel := append(append([]string{}, p.segs...),
		cols.grp+" AS grp", cols.over+" AS over_flag", "COUNT(*)", cols.sw, cols.sw2, cols.swx, cols.swx2, cols.sw2x, cols.sw2x2, cols.min, cols.max,
		cols.snum, cols.sden, cols.snum2, cols.sden2, cols.snumden, cols.sw2num2, cols.sw2den2, cols.sw2numden, cols.rated+" AS rated")
	st.text.WriteString("SELECT " + strings.Join(sel, ", ") + " FROM " + p.from)
	if err := p.where(st, q, sp.from(), sp.to()); err != nil {
		return err
	}
	if len(groupBy) > 0 {
		st.text.WriteString(" GROUP BY " + strings.Join(groupBy, ", "))
	}
	return nil
}

func filterSQL(st *statement, col string, f Filter) (string, error) {
	one := func(op string) (string, error) {
		if len(f.Values) != 1 {
			return "", wrap(ErrBadQuery, "filter on %s: %s takes exactly one value", f.Column, f.Operator)
		}
		return col + " " + op + " " + st.bind(f.Values[0]), nil
	}
	switch f.Operator {
	case Equals:
		return one("=")
	case NotEquals:
		return one("<>")
	case LessThan:
		return one("<")
	case GreaterThan:
		return one(">")
	case In, NotIn:
		if len(f.Values) == 0 {
			return "", wrap(ErrBadQuery, "filter on %s: %s needs values", f.Column, f.Operator)
		}
		ph := make([]string, len(f.Values))
		for i, v := range f.Values {
			ph[i] = st.bind(v)
		}
		op := " IN "
		if f.Operator == NotIn {
			op = " NOT IN "
		}
		return col + op + "(" + strings.Join(ph, ", ") + ")", nil
	}
	return "", wrap(ErrBadQuery, "filter on %s: unknown operator %q", f.Column, f.Operator)
}
