package source

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"net"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/cxloop/cxloop/internal/measure"
)

// sqlSource is a SQL database read through database/sql with one shared
// builder; the dialect holds the differences.
type sqlSource struct {
	db      *sql.DB
	dialect dialect
	timeout time.Duration
	// readOnlyTx opens each query in a read-only transaction with a
	// statement timeout (PostgreSQL); SQLite connections are read-only.
	readOnlyTx bool
}

// Query runs the pushed-down aggregation.
func (s *sqlSource) Query(ctx context.Context, def measure.Definition, q Query, from, to time.Time) (*Result, error) {
	st, err := aggregate(s.dialect, def, q, from, to)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	res := newResult(st.text.String())
	queries := []query{{st, func(rows *sql.Rows) error { return scanAggregate(rows, def, q, &resultSink{one: res}) }}}
	if clustered(def, q) {
		cst, err := clusterAggregate(s.dialect, def, q, from, to)
		if err != nil {
			return nil, err
		}
		res.Statement += ";\n" + cst.text.String()
		queries = append(queries, query{cst, func(rows *sql.Rows) error { return scanClusters(rows, def, q, &resultSink{one: res}) }})
	}
	err = s.withQuery(ctx, queries)
	if err != nil {
		return nil, s.classify(ctx, err)
	}
	if len(q.Segments) == 0 {
		res.Segments = map[string]*Segment{}
	}
	return res, nil
}

// query is one statement of a source query with the scan of its rows.
type query struct {
	st   *statement
	scan func(*sql.Rows) error
}

// queryer is what a connection and a transaction share.
type queryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// withQuery runs the statements in order, in one transaction when there
// are several, so the aggregation and the cluster sums read the same rows.
func (s *sqlSource) withQuery(ctx context.Context, queries []query) error {
	if !s.readOnlyTx {
		// SQLite runs in-process: its strings and blobs are bounded on the
		// connection the query runs on, which is taken from the pool for it.
		conn, err := s.db.Conn(ctx)
		if err != nil {
			return err
		}
		defer conn.Close()
		if _, err := sqlite.Limit(conn, sqlite3.SQLITE_LIMIT_LENGTH, MaxSQLValueBytes); err != nil {
			return err
		}
		var on queryer = conn
		if len(queries) > 1 {
			tx, err := conn.BeginTx(ctx, nil)
			if err != nil {
				return err
			}
			defer func() { _ = tx.Rollback() }()
			on = tx
		}
		return runAll(ctx, on, queries)
	}
	opts := &sql.TxOptions{ReadOnly: true}
	if len(queries) > 1 {
		opts.Isolation = sql.LevelRepeatableRead
	}
	tx, err := s.db.BeginTx(ctx, opts)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	ms := s.timeout.Milliseconds()
	if _, err := tx.ExecContext(ctx, fmt.Sprintf("SET LOCAL statement_timeout = %d", ms)); err != nil {
		return err
	}
	return runAll(ctx, tx, queries)
}

func runAll(ctx context.Context, on queryer, queries []query) error {
	for _, q := range queries {
		if err := runOne(ctx, on, q); err != nil {
			return err
		}
	}
	return nil
}

func runOne(ctx context.Context, on queryer, q query) error {
	rows, err := on.QueryContext(ctx, q.st.text.String(), q.st.args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	if err := q.scan(rows); err != nil {
		return err
	}
	return rows.Err()
}

// scanAggregate folds the aggregate rows into per-segment statistics.
func scanAggregate(rows *sql.Rows, def measure.Definition, q Query, k *resultSink) error {
	nseg := len(q.Segments)
	segVals := make([]sql.NullString, nseg)
	var grp, sw, sw2, swx, swx2, sw2x, sw2x2, mn, mx, snum, sden, snum2, sden2, snumden, sw2num2, sw2den2, sw2numden sql.NullFloat64
	var over, rated sql.NullInt64
	var n, bucket int64
	dest := make([]any, 0, nseg+17)
	if k.bucketed() {
		dest = append(dest, &bucket)
	}
	for i := range segVals {
		dest = append(dest, &segVals[i])
	}
	dest = append(dest, &grp, &over, &n, &sw, &sw2, &swx, &swx2, &sw2x, &sw2x2, &mn, &mx, &snum, &sden, &snum2, &sden2, &snumden,
		&sw2num2, &sw2den2, &sw2numden, &rated)
	fam := def.Family()
	lo, hi := scaleOf(def)
	// values is refilled for every row; k.segment keeps a copy per segment.
	values := make(map[string]string, nseg)
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return wrap(ErrBadQuery, "scan: %v", err)
		}
		res, err := k.result(bucket, "the aggregation")
		if err != nil {
			return err
		}
		for i, c := range q.Segments {
			values[c] = segVals[i].String
		}
		cell := measure.Cell{N: n, W: sw.Float64, W2: sw2.Float64}
		mom := measure.Moments{SumWX: swx.Float64, SumWX2: swx2.Float64, SumW2X: sw2x.Float64, SumW2X2: sw2x2.Float64}
		ratio := measure.RatioSums{SumNum: snum.Float64, SumDen: sden.Float64, SumNum2: snum2.Float64, SumDen2: sden2.Float64,
			SumNumDen: snumden.Float64, SumW2Num2: sw2num2.Float64, SumW2Den2: sw2den2.Float64, SumW2NumDen: sw2numden.Float64}
		if !sw.Valid {
			// Unweighted: every weight is 1, and w² = w.
			cell.W, cell.W2 = float64(n), float64(n)
			mom.SumW2X, mom.SumW2X2 = mom.SumWX, mom.SumWX2
			ratio.SumW2Num2, ratio.SumW2Den2, ratio.SumW2NumDen = ratio.SumNum2, ratio.SumDen2, ratio.SumNumDen
		}
		isRated := rated.Int64 == 1
		if !rated.Valid {
			// Categorical: the NULL score is the unrated group.
			isRated = grp.Valid
		}
		targets := []*measure.Stats{res.Overall}
		if nseg > 0 {
			seg, err := k.segment(res, values, q)
			if err != nil {
				return err
			}
			targets = append(targets, seg.Stats)
		}
		for _, t := range targets {
			foldAggregate(t, fam, def, cell, isRated, grp, over.Int64, lo, hi, mom, mn, mx, ratio)
		}
	}
	return nil
}

func foldAggregate(s *measure.Stats, fam measure.Family, def measure.Definition, cell measure.Cell, rated bool,
	grp sql.NullFloat64, over int64, lo, hi int64, mom measure.Moments, mn, mx sql.NullFloat64, ratio measure.RatioSums) {
	if !rated {
		s.Unrated.Merge(cell)
		return
	}
	switch fam {
	case measure.Categorical:
		k := int64(grp.Float64)
		if !grp.Valid || float64(k) != grp.Float64 || k < lo || k > hi {
			s.Rejected.Merge(cell)
			return
		}
		s.MergeScore(k, cell)
	case measure.MomentsFamily, measure.Gauge:
		if s.Total.N == 0 {
			s.Moments.Min, s.Moments.Max = mn.Float64, mx.Float64
		} else {
			s.Moments.Min, s.Moments.Max = math.Min(s.Moments.Min, mn.Float64), math.Max(s.Moments.Max, mx.Float64)
		}
		s.Moments.SumWX += mom.SumWX
		s.Moments.SumWX2 += mom.SumWX2
		s.Moments.SumW2X += mom.SumW2X
		s.Moments.SumW2X2 += mom.SumW2X2
	case measure.Quantile:
		if grp.Valid {
			s.Sketch.MergeBucket(int32(grp.Float64), cell)
		} else {
			s.Sketch.Zero.Merge(cell)
		}
		if def.ShareOver != nil {
			s.MergeScore(over, cell)
		}
	case measure.RatioOfSums:
		s.Ratio.Merge(ratio)
	}
	s.Total.Merge(cell)
}

func scaleOf(def measure.Definition) (int64, int64) {
	d := def.WithDefaults()
	return d.ScaleMin, d.ScaleMax
}

// Check pings the database.
func (s *sqlSource) Check(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	if err := s.db.PingContext(ctx); err != nil {
		return s.classify(ctx, err)
	}
	return nil
}

// Close closes the connection pool.
func (s *sqlSource) Close() error { return s.db.Close() }

// classify maps a driver error to a typed error.
func (s *sqlSource) classify(ctx context.Context, err error) error {
	if errors.Is(err, ErrBadQuery) || errors.Is(err, ErrPathNotAllowed) || errors.Is(err, ErrTooLarge) || errors.Is(err, ErrTooManySegments) {
		return err
	}
	var liteErr *sqlite.Error
	if errors.As(err, &liteErr) && liteErr.Code()&0xff == sqlite3.SQLITE_TOOBIG {
		return wrap(ErrTooLarge, "a string or blob of the query is longer than %s (MaxSQLValueBytes): %v", sizeName(MaxSQLValueBytes), err)
	}
	if errors.As(err, &liteErr) && liteErr.Code()&0xff == sqlite3.SQLITE_NOMEM {
		return wrap(ErrTooLarge, "the query needs more than SQLite's heap of %s (MaxSQLiteHeapBytes, shared by every SQLite query): %v", sizeName(SQLiteHeapLimit()), err)
	}
	if errors.Is(err, ErrAddressNotAllowed) {
		var opErr *net.OpError
		if errors.As(err, &opErr) && errors.Is(opErr.Err, ErrAddressNotAllowed) {
			// The policy's own error says why; the driver's layers add nothing.
			return fmt.Errorf("%s at %s: %w", s.dialect.name, opErr.Addr, opErr.Err)
		}
		return wrap(ErrAddressNotAllowed, "%v", err)
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch {
		case pgErr.Code == "28P01" || pgErr.Code == "28000":
			return wrap(ErrUnauthorized, "%s", pgErr.Message)
		case pgErr.Code == "57014":
			return wrap(ErrTimeout, "the query ran longer than %s", s.timeout)
		case pgErr.Code == "3D000":
			return wrap(ErrUnreachable, "%s", pgErr.Message)
		default:
			return wrap(ErrBadQuery, "%s (SQLSTATE %s)", pgErr.Message, pgErr.Code)
		}
	}
	if errors.Is(err, context.DeadlineExceeded) || ctx.Err() == context.DeadlineExceeded {
		return wrap(ErrTimeout, "no answer within %s", s.timeout)
	}
	var netErr net.Error
	var opErr *net.OpError
	var connErr *pgconn.ConnectError
	if errors.As(err, &opErr) || errors.As(err, &netErr) || errors.As(err, &connErr) {
		return wrap(ErrUnreachable, "%v", err)
	}
	if s.dialect.name == "sqlite" {
		return wrap(ErrBadQuery, "%v", err)
	}
	return wrap(ErrUnreachable, "%v", err)
}
