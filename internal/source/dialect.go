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
}

var postgresDialect = dialect{
	name:        "postgres",
	placeholder: func(n int) string { return fmt.Sprintf("$%d", n) },
	timeArg:     func(t time.Time) any { return t.UTC() },
}

// sqliteTimeLayout is how SQLite sources store times: UTC text that sorts
// in time order.
const sqliteTimeLayout = "2006-01-02 15:04:05"

var sqliteDialect = dialect{
	name:        "sqlite",
	placeholder: func(int) string { return "?" },
	timeArg:     func(t time.Time) any { return t.UTC().Format(sqliteTimeLayout) },
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
	grp, over, sw, sw2, swx, swx2, min, max, snum, sden, snum2, sden2, snumden, rated string
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

// aggregate builds the pushed-down aggregation of a query: one row per
// segment and score (categorical), per segment and sketch bucket
// (quantile), or per segment (moments, ratios). Columns returned, in
// order: the segment columns, a group value (score or bucket, or NULL),
// a share-over flag, then n, Σw, Σw², Σw·x, Σw·x², min, max, Σw·num,
// Σw·den, Σw·num², Σw·den², Σw·num·den, and a rated flag.
func aggregate(d dialect, def measure.Definition, q Query, from, to time.Time) (*statement, error) {
	st := &statement{d: d}
	fam := def.Family()
	if fam == 0 || fam == measure.Derived {
		return nil, wrap(ErrBadQuery, "formula %q has no statistics of its own", def.Formula)
	}
	timeCol := q.Time
	if q.InteractionTime != "" {
		timeCol = q.InteractionTime
	}
	tcol, err := quote(timeCol)
	if err != nil {
		return nil, err
	}
	var segs []string
	for _, s := range q.Segments {
		c, err := quote(s)
		if err != nil {
			return nil, err
		}
		segs = append(segs, c)
	}
	weighted := q.Weight != ""
	weight := ""
	if weighted {
		w, err := quote(q.Weight)
		if err != nil {
			return nil, err
		}
		weight = "CAST(" + w + " AS DOUBLE PRECISION)"
	}
	// times weighs an expression: w·x, or x itself when unweighted.
	times := func(x string) string {
		if !weighted {
			return x
		}
		return weight + "*" + x
	}
	var rawValue, value, num, den string
	if fam == measure.RatioOfSums {
		n, err := quote(q.Numerator)
		if err != nil {
			return nil, err
		}
		m, err := quote(q.Denominator)
		if err != nil {
			return nil, err
		}
		num, den = "CAST("+n+" AS DOUBLE PRECISION)", "CAST("+m+" AS DOUBLE PRECISION)"
	} else {
		v, err := quote(q.Value)
		if err != nil {
			return nil, err
		}
		rawValue, value = v, "CAST("+v+" AS DOUBLE PRECISION)"
	}

	var from_ string
	switch {
	case q.SQL != "" && q.Table != "":
		return nil, wrap(ErrBadQuery, "set either a table or a SQL query, not both")
	case q.SQL != "":
		if strings.Contains(q.SQL, ";") {
			return nil, wrap(ErrBadQuery, "the SQL query must be one SELECT statement without ';'")
		}
		from_ = "(" + q.SQL + ") AS src"
	default:
		t, err := quote(q.Table)
		if err != nil {
			return nil, err
		}
		from_ = t + " AS src"
	}

	// Only the aggregates the family needs are computed; the others are
	// NULL, so the database does no work a hand-written query would not.
	// Unweighted, Σw and Σw² equal the count and are not summed at all.
	const none = "NULL"
	cols := aggregateColumns{grp: none, over: none, sw: none, sw2: none, swx: none, swx2: none, min: none, max: none,
		snum: none, sden: none, snum2: none, sden2: none, snumden: none, rated: none}
	if weighted {
		cols.sw, cols.sw2 = "SUM("+weight+")", "SUM("+weight+"*"+weight+")"
	}
	groupBy := append([]string{}, segs...)
	switch fam {
	case measure.Categorical:
		// One row per score: the score itself is the group, and a NULL
		// score is the unrated group.
		cols.grp = rawValue
		groupBy = append(groupBy, "grp")
	case measure.MomentsFamily, measure.Gauge:
		cols.swx, cols.swx2 = "SUM("+times(value)+")", "SUM("+times(value+"*"+value)+")"
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
		cols.snum, cols.sden = "SUM("+times(num)+")", "SUM("+times(den)+")"
		cols.snum2, cols.sden2 = "SUM("+times(num+"*"+num)+")", "SUM("+times(den+"*"+den)+")"
		cols.snumden = "SUM(" + times(num+"*"+den) + ")"
		cols.rated = "CASE WHEN " + num + " IS NOT NULL AND " + den + " IS NOT NULL THEN 1 ELSE 0 END"
		groupBy = append(groupBy, "rated")
	}
	sel := append(append([]string{}, segs...),
		cols.grp+" AS grp", cols.over+" AS over_flag", "COUNT(*)", cols.sw, cols.sw2, cols.swx, cols.swx2, cols.min, cols.max,
		cols.snum, cols.sden, cols.snum2, cols.sden2, cols.snumden, cols.rated+" AS rated")
	st.text.WriteString("SELECT " + strings.Join(sel, ", ") + " FROM " + from_)
	st.text.WriteString(" WHERE " + tcol + " >= " + st.bind(d.timeArg(from)) + " AND " + tcol + " < " + st.bind(d.timeArg(to)))
	for _, f := range q.Filters {
		c, err := quote(f.Column)
		if err != nil {
			return nil, err
		}
		cond, err := filterSQL(st, c, f)
		if err != nil {
			return nil, err
		}
		st.text.WriteString(" AND " + cond)
	}
	if len(groupBy) > 0 {
		st.text.WriteString(" GROUP BY " + strings.Join(groupBy, ", "))
	}
	return st, nil
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
