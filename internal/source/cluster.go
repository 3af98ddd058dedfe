package source

import (
	"database/sql"
	"strconv"
	"strings"
	"time"

	"github.com/cxloop/cxloop/internal/measure"
)

// MaxClusters bounds the clusters an in-process source (CSV, HTTP JSON)
// holds partial sums for while it reads one query's records: each
// distinct cluster value within a segment takes a small Stats until the
// range is read.
const MaxClusters = 1_000_000

// clustered reports whether q's statistics carry cluster sums: a cluster
// column is named and the formula's value has a sampling variance, that
// is it averages units (measure.HasUnits: categorical formulas, means, a
// percentile's share over a threshold) or is a ratio of sums. Totals,
// gauges and plain percentiles have none, and the column is ignored.
func clustered(def measure.Definition, q Query) bool {
	if q.Cluster == "" {
		return false
	}
	return measure.HasUnits(def) == nil || def.Family() == measure.RatioOfSums
}

// clusterAggregate builds the cluster sums of a query, computed in the
// database: the rows are summed per segment and cluster (and score, for
// scores), and those sums aggregated again, so one row per segment (and
// pair of scores) comes back. Columns, in order: the segment columns, two
// scores (NULL for the unrated units, or no scores), three sums and a
// cluster count:
//
//   - scores (categorical, a percentile's share over): Σ_c W_cs·W_ct per
//     ordered pair of scores, then one row per segment with the count of
//     clusters that have a rated unit;
//   - moments: Σ_c S_c², Σ_c S_c·W_c, Σ_c W_c² and the count;
//   - ratios: Σ_c Num_c², Σ_c Den_c², Σ_c Num_c·Den_c and the count.
//
// Segment and cluster values are compared NULL-safely, so rows without a
// cluster value form one cluster, as in-process sources count them.
func clusterAggregate(d dialect, def measure.Definition, q Query, from, to time.Time) (*statement, error) {
	return clusterAggregateOver(d, def, q, windowSpan(from, to))
}

// clusterAggregateOver is clusterAggregate over a span: a history's
// clusters are taken within each bucket, whose index is the first column.
func clusterAggregateOver(d dialect, def measure.Definition, q Query, sp span) (*statement, error) {
	p, err := parts(def, q)
	if err != nil {
		return nil, err
	}
	cl, err := quote(q.Cluster)
	if err != nil {
		return nil, err
	}
	st := &statement{d: d}
	p.bucketBy(st, sp)
	from, to := sp.from(), sp.to()
	w := "1.0"
	if p.weighted {
		w = p.weight
	}
	segAs := make([]string, len(p.segs))
	segNames := make([]string, len(p.segs))
	for i, s := range p.segs {
		segNames[i] = "cx_s" + strconv.Itoa(i)
		segAs[i] = s + " AS " + segNames[i]
	}
	prefixed := func(alias string) []string {
		out := make([]string, len(segNames))
		for i, s := range segNames {
			out[i] = alias + "." + s
		}
		return out
	}
	const nullF, nullN = "CAST(NULL AS DOUBLE PRECISION)", "CAST(NULL AS BIGINT)"
	fam := def.Family()
	if fam == measure.Categorical || fam == measure.Quantile {
		grp, cond := "CAST("+p.rawValue+" AS DOUBLE PRECISION)", p.rawValue+" IS NOT NULL"
		if def.Unrated == measure.UnratedCountAsNegative && fam == measure.Categorical {
			cond = ""
		}
		if fam == measure.Quantile {
			grp = "CASE WHEN " + p.value + " > " + st.bind(*def.ShareOver) + " THEN 1.0 ELSE 0.0 END"
			cond = p.value + " IS NOT NULL"
		}
		st.text.WriteString("WITH cx_rows AS (SELECT " + strings.Join(append(segAs, cl+" AS cx_c", grp+" AS cx_g", w+" AS cx_w"), ", ") + " FROM " + p.from)
		if err := p.where(st, q, from, to); err != nil {
			return nil, err
		}
		if cond != "" {
			st.text.WriteString(" AND " + cond)
		}
		cells := strings.Join(append(append([]string{}, segNames...), "cx_c", "cx_g"), ", ")
		st.text.WriteString("), cx_cells AS (SELECT " + cells + ", SUM(cx_w) AS cx_w FROM cx_rows GROUP BY " + cells + ")")
		on := []string{nullSafeEq("a.cx_c", "b.cx_c")}
		for _, s := range segNames {
			on = append(on, nullSafeEq("a."+s, "b."+s))
		}
		pairGroup := strings.Join(append(prefixed("a"), "a.cx_g", "b.cx_g"), ", ")
		st.text.WriteString(" SELECT " + pairGroup + ", SUM(a.cx_w*b.cx_w), " + nullF + ", " + nullF + ", " + nullN +
			" FROM cx_cells a JOIN cx_cells b ON " + strings.Join(on, " AND ") + " GROUP BY " + pairGroup)
		valid := "cx_g IS NOT NULL"
		if fam == measure.Categorical {
			lo, hi := scaleOf(def)
			valid = "cx_g >= " + st.bind(float64(lo)) + " AND cx_g <= " + st.bind(float64(hi)) + " AND cx_g = ROUND(cx_g)"
		}
		segList := strings.Join(segNames, ", ")
		inner := strings.Join(append(append([]string{}, segNames...), "cx_c"), ", ")
		st.text.WriteString(" UNION ALL SELECT " + strings.Join(append(append([]string{}, segNames...), nullF, nullF, nullF, nullF, nullF, "COUNT(*)"), ", ") +
			" FROM (SELECT " + inner + " FROM cx_cells WHERE " + valid + " GROUP BY " + inner + ") AS cx_k")
		if segList != "" {
			st.text.WriteString(" GROUP BY " + segList)
		}
		return st, nil
	}
	var a, b, cond string
	switch fam {
	case measure.MomentsFamily:
		a, b, cond = p.times(p.value), w, p.value+" IS NOT NULL"
	case measure.RatioOfSums:
		a, b, cond = p.times(p.num), p.times(p.den), p.num+" IS NOT NULL AND "+p.den+" IS NOT NULL"
	default:
		return nil, wrap(ErrBadQuery, "formula %q has no cluster sums", def.Formula)
	}
	// Per cluster a = S_c and b = W_c (moments) or a = Num_c and b = Den_c
	// (ratios); then Σa², Σa·b, Σb² and the clusters.
	st.text.WriteString("SELECT " + strings.Join(append(append([]string{}, segNames...), nullF, nullF, "SUM(cx_a*cx_a)", "SUM(cx_a*cx_b)", "SUM(cx_b*cx_b)", "COUNT(*)"), ", ") +
		" FROM (SELECT " + strings.Join(append(segAs, "SUM("+a+") AS cx_a", "SUM("+b+") AS cx_b"), ", ") + " FROM " + p.from)
	if err := p.where(st, q, from, to); err != nil {
		return nil, err
	}
	st.text.WriteString(" AND " + cond + " GROUP BY " + strings.Join(append(append([]string{}, p.segs...), cl), ", ") + ") AS cx_k")
	if len(segNames) > 0 {
		st.text.WriteString(" GROUP BY " + strings.Join(segNames, ", "))
	}
	return st, nil
}

func nullSafeEq(a, b string) string {
	return "(" + a + " = " + b + " OR (" + a + " IS NULL AND " + b + " IS NULL))"
}

// scanClusters adds the rows of clusterAggregate to the result's
// statistics: each segment's, and the whole population's as their sum.
func scanClusters(rows *sql.Rows, def measure.Definition, q Query, k *resultSink) error {
	nseg := len(q.Segments)
	segVals := make([]sql.NullString, nseg)
	// values is refilled for every row; k.segment keeps a copy per segment.
	values := make(map[string]string, nseg)
	var ga, gb, v1, v2, v3 sql.NullFloat64
	var n sql.NullInt64
	var bucket int64
	dest := make([]any, 0, nseg+7)
	if k.bucketed() {
		dest = append(dest, &bucket)
	}
	for i := range segVals {
		dest = append(dest, &segVals[i])
	}
	dest = append(dest, &ga, &gb, &v1, &v2, &v3, &n)
	fam := def.Family()
	lo, hi := scaleOf(def)
	if fam == measure.Quantile {
		lo, hi = 0, 1
	}
	score := func(g sql.NullFloat64) (int64, bool) {
		if !g.Valid {
			return measure.UnratedScore, fam == measure.Categorical && def.Unrated == measure.UnratedCountAsNegative
		}
		v := int64(g.Float64)
		return v, float64(v) == g.Float64 && v >= lo && v <= hi
	}
	k.each(func(res *Result) {
		res.Overall.MarkClustered()
		for _, s := range res.Segments {
			s.Stats.MarkClustered()
		}
	})
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return wrap(ErrBadQuery, "scan cluster sums: %v", err)
		}
		res, err := k.result(bucket, "the cluster sums")
		if err != nil {
			return err
		}
		res.Overall.MarkClustered()
		var add measure.Clusters
		switch {
		case n.Valid:
			add = measure.Clusters{G: n.Int64}
			if fam == measure.MomentsFamily {
				add.SumSS, add.SumSW, add.SumWW = v1.Float64, v2.Float64, v3.Float64
			} else if fam == measure.RatioOfSums {
				add.SumNumNum, add.SumNumDen, add.SumDenDen = v1.Float64, v2.Float64, v3.Float64
			}
		default:
			a, ok1 := score(ga)
			b, ok2 := score(gb)
			// Each unordered pair comes back twice, once per order.
			if !ok1 || !ok2 || a > b || !v1.Valid {
				continue
			}
			add.AddPair(a, b, v1.Float64)
		}
		res.Overall.Clusters.Merge(&add)
		if nseg > 0 {
			for i, c := range q.Segments {
				values[c] = segVals[i].String
			}
			seg, err := k.segment(res, values, q)
			if err != nil {
				return err
			}
			s := seg.Stats
			s.MarkClustered()
			s.Clusters.Merge(&add)
		}
	}
	return nil
}
