package source

import (
	"fmt"
	"io"
)

// promBody limits a Prometheus answer while it streams in: past
// MaxPrometheusResponseBytes, or once it holds more than
// MaxPrometheusSeries series, a read fails with ErrTooLarge, before the
// client has buffered the rest or decoded any of it.
//
// Series are counted by scanning the JSON's structure without decoding
// it: an answer is {"status":…,"data":{"resultType":…,"result":[…]}}, so
// each object that opens directly inside an array two objects deep is a
// series (a vector's sample or a matrix's series). Anything else built
// that way would be counted too, which errs on the side of refusing.
type promBody struct {
	r                  io.ReadCloser
	n, maxBytes        int64
	series, maxSeries  int
	depth              int
	stack              [3]byte // the containers of the first three levels
	inString, escaping bool
	err                error
}

func newPromBody(r io.ReadCloser) *promBody {
	return &promBody{r: r, maxBytes: MaxPrometheusResponseBytes, maxSeries: MaxPrometheusSeries}
}

func (b *promBody) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	if room := b.maxBytes + 1 - b.n; int64(len(p)) > room {
		p = p[:room]
	}
	n, err := b.r.Read(p)
	b.n += int64(n)
	if b.n > b.maxBytes {
		b.err = &promTooLarge{bytes: true, msg: fmt.Sprintf("the Prometheus answer is larger than %s (MaxPrometheusResponseBytes): aggregate the query, such as sum by (label) (...)", sizeName(b.maxBytes))}
		return 0, b.err
	}
	b.scan(p[:n])
	if b.series > b.maxSeries {
		b.err = &promTooLarge{msg: fmt.Sprintf("the Prometheus answer has more than %d series (MaxPrometheusSeries): aggregate the query, such as sum by (label) (...)", b.maxSeries)}
		return 0, b.err
	}
	return n, err
}

// scan follows the JSON's nesting outside strings and counts the series.
func (b *promBody) scan(p []byte) {
	for _, c := range p {
		if b.inString {
			switch {
			case b.escaping:
				b.escaping = false
			case c == '\\':
				b.escaping = true
			case c == '"':
				b.inString = false
			}
			continue
		}
		switch c {
		case '"':
			b.inString = true
		case '{', '[':
			if c == '{' && b.depth == 3 && b.stack[0] == '{' && b.stack[1] == '{' && b.stack[2] == '[' {
				b.series++
			}
			if b.depth < len(b.stack) {
				b.stack[b.depth] = c
			}
			b.depth++
		case '}', ']':
			if b.depth > 0 {
				b.depth--
			}
		}
	}
}

// Close closes the answer's body.
func (b *promBody) Close() error { return b.r.Close() }

// promTooLarge is the error of an answer past a limit; bytes says it was
// MaxPrometheusResponseBytes, which a range query can meet with fewer
// points per request. Its message holds nothing of the request.
type promTooLarge struct {
	msg   string
	bytes bool
}

func (e *promTooLarge) Error() string { return ErrTooLarge.Error() + ": " + e.msg }
func (e *promTooLarge) Unwrap() error { return ErrTooLarge }
