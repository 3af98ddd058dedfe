package source

import (
	"bufio"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
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
	p, err := planRecords(def, q, from, to, fmt.Sprintf("csv %s", s.name))
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, timeoutOr(s.cfg.Timeout))
	defer cancel()
	err = s.read(ctx, func(header map[string]int, cells []string, line int) error {
		get := func(name string) field {
			i, ok := header[name]
			if !ok || i >= len(cells) || cells[i] == "" {
				return field{}
			}
			return field{text: cells[i], present: true}
		}
		return p.fold(get, func() string { return fmt.Sprintf("%s line %d", s.name, line) })
	}, q)
	if err != nil {
		return nil, err
	}
	return p.result(), nil
}

// read calls each for every record after the header, checking that the
// query's fields are columns of the file.
func (s *csvSource) read(ctx context.Context, each func(header map[string]int, cells []string, line int) error, q Query) error {
	rc, err := s.open(ctx)
	if err != nil {
		return err
	}
	defer rc.Close()
	limit := &itemLimit{r: rc, max: MaxCSVRecordBytes + 2} // with a line ending
	r := csv.NewReader(bufio.NewReaderSize(limit, csvBuffer))
	r.Comma = s.cfg.Delimiter
	r.ReuseRecord = true
	names, err := r.Read()
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
		header[n] = i
	}
	limit.start = r.InputOffset()
	for _, c := range queryFields(q) {
		if _, ok := header[c]; !ok {
			return wrap(ErrBadQuery, "%s has no column %q", s.name, c)
		}
	}
	if each == nil {
		return nil
	}
	for n := 1; ; n++ {
		if err := cancelled(ctx, n); err != nil {
			return wrap(ErrTimeout, "%s: read for longer than %s", s.name, timeoutOr(s.cfg.Timeout))
		}
		cells, err := r.Read()
		if limit.tripped {
			return s.tooLarge(n)
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return wrap(ErrBadQuery, "%s: %v", s.name, err)
		}
		limit.start = r.InputOffset()
		line, _ := r.FieldPos(0)
		if err := each(header, cells, line); err != nil {
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
	return s.read(ctx, nil, Query{})
}

// Close has nothing to release: each query opens and closes the file.
func (s *csvSource) Close() error { return nil }
