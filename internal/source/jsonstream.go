package source

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Dot paths name a place in a JSON document: object keys separated by
// dots ("data.responses", "customer.segment"); inside a record, a key that
// is a number indexes an array ("answers.0.score"). The empty path is the
// document itself.

// splitPath splits a dot path; the empty path has no parts.
func splitPath(p string) []string {
	if p == "" {
		return []string{}
	}
	return strings.Split(p, ".")
}

// jsonWalker streams one response: it descends only into the objects on
// the way to the records and the link, skips everything else token by
// token, and decodes the records one at a time.
type jsonWalker struct {
	dec     *json.Decoder
	lim     *itemLimit
	records []string
	link    []string // nil when the pages have no link or cursor
	// paths are the dot paths of the fields each record is read at, fields
	// their values in the record being handed to each.
	paths  []jsonPath
	fields []field
	raw    json.RawMessage // the record being read, reused
	each   func([]field) error
	found  bool
	next   string
}

// streamRecords reads a response, calling each for every record at
// recordsPath with its fields at the dot paths names, in that order (a
// slice reused from record to record), and returns the value at linkPath
// ("" when absent or null).
func streamRecords(r io.Reader, recordsPath, linkPath string, names []string, each func([]field) error) (string, error) {
	lim := &itemLimit{r: r, max: MaxJSONRecordBytes}
	dec := json.NewDecoder(lim)
	dec.UseNumber()
	w := &jsonWalker{dec: dec, lim: lim, records: splitPath(recordsPath), each: each, fields: make([]field, len(names))}
	for _, n := range names {
		w.paths = append(w.paths, compileJSONPath(n))
	}
	if linkPath != "" {
		w.link = splitPath(linkPath)
	}
	if err := w.value(nil); err != nil {
		if lim.tripped {
			return "", wrap(ErrTooLarge, "a record or value of the response is larger than %s (MaxJSONRecordBytes)", sizeName(MaxJSONRecordBytes))
		}
		return "", jsonError(err)
	}
	if !w.found {
		return "", wrap(ErrBadQuery, "the response has no array at %q", recordsPath)
	}
	return w.next, nil
}

func jsonError(err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	if errors.As(err, &syn) || errors.As(err, &typ) || errors.Is(err, io.ErrUnexpectedEOF) {
		return wrap(ErrBadQuery, "the response is not the JSON expected: %v", err)
	}
	return err
}

func (w *jsonWalker) value(path []string) error {
	if samePath(path, w.records) {
		return w.array()
	}
	if w.link != nil && samePath(path, w.link) {
		var v any
		if err := w.decode(&v); err != nil {
			return err
		}
		switch x := v.(type) {
		case string:
			w.next = x
		case json.Number:
			w.next = x.String()
		}
		return nil
	}
	tok, err := w.token()
	if err != nil {
		return err
	}
	if tok != json.Delim('{') {
		return w.skipRest(tok)
	}
	wanted := isPrefix(path, w.records) || (w.link != nil && isPrefix(path, w.link))
	for w.dec.More() {
		key, err := w.token()
		if err != nil {
			return err
		}
		child := append(path[:len(path):len(path)], fmt.Sprint(key))
		if wanted {
			if err := w.value(child); err != nil {
				return err
			}
			continue
		}
		if err := w.skip(); err != nil {
			return err
		}
	}
	_, err = w.token() // '}'
	return err
}

// skip passes over one value without keeping it.
func (w *jsonWalker) skip() error {
	tok, err := w.token()
	if err != nil {
		return err
	}
	return w.skipRest(tok)
}

// skipRest passes over the rest of a value whose first token was read.
func (w *jsonWalker) skipRest(tok json.Token) error {
	d, ok := tok.(json.Delim)
	if !ok || (d != '{' && d != '[') {
		return nil
	}
	for depth := 1; depth > 0; {
		tok, err := w.token()
		if err != nil {
			return err
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			depth++
		case json.Delim('}'), json.Delim(']'):
			depth--
		}
	}
	return nil
}

// array decodes the records one by one.
func (w *jsonWalker) array() error {
	tok, err := w.token()
	if err != nil {
		return err
	}
	if tok == nil {
		w.found = true // null: no records
		return nil
	}
	if tok != json.Delim('[') {
		return wrap(ErrBadQuery, "the records are not an array")
	}
	w.found = true
	for w.dec.More() {
		// The record's text, checked by the decoder, its fields read from
		// it in place: nothing is decoded that the query does not read.
		if err := w.decode(&w.raw); err != nil {
			return err
		}
		for i, p := range w.paths {
			w.fields[i] = rawField(w.raw, p)
		}
		if err := w.each(w.fields); err != nil {
			return err
		}
	}
	_, err = w.token() // ']'
	return err
}

func samePath(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// isPrefix reports whether p leads towards (but is not) target.
func isPrefix(p, target []string) bool {
	if len(p) >= len(target) {
		return false
	}
	for i := range p {
		if p[i] != target[i] {
			return false
		}
	}
	return true
}

// token reads the next token, and decode the next value, each at most
// MaxJSONRecordBytes long: the decoder buffers a whole value (or string)
// before it returns it, so the limit is set afresh from where it stands.
func (w *jsonWalker) token() (json.Token, error) {
	w.lim.start = w.dec.InputOffset()
	return w.dec.Token()
}

func (w *jsonWalker) decode(v any) error {
	w.lim.start = w.dec.InputOffset()
	return w.dec.Decode(v)
}
