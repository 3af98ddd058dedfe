package source

import (
	"bytes"
	"encoding/json"
	"strconv"
	"testing"
)

// fieldAt reads the field of a decoded record at a dot path: what the
// records' fields were read by before rawField, kept to check it.
func fieldAt(rec any, parts []string) field {
	v := rec
	for _, p := range parts {
		switch x := v.(type) {
		case map[string]any:
			v = x[p]
		case []any:
			i, err := strconv.Atoi(p)
			if err != nil || i < 0 || i >= len(x) {
				return field{}
			}
			v = x[i]
		default:
			return field{}
		}
	}
	switch x := v.(type) {
	case nil:
		return field{}
	case string:
		return field{text: x, present: true}
	case json.Number:
		return field{text: x.String(), present: true}
	case bool:
		return field{text: strconv.FormatBool(x), present: true}
	}
	// An object or array where a scalar belongs: present, unreadable.
	return field{text: "[structured]", present: true}
}

var rawRecords = []string{
	`{"score": 9, "at": "2026-03-02T10:00:00Z", "customer": {"segment": "smb", "tags": ["a", "b"]}}`,
	` { "score" : -1.5e3 , "ok" : true , "no" : false , "none" : null } `,
	`{"score": 1, "score": 2}`,
	`{"score": {"nested": 1}, "list": [1, {"x": "y"}, [2, 3]], "empty": {}, "arr": []}`,
	`{"esc\u0061ped": "tab\tquote\"slash\\u\u00e9", "plain": "café", "bad": "ÿþ"}`,
	`{"\"quoted\"": 1, "a.b": 2, "0": "zero", "answers": [{"score": 4}, {"score": 5}]}`,
	`[1, 2, {"x": 3}]`,
	`"a string"`,
	`42`,
	`null`,
	`{"s": "}]{[,:\"", "after": 7}`,
	"{\"bad\": \"a\xff\xfeb\", \"\xffkey\": 1, \"after\": \"\xc3\"}",
	`{"deep": {"deeper": {"deepest": "yes", "n": 0.1}}, "deep": {"other": 1}}`,
}

var rawPaths = []string{"score", "at", "customer.segment", "customer.tags.1", "customer.tags.2", "customer.tags.-1",
	"customer.tags.+1", "ok", "no", "none", "missing", "list.0", "list.1.x", "list.2", "list.2.1", "list.01", "empty", "arr.0",
	"escaped", "plain", "bad", "\xffkey", "\ufffdkey", `"quoted"`, "a", "a.b", "0", "answers.1.score", "answers.0", "x", "1", "2.x", "s", "after",
	"deep.deeper.deepest", "deep.other", "deep.deeper.n", "score.nested"}

func decodedRecord(t testing.TB, raw string) any {
	dec := json.NewDecoder(bytes.NewReader([]byte(raw)))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("%q: %v", raw, err)
	}
	return v
}

// rawField reads from a record's text exactly the field decoding the
// record reads, whatever the path and the record.
func TestRawFieldReadsWhatDecodingReads(t *testing.T) {
	for _, raw := range rawRecords {
		rec := decodedRecord(t, raw)
		for _, path := range rawPaths {
			want := fieldAt(rec, splitPath(path))
			if got := rawField([]byte(raw), compileJSONPath(path)); got != want {
				t.Errorf("%s at %q: %+v, want %+v", raw, path, got, want)
			}
		}
	}
}

func FuzzRawField(f *testing.F) {
	for _, raw := range rawRecords {
		f.Add(raw, "score")
	}
	f.Fuzz(func(t *testing.T, raw, path string) {
		if !json.Valid([]byte(raw)) || path == "" {
			return
		}
		want := fieldAt(decodedRecord(t, raw), splitPath(path))
		if got := rawField([]byte(raw), compileJSONPath(path)); got != want {
			t.Fatalf("%q at %q: %+v, want %+v", raw, path, got, want)
		}
	})
}

// BenchmarkJSONRecords reads a page of records the way a Metric does
// (five fields, one nested), from the records' text as the source does
// and, for comparison, by decoding each record first, as it used to.
func BenchmarkJSONRecords(b *testing.B) {
	const n = 20_000
	var page bytes.Buffer
	page.WriteString(`{"data":[`)
	for i := range n {
		if i > 0 {
			page.WriteByte(',')
		}
		page.WriteString(`{"id":` + strconv.Itoa(i) + `,"answered_at":"2026-03-02T10:00:00Z","score":` + strconv.Itoa(i%11) +
			`,"comment":"fine, thanks","customer":{"segment":"smb","account":"acct-` + strconv.Itoa(i%500) + `","region":"eu"},"weight":1.5}`)
	}
	page.WriteString(`],"meta":{"next_cursor":null}}`)
	body := page.Bytes()
	names := []string{"answered_at", "score", "weight", "customer.segment", "customer.account"}
	run := func(b *testing.B, each func([]field) error) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := streamRecords(bytes.NewReader(body), "data", "meta.next_cursor", names, each); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/record")
	}
	sum := 0
	b.Run("raw", func(b *testing.B) {
		run(b, func(f []field) error { sum += len(f[1].text); return nil })
	})
	b.Run("decoded", func(b *testing.B) {
		paths := make([][]string, len(names))
		for i, n := range names {
			paths[i] = splitPath(n)
		}
		// The same walk, each record decoded and its fields read from
		// the decoded value.
		dec := func(rec any) {
			for _, p := range paths {
				sum += len(fieldAt(rec, p).text)
			}
		}
		b.ReportAllocs()
		for b.Loop() {
			d := json.NewDecoder(bytes.NewReader(body))
			d.UseNumber()
			var v struct{ Data []any }
			if err := d.Decode(&v); err != nil {
				b.Fatal(err)
			}
			for _, r := range v.Data {
				dec(r)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/record")
	})
}
