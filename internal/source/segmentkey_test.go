package source

import (
	"maps"
	"testing"
)

func TestSegmentKeyEscapesSeparators(t *testing.T) {
	a := SegmentKey(map[string]string{"stage": "a,b=c"})
	b := SegmentKey(map[string]string{"stage": "a", "b": "c"})
	if a == b {
		t.Fatalf("values with separators collide: %q", a)
	}
	for _, c := range []struct {
		values map[string]string
		key    string
	}{
		{map[string]string{}, ""},
		{map[string]string{"stage": "onboarding"}, "stage=onboarding"},
		{map[string]string{"persona": "admin", "account": "acme"}, "account=acme,persona=admin"},
		{map[string]string{"stage": `a,b=c\d`}, `stage=a\,b\=c\\d`},
	} {
		if got := SegmentKey(c.values); got != c.key {
			t.Errorf("SegmentKey(%v) = %q, want %q", c.values, got, c.key)
		}
		back, err := ParseSegmentKey(c.key)
		if err != nil || !maps.Equal(back, c.values) {
			t.Errorf("ParseSegmentKey(%q) = %v, %v; want %v", c.key, back, err, c.values)
		}
	}
	for _, bad := range []string{"stage", `stage=x\`, "a=1,a=2", "a=b=c"} {
		if _, err := ParseSegmentKey(bad); err == nil {
			t.Errorf("ParseSegmentKey(%q) accepted a malformed key", bad)
		}
	}
}

// FuzzSegmentKey checks that keys are reversible and never collide.
func FuzzSegmentKey(f *testing.F) {
	f.Add("stage", "a,b", "persona", "x=y")
	f.Add("a", `\`, "b", "")
	f.Fuzz(func(t *testing.T, c1, v1, c2, v2 string) {
		values := map[string]string{c1: v1, c2: v2}
		key := SegmentKey(values)
		back, err := ParseSegmentKey(key)
		if err != nil {
			t.Fatalf("ParseSegmentKey(SegmentKey(%q)) = %v", values, err)
		}
		if !maps.Equal(back, values) {
			t.Fatalf("round trip of %q through %q gave %q", values, key, back)
		}
		if SegmentKey(back) != key {
			t.Fatalf("key of the parsed values differs: %q vs %q", SegmentKey(back), key)
		}
	})
}
