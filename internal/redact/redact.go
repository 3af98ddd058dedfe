// Package redact removes credentials from, and bounds the length of, text
// bound for an error, a condition, an event, a delivery record or a log.
// Every source driver, delivery channel and reconciler uses it, so there
// is one rule for what a secret looks like in output and one way to cut a
// message. It imports nothing of the project.
package redact

import (
	"encoding/json"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"unicode/utf8"
)

// Placeholder replaces each secret.
const Placeholder = "[redacted]"

// minPartLength is the shortest part of a secret URL (its path, its
// host and path) removed on its own: a shorter one, such as "/v1", would
// blank out ordinary words of the text and hides little.
const minPartLength = 8

// Text returns s with every secret replaced by Placeholder. A secret is
// matched without the whitespace around it (a Secret's value often ends in
// a newline), whatever the case of its ASCII letters (URL parsers
// lower-case the scheme, servers upper-case percent escapes), and in the
// forms it takes on its way into an error: percent-encoded and decoded,
// JSON-escaped, and for a URL as Go's URL parser prints it, without its
// scheme, and its password, its path and query, and each path segment or
// query value of eight characters or more, alone.
func Text(s string, secrets ...string) string {
	forms := formsOf(secrets)
	if len(forms) == 0 || s == "" {
		return s
	}
	folded := lowerASCII(s)
	covered := make([]bool, len(s))
	found := false
	for _, f := range forms {
		f = lowerASCII(f)
		for i := 0; i+len(f) <= len(folded); {
			j := strings.Index(folded[i:], f)
			if j < 0 {
				break
			}
			for k := i + j; k < i+j+len(f); k++ {
				covered[k] = true
			}
			found = true
			i += j + 1
		}
	}
	if !found {
		return s
	}
	// One placeholder per run of secret bytes, so that overlapping forms
	// never leave a piece of a secret, nor a secret that happens to occur
	// in the placeholder break it.
	var b strings.Builder
	for i := 0; i < len(s); {
		if !covered[i] {
			b.WriteByte(s[i])
			i++
			continue
		}
		b.WriteString(Placeholder)
		for i < len(s) && covered[i] {
			i++
		}
	}
	return b.String()
}

// formsOf lists every form of the secrets worth looking for, longest
// first.
func formsOf(secrets []string) []string {
	seen := map[string]bool{}
	var forms []string
	add := func(f string, min int) {
		if len(f) >= min && !seen[lowerASCII(f)] {
			seen[lowerASCII(f)] = true
			forms = append(forms, f)
		}
	}
	for _, secret := range secrets {
		secret = strings.TrimSpace(secret)
		if secret == "" {
			continue
		}
		variants := []string{secret, url.QueryEscape(secret), url.PathEscape(secret)}
		if d, err := url.QueryUnescape(secret); err == nil {
			variants = append(variants, d)
		}
		if d, err := url.PathUnescape(secret); err == nil {
			variants = append(variants, d)
		}
		if raw, err := json.Marshal(secret); err == nil {
			variants = append(variants, strings.Trim(string(raw), `"`))
		}
		for _, v := range variants {
			add(v, 1)
		}
		if u, err := url.Parse(secret); err == nil && u.Scheme != "" && u.Host != "" {
			add(u.String(), 1)
			add(u.Redacted(), 1)
			if p, ok := u.User.Password(); ok {
				add(p, 1)
			}
			rest := strings.TrimPrefix(u.String(), u.Scheme+"://")
			add(rest, minPartLength)
			if uri := u.RequestURI(); uri != "/" {
				add(uri, minPartLength)
				add(url.PathEscape(uri), minPartLength)
			}
			// The path's segments and the query's values are where such a
			// URL keeps its token (Slack's is the last segment).
			for _, seg := range strings.Split(u.EscapedPath(), "/") {
				add(seg, minPartLength)
			}
			for _, vs := range u.Query() {
				for _, v := range vs {
					add(v, minPartLength)
				}
			}
		}
	}
	sort.SliceStable(forms, func(i, j int) bool { return len(forms[i]) > len(forms[j]) })
	return forms
}

// lowerASCII lower-cases ASCII letters only, so every byte stays where it
// was and a match in the result is a match in the original at the same
// offset.
func lowerASCII(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'A' && c <= 'Z' {
			b := []byte(s)
			for k := i; k < len(b); k++ {
				if c := b[k]; c >= 'A' && c <= 'Z' {
					b[k] = c + 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}

// urlPattern finds scheme://... up to a space, a quote or an angle
// bracket, which end a URL in error texts and in the bodies servers echo.
var urlPattern = regexp.MustCompile("[A-Za-z][A-Za-z0-9+.-]*://[^\\s\"'<>`]+")

// URLs returns s with every URL reduced to its scheme and host, so that a
// reader still sees which host failed: userinfo becomes
// "[redacted]@", and a path, query or fragment "/[redacted]". It is for
// the errors and answers of HTTP clients, whose URLs may carry tokens
// the caller does not know about (a query parameter, a cursor, a link a
// server returned).
func URLs(s string) string {
	return urlPattern.ReplaceAllStringFunc(s, func(m string) string {
		// Punctuation after a URL in prose is not part of it.
		end := len(m)
		for end > 0 && strings.ContainsRune(".,;:!?)", rune(m[end-1])) {
			end--
		}
		m, tail := m[:end], m[end:]
		sep := strings.Index(m, "://")
		scheme, rest := m[:sep], m[sep+3:]
		authority, path := rest, ""
		if i := strings.IndexAny(rest, "/?#"); i >= 0 {
			authority, path = rest[:i], rest[i:]
		}
		var b strings.Builder
		b.WriteString(scheme + "://")
		if i := strings.LastIndexByte(authority, '@'); i >= 0 {
			b.WriteString(Placeholder + "@")
			authority = authority[i+1:]
		}
		b.WriteString(authority)
		switch path {
		case "":
		case "/":
			b.WriteString("/")
		default:
			b.WriteString("/" + Placeholder)
		}
		return b.String() + tail
	})
}

// HTTP is Text after URLs: what the errors and answers of HTTP clients go
// through, since their URLs may carry credentials besides the known
// secrets.
func HTTP(s string, secrets ...string) string {
	return Text(URLs(s), secrets...)
}

// Cut shortens s to at most n bytes without splitting a character, as
// status, event and record messages are bounded. Cut after redacting: a
// secret cut in two would no longer be recognised.
func Cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
