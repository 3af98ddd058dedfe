package source

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
)

// The CSV scanner reads what encoding/csv reads, and fails where it fails
// with its message and line numbers.
func TestCSVScannerAgreesWithEncodingCSV(t *testing.T) {
	for _, text := range []string{
		"a,b\n1,2\n",
		"a,b\r\n1,2\r\n\r\n\n3,4",
		"a,b\n1,2\r",
		"a,b\n\"x, y\",\"say \"\"hi\"\"\"\n\"two\r\nlines\",3\n",
		"a,b\n,\n\"\",\"\"\n",
		"a,b,c\n1,\"multi\n\nline\",3\n4,5,6\n",
		"a,b\n1,2,3\n",
		"a,b\n1\n",
		"a,b\n1,x\"y\n",
		"a,b\n1,\"x\"y\n",
		"a,b\n1,\"open\n2,3\n",
		"a,b\n\n\n1,\"open\nmore\"x,3\n",
		"\"a\",\"b\"\n1,2",
		"a;b\n1;2\n",
		"a\n\"\"\"\"\n \n",
	} {
		for _, comma := range []rune{',', ';', '§'} {
			text := strings.ReplaceAll(text, ",", string(comma))
			var want []string
			r := csv.NewReader(strings.NewReader(text))
			r.Comma = comma
			for {
				rec, err := r.Read()
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					want = append(want, "error "+err.Error())
					break
				}
				line, _ := r.FieldPos(0)
				want = append(want, fmt.Sprintf("%d %q", line, rec))
			}
			var got []string
			s, err := newCSVScanner(strings.NewReader(text), 16, comma)
			if err != nil {
				t.Fatal(err)
			}
			for {
				rec, err := s.next()
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					got = append(got, "error "+err.Error())
					break
				}
				got = append(got, fmt.Sprintf("%d %q", s.recLine, rec))
			}
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("%q:\n got %q\nwant %q", text, got, want)
			}
		}
	}
	if _, err := newCSVScanner(strings.NewReader(""), 16, '"'); err == nil || !strings.Contains(err.Error(), "invalid field or comment delimiter") {
		t.Fatalf("a quote as the delimiter: %v", err)
	}
}
