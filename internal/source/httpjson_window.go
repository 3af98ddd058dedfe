package source

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// The placeholders an HTTP JSON source's URL may carry for the window a
// query reads: its start and end as RFC 3339 UTC, or as Unix seconds.
//
// They are four fixed tokens replaced literally rather than a text/template:
// a template would also accept other spellings ({{.From}}), pipelines and
// every method of time.Time ({{ .From.AddDate 1 0 0 }}), so admission and
// the driver could not agree on exactly one small language. Admission (a CEL
// rule on the DataSource's url) removes the same four tokens and refuses
// any "{{" or "}}" left, as windowURL does here.
const (
	tokenFrom     = "{{ .From }}"
	tokenTo       = "{{ .To }}"
	tokenFromUnix = "{{ .From.Unix }}"
	tokenToUnix   = "{{ .To.Unix }}"
)

const placeholderHelp = "{{ .From }}, {{ .To }}, {{ .From.Unix }} and {{ .To.Unix }}"

// windowURL is an HTTP JSON source's URL with its window placeholders,
// rendered per query into its path segments and query values only: the
// scheme, host and credentials never carry one, so a rendered value can
// neither reach another origin nor add a path segment or a parameter.
type windowURL struct {
	base      *url.URL
	templated bool
}

func hasBraces(s string) bool { return strings.Contains(s, "{{") || strings.Contains(s, "}}") }

// parseWindowURL parses raw and checks where and how it uses placeholders.
func parseWindowURL(raw string) (*windowURL, error) {
	if scheme, rest, ok := strings.Cut(raw, "://"); ok {
		authority := rest
		if i := strings.IndexAny(rest, "/?#"); i >= 0 {
			authority = rest[:i]
		}
		if hasBraces(scheme) || hasBraces(authority) {
			return nil, wrap(ErrBadQuery, "url: the placeholders %s may appear only in the path and in query values, not in the scheme, host or port", placeholderHelp)
		}
	}
	base, err := url.Parse(raw)
	if err != nil {
		return nil, err
	}
	w := &windowURL{base: base, templated: hasBraces(raw)}
	if !w.templated {
		return w, nil
	}
	if hasBraces(base.Fragment) {
		return nil, wrap(ErrBadQuery, "url: a placeholder in the fragment is never sent; use the path or a query value")
	}
	for _, pair := range strings.Split(base.RawQuery, "&") {
		if key, _, _ := strings.Cut(pair, "="); hasBraces(key) {
			return nil, wrap(ErrBadQuery, "url: query parameter names cannot hold a placeholder, only their values")
		}
	}
	if _, err := w.render(time.Unix(0, 0), time.Unix(0, 0)); err != nil {
		return nil, err
	}
	return w, nil
}

// window holds a query's bounds as the URL renders them. The start is
// rounded down and the end up to a whole second, so the API's answer
// covers the window whatever its precision; records are still filtered to
// [from, to) in-process, so results are exact either way.
type window struct {
	from, to time.Time
}

func newWindow(from, to time.Time) window {
	from = from.UTC().Truncate(time.Second)
	to = to.UTC()
	if t := to.Truncate(time.Second); t.Before(to) {
		to = t.Add(time.Second)
	}
	return window{from: from, to: to}
}

// expand replaces the placeholders in s and refuses any other "{{ ... }}".
func (w window) expand(s string) (string, error) {
	out := strings.NewReplacer(
		tokenFromUnix, strconv.FormatInt(w.from.Unix(), 10),
		tokenToUnix, strconv.FormatInt(w.to.Unix(), 10),
		tokenFrom, w.from.Format(time.RFC3339),
		tokenTo, w.to.Format(time.RFC3339),
	).Replace(s)
	if hasBraces(out) {
		// Name the placeholder alone: the rest of the value may be a
		// credential someone put in the URL.
		bad := out[max(strings.Index(out, "{{"), 0):]
		if i := strings.Index(bad, "}}"); i >= 0 && i < 40 {
			bad = bad[:i+2]
		} else if len(bad) > 40 {
			bad = bad[:40] + "..."
		}
		return "", wrap(ErrBadQuery, "url: unknown placeholder %q; use only %s, spelled exactly so", bad, placeholderHelp)
	}
	return out, nil
}

// render returns the URL for the window [from, to): each path segment and
// query value holding a placeholder is expanded, then escaped for its
// place; every other part is kept as written.
func (w *windowURL) render(from, to time.Time) (*url.URL, error) {
	u := *w.base
	if !w.templated {
		return &u, nil
	}
	win := newWindow(from, to)
	// The path as written: EscapedPath would re-escape the decoded path,
	// since the braces make the written form invalid, turning an escaped
	// slash (%2F) in another segment into a separator.
	raw := w.base.RawPath
	if raw == "" {
		raw = w.base.EscapedPath()
	}
	segs := strings.Split(raw, "/")
	changed := false
	for i, seg := range segs {
		dec, err := url.PathUnescape(seg)
		if err != nil || !hasBraces(dec) {
			continue
		}
		v, err := win.expand(dec)
		if err != nil {
			return nil, err
		}
		segs[i], changed = url.PathEscape(v), true
	}
	if changed {
		u.RawPath = strings.Join(segs, "/")
		p, err := url.PathUnescape(u.RawPath)
		if err != nil {
			return nil, wrap(ErrBadQuery, "url path: %v", err)
		}
		u.Path = p
	}
	if w.base.RawQuery != "" {
		pairs := strings.Split(w.base.RawQuery, "&")
		for i, pair := range pairs {
			key, val, _ := strings.Cut(pair, "=")
			dec, err := url.QueryUnescape(val)
			if err != nil {
				dec = val
			}
			if !hasBraces(dec) {
				continue
			}
			v, err := win.expand(dec)
			if err != nil {
				return nil, err
			}
			pairs[i] = key + "=" + url.QueryEscape(v)
		}
		u.RawQuery = strings.Join(pairs, "&")
	}
	return &u, nil
}

// The bounds of a 429 answer's retries: a few attempts, each waiting what
// Retry-After asks, never past the query's deadline.
const (
	maxRateLimitRetries = 3
	// maxRetryAfter caps a wait read from a header (the longest query
	// timeout admission allows), so a huge number cannot overflow.
	maxRetryAfter = 10 * time.Minute
)

// retryAfter reads a Retry-After header, delay-seconds or an HTTP-date,
// as the wait from now; ok is false when it is absent or unreadable.
func retryAfter(h string, now time.Time) (time.Duration, bool) {
	h = strings.TrimSpace(h)
	if h == "" {
		return 0, false
	}
	if n, err := strconv.ParseInt(h, 10, 64); err == nil {
		if n < 0 {
			return 0, false
		}
		return min(time.Duration(min(n, int64(maxRetryAfter/time.Second)))*time.Second, maxRetryAfter), true
	}
	t, err := http.ParseTime(h)
	if err != nil {
		return 0, false
	}
	return min(max(t.Sub(now), 0), maxRetryAfter), true
}
