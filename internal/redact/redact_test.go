package redact

import "testing"

func TestTextRemovesEverySecret(t *testing.T) {
	for _, c := range []struct {
		in      string
		secrets []string
		want    string
	}{
		{"dial postgres://app:s3cret@db failed", []string{"s3cret"}, "dial postgres://app:[redacted]@db failed"},
		{"token abc and abc again", []string{"abc"}, "token [redacted] and [redacted] again"},
		{"nothing to hide", []string{""}, "nothing to hide"},
		{"a b", []string{"a", "b"}, "[redacted] [redacted]"},
	} {
		if got := Text(c.in, c.secrets...); got != c.want {
			t.Errorf("Text(%q, %q) = %q, want %q", c.in, c.secrets, got, c.want)
		}
	}
}
