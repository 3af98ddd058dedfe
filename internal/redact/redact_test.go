package redact

import (
	"strings"
	"testing"
)

func TestTextRemovesEverySecret(t *testing.T) {
	const hook = "https://hooks.slack.com/services/T000/B000/XXXXsecret"
	for _, c := range []struct {
		name    string
		in      string
		secrets []string
		want    string
	}{
		{"exact", "dial postgres://app:s3cret@db failed", []string{"s3cret"}, "dial postgres://app:[redacted]@db failed"},
		{"every occurrence", "token abc and abc again", []string{"abc"}, "token [redacted] and [redacted] again"},
		{"empty secret", "nothing to hide", []string{""}, "nothing to hide"},
		{"several", "a b", []string{"a", "b"}, "[redacted] [redacted]"},
		{"whitespace-only secret", "nothing to hide", []string{" \n"}, "nothing to hide"},
		{"trailing newline in the Secret", `Post "` + hook + `": EOF`, []string{hook + "\n"}, `Post "[redacted]": EOF`},
		{"quoted newline the parser complains about", `parse "` + hook + `\n": invalid control character in URL`,
			[]string{hook + "\n"}, `parse "[redacted]\n": invalid control character in URL`},
		{"upper-case scheme printed lower-case", `Post "https://hooks.slack.com/services/T000/B000/XXXXsecret": EOF`,
			[]string{"HTTPS://hooks.slack.com/services/T000/B000/XXXXsecret"}, `Post "[redacted]": EOF`},
		{"case of letters", "TOKEN ABC", []string{"abc"}, "TOKEN [redacted]"},
		{"percent-encoded", "callback=https%3A%2F%2Fhooks.slack.com%2Fservices%2FT000%2FB000%2FXXXXsecret&x=1",
			[]string{hook}, "callback=[redacted]&x=1"},
		{"percent-encoded, lower-case escapes", "callback=https%3a%2f%2fhooks.slack.com%2fservices%2fT000%2fB000%2fXXXXsecret",
			[]string{hook}, "callback=[redacted]"},
		{"decoded form of an encoded secret", "user p@ss/w0rd refused", []string{"p%40ss%2Fw0rd"}, "user [redacted] refused"},
		{"JSON-escaped", `{"error":"bad a\u0026b"}`, []string{"a&b"}, `{"error":"bad [redacted]"}`},
		{"path alone, as a server sees it", "no_service: /services/T000/B000/XXXXsecret", []string{hook}, "no_service: [redacted]"},
		{"without the scheme", "hooks.slack.com/services/T000/B000/XXXXsecret not found", []string{hook}, "[redacted] not found"},
		{"last path segment alone", "invalid_token XXXXsecret", []string{hook}, "invalid_token [redacted]"},
		{"query token of a URL secret", "key abcd1234efgh expired", []string{"https://api.example/x?key=abcd1234efgh"}, "key [redacted] expired"},
		{"password of a URL secret", "auth failed for u:hunter22", []string{"postgres://u:hunter22@db/x"}, "auth failed for u:[redacted]"},
		{"secret inside the placeholder word", "red alert", []string{"red"}, "[redacted] alert"},
		{"overlapping forms leave no piece", "xabcabcx", []string{"abca", "cabc"}, "x[redacted]x"},
	} {
		if got := Text(c.in, c.secrets...); got != c.want {
			t.Errorf("%s: Text(%q, %q) = %q, want %q", c.name, c.in, c.secrets, got, c.want)
		}
	}
}

func TestURLsKeepOnlySchemeAndHost(t *testing.T) {
	for _, c := range []struct {
		name, in, want string
	}{
		{"userinfo", `Get "https://app:s3cret@db.example:5432/x": EOF`, `Get "https://[redacted]@db.example:5432/[redacted]": EOF`},
		{"query token", "GET https://api.example.com/v1/tickets?api_key=t0ken&page=2 answered 500",
			"GET https://api.example.com/[redacted] answered 500"},
		{"upper-case scheme", "HTTPS://HOOKS.slack.com/services/T/B/X refused", "HTTPS://HOOKS.slack.com/[redacted] refused"},
		{"host only stays", "prometheus at http://prometheus.monitoring:9090: connection refused",
			"prometheus at http://prometheus.monitoring:9090: connection refused"},
		{"bare slash stays", "see https://example.com/.", "see https://example.com/."},
		{"fragment", "x https://example.com#access_token=abc y", "x https://example.com/[redacted] y"},
		{"several and punctuation", "from https://a.example/p?q=1, to http://b.example/z.", "from https://a.example/[redacted], to http://b.example/[redacted]."},
		{"ipv6 host", "dial http://[::1]:8080/metrics", "dial http://[::1]:8080/[redacted]"},
		{"no URL", "no url here: just text", "no url here: just text"},
	} {
		if got := URLs(c.in); got != c.want {
			t.Errorf("%s: URLs(%q) = %q, want %q", c.name, c.in, got, c.want)
		}
	}
}

// An HTTP client's error loses both the known secret and whatever the URLs
// carry, and still names the host.
func TestHTTPRemovesSecretsAndURLParts(t *testing.T) {
	hook := "HTTPS://hooks.slack.com/services/T000/B000/XXXXsecret\n"
	in := `Post "https://hooks.slack.com/services/T000/B000/XXXXsecret": 404 no_service for /services/T000/B000/XXXXsecret`
	got := HTTP(in, hook)
	for _, part := range []string{"T000", "B000", "XXXXsecret", "services"} {
		if strings.Contains(got, part) {
			t.Fatalf("HTTP(%q) = %q still holds %q", in, got, part)
		}
	}
	if !strings.Contains(got, "https://hooks.slack.com") {
		t.Fatalf("HTTP(%q) = %q no longer names the host", in, got)
	}
}

func TestCutNeverSplitsACharacter(t *testing.T) {
	for _, c := range []struct {
		in   string
		n    int
		want string
	}{
		{"short", 10, "short"},
		{"abcdef", 3, "abc"},
		{"Zürich", 2, "Z"}, // ü is two bytes: the cut falls before it
		{"Zürich", 3, "Zü"},
	} {
		if got := Cut(c.in, c.n); got != c.want {
			t.Errorf("Cut(%q, %d) = %q, want %q", c.in, c.n, got, c.want)
		}
	}
}
