package source

import (
	"testing"
	"time"
)

// timeInputs are the forms exports write, and the near misses the fast
// path must leave to the general parser.
var timeInputs = []struct {
	in   string
	fast bool // read without the general parser
}{
	{"2026-03-29T01:59:59Z", true},
	{"2026-03-29T01:59:59+02:00", true},
	{"2026-03-29T01:59:59-05:30", true},
	{"2026-03-29T01:59:59-00:00", true},
	{"2026-03-29T01:59:59.5Z", true},
	{"2026-03-29T01:59:59.123456789Z", true},
	{"2026-03-29T01:59:59.000000001+14:00", true},
	{"2026-03-29 01:59:59", true},
	{"2026-03-29 01:59:59.25", true},
	{"2026-03-29 01:59:59Z", true},
	{"2026-03-29 01:59:59.999+01:00", true},
	{"2026-03-29T01:59:59", true},
	{"2026-03-29T01:59:59.75", true},
	{"2026-03-29", true},
	{"2024-02-29", true},
	{"2000-02-29T23:59:59Z", true},
	{"0001-01-01T00:00:00Z", true},
	{"9999-12-31T23:59:59.999999999Z", true},
	{"1774742400", true},
	{"-86400", true},
	{"0", true},
	// Left to the general parser, which reads or refuses them.
	{"2026-03-29T01:59:59.1234567891Z", false},
	{"2026-03-29T01:59:59,5Z", false},
	{"2026-03-29T01:59:59+24:00", false},
	{"2026-03-29T01:59:59+0200", false},
	{"2026-03-29T01:59:59z", false},
	{"2026-03-29t01:59:59Z", false},
	{"2026-03-29T01:59:59.Z", false},
	{"2026-03-29T1:59:59Z", false},
	{"2026-03-29T24:00:00Z", false},
	{"2026-03-29T23:60:00Z", false},
	{"2026-03-29T23:59:60Z", false},
	{"2026-02-29", false},
	{"2023-02-29T00:00:00Z", false},
	{"2026-04-31", false},
	{"2026-13-01", false},
	{"2026-00-10", false},
	{"2026-03-00", false},
	{"2026-3-29", false},
	{"+2026-03-29", false},
	{"2026-03-29T01:59:59Z ", false},
	{" 2026-03-29", false},
	{"1774742400.5", false},
	{"1e9", false},
	{"9007199254740993", false},
	{"-", false},
	{"", false},
	{"yesterday", false},
	{"NaN", false},
	{"2026-03-29T01:59", false},
}

// The fast path reads exactly the instant the general parser reads, and
// everything else falls back to it, errors included.
func TestFastTimeAgreesWithTheLayouts(t *testing.T) {
	for _, tc := range timeInputs {
		want, wantErr := parseTimeLayouts(tc.in)
		got, ok := fastTime(tc.in)
		if ok != tc.fast {
			t.Errorf("%q: fast path %v, want %v", tc.in, ok, tc.fast)
		}
		if ok && (wantErr != nil || !got.Equal(want)) {
			t.Errorf("%q: fast %s, general %s (%v)", tc.in, got.Format(time.RFC3339Nano), want.Format(time.RFC3339Nano), wantErr)
		}
		p, err := parseTime(tc.in)
		if (err == nil) != (wantErr == nil) || (err != nil && err.Error() != wantErr.Error()) || !p.Equal(want) {
			t.Errorf("%q: parseTime %s %v, general %s %v", tc.in, p, err, want, wantErr)
		}
	}
}

func FuzzFastTime(f *testing.F) {
	for _, tc := range timeInputs {
		f.Add(tc.in)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := fastTime(s)
		if !ok {
			return
		}
		want, err := parseTimeLayouts(s)
		if err != nil || !got.Equal(want) {
			t.Fatalf("%q: fast %s, general %s %v", s, got.Format(time.RFC3339Nano), want.Format(time.RFC3339Nano), err)
		}
	})
}

func BenchmarkParseTime(b *testing.B) {
	for _, in := range []string{"2026-03-29T01:59:59Z", "2026-03-29 01:59:59.25", "2026-03-29"} {
		b.Run(in, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := parseTime(in); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(in+"/layouts", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := parseTimeLayouts(in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
