package source

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/cxloop/cxloop/internal/measure"
)

// CSVConfig holds a CSV DataSource's settings: a file under the data roots,
// or a reader the caller opens (a ConfigMap's key).
type CSVConfig struct {
	// Path is relative to one of Roots.
	Path  string
	Roots []string
	// Open returns the content when it does not come from a file; it is
	// called once per query, so the content is read fresh each time.
	Open func(ctx context.Context) (io.ReadCloser, error)
	// Name says where Open reads from, for messages.
	Name string
	// Delimiter separates fields; a comma when zero.
	Delimiter rune
	Timeout   time.Duration
}

// csvSource streams a CSV export through the in-process aggregation. The
// first line names the columns; a Metric maps its roles to those names.
type csvSource struct {
	cfg  CSVConfig
	open func(ctx context.Context) (io.ReadCloser, error)
	name string
}

// OpenCSV checks the settings; the file is read at each query.
func OpenCSV(c CSVConfig) (Source, error) {
	if c.Delimiter == 0 {
		c.Delimiter = ','
	}
	if c.Delimiter == '"' || c.Delimiter == '\r' || c.Delimiter == '\n' {
		return nil, wrap(ErrBadQuery, "delimiter %q cannot separate CSV fields", c.Delimiter)
	}
	s := &csvSource{cfg: c, open: c.Open, name: c.Name}
	if s.open == nil {
		path, err := ResolvePath(c.Path, c.Roots)
		if err != nil {
			return nil, err
		}
		s.name = c.Path
		s.open = func(context.Context) (io.ReadCloser, error) {
			f, err := os.Open(path)
			if err != nil {
				return nil, wrap(ErrUnreachable, "open %s: %v", c.Path, err)
			}
			return f, nil
		}
	}
	return s, nil
}

// Query streams the file once, folding each record in the window.
func (s *csvSource) Query(ctx context.Context, def measure.Definition, q Query, from, to time.Time) (*Result, error) {
	p, err := planRecords(def, q, from, to, s.statement())
	if err != nil {
		return nil, err
	}
	if err := s.fold(ctx, p, q); err != nil {
		return nil, err
	}
	return p.result(), nil
}

// QueryHistory streams the file once, folding each record in its
// interval.
func (s *csvSource) QueryHistory(ctx context.Context, def measure.Definition, q Query, bounds []time.Time) ([]*Result, error) {
	p, err := planHistory(def, q, bounds, s.statement())
	if err != nil {
		return nil, err
	}
	if err := s.fold(ctx, p, q); err != nil {
		return nil, err
	}
	return p.history(), nil
}

func (s *csvSource) statement() string { return fmt.Sprintf("csv %s", s.name) }

// fold reads the file into the plan: the plan's fields are found among
// the columns once, and each record handed over as those cells.
func (s *csvSource) fold(ctx context.Context, p *recordPlan, q Query) error {
	ctx, cancel := context.WithTimeout(ctx, timeoutOr(s.cfg.Timeout))
	defer cancel()
	var columns []int
	rec := make([]field, len(p.names))
	line := 0
	where := func() string { return fmt.Sprintf("%s line %d", s.name, line) }
	return s.read(ctx, q, func(header map[string]int) {
		columns = make([]int, len(p.names))
		for i, n := range p.names {
			columns[i] = header[n]
		}
	}, func(cells []string, at int) error {
		for i, c := range columns {
			if c < len(cells) && cells[c] != "" {
				rec[i] = field{text: cells[c], present: true}
			} else {
				rec[i] = field{}
			}
		}
		line = at
		return p.fold(rec, where)
	})
}

// read calls each for every record after the header, its cells views of
// the read buffer valid during the call, after checking that the query's
// fields are columns of the file and calling columns with the header.
func (s *csvSource) read(ctx context.Context, q Query, columns func(header map[string]int), each func(cells []string, line int) error) error {
	rc, err := s.open(ctx)
	if err != nil {
		return err
	}
	defer rc.Close()
	limit := &itemLimit{r: rc, max: MaxCSVRecordBytes + 2} // with a line ending
	r, err := newCSVScanner(limit, csvBuffer, s.cfg.Delimiter)
	if err != nil {
		return wrap(ErrBadQuery, "%s header: %v", s.name, err)
	}
	names, err := r.next()
	if err != nil {
		if limit.tripped {
			return s.tooLarge(0)
		}
		if errors.Is(err, io.EOF) {
			return wrap(ErrBadQuery, "%s is empty: the first line must name the columns", s.name)
		}
		return wrap(ErrBadQuery, "%s header: %v", s.name, err)
	}
	header := make(map[string]int, len(names))
	for i, n := range names {
		header[strings.Clone(n)] = i
	}
	limit.start = r.offset
	for _, c := range queryFields(q) {
		if _, ok := header[c]; !ok {
			return wrap(ErrBadQuery, "%s has no column %q", s.name, c)
		}
	}
	if each == nil {
		return nil
	}
	columns(header)
	for n := 1; ; n++ {
		if err := cancelled(ctx, n); err != nil {
			return wrap(ErrTimeout, "%s: read for longer than %s", s.name, timeoutOr(s.cfg.Timeout))
		}
		cells, err := r.next()
		if limit.tripped {
			return s.tooLarge(n)
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return wrap(ErrBadQuery, "%s: %v", s.name, err)
		}
		limit.start = r.offset
		if err := each(cells, r.recLine); err != nil {
			return err
		}
	}
}

// csvBuffer is the read-ahead between the file and the CSV parser.
const csvBuffer = 64 << 10

func (s *csvSource) tooLarge(record int) error {
	what := "the header"
	if record > 0 {
		what = fmt.Sprintf("record %d after the header", record)
	}
	return wrap(ErrTooLarge, "%s: %s is longer than %s (MaxCSVRecordBytes)", s.name, what, sizeName(MaxCSVRecordBytes))
}

// queryFields lists the fields a query reads.
func queryFields(q Query) []string {
	var out []string
	for _, c := range []string{q.Value, q.Time, q.InteractionTime, q.Weight, q.Numerator, q.Denominator, q.Cluster} {
		if c != "" {
			out = append(out, c)
		}
	}
	out = append(out, q.Segments...)
	for _, f := range q.Filters {
		out = append(out, f.Column)
	}
	return out
}

// Check opens the file and reads its header.
func (s *csvSource) Check(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, timeoutOr(s.cfg.Timeout))
	defer cancel()
	return s.read(ctx, Query{}, nil, nil)
}

// Close has nothing to release: each query opens and closes the file.
func (s *csvSource) Close() error { return nil }
