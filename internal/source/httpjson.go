package source

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/cxloop/cxloop/internal/measure"
	"github.com/cxloop/cxloop/internal/redact"
)

// Pagination names how an HTTP JSON source pages its records.
type Pagination string

// The pagination styles.
const (
	// NoPagination: one response holds every record.
	NoPagination Pagination = "None"
	// NextLink: each response names the URL of the next page at a dot
	// path; an absent, null or empty link ends the records.
	NextLink Pagination = "NextLink"
	// Cursor: each response names an opaque cursor at a dot path, sent
	// back as a query parameter; an absent, null or empty cursor ends them.
	Cursor Pagination = "Cursor"
)

// HTTPJSONConfig holds an HTTP JSON DataSource's settings.
type HTTPJSONConfig struct {
	// URL of the first page.
	URL string
	// RecordsPath is the dot path of the records' array in each response;
	// empty when the body is the array.
	RecordsPath string
	// Token is sent as a bearer token; Headers are sent as they are. Both
	// come from the DataSource's Secret.
	Token   string
	Headers map[string]string
	// Pagination with its paths and parameter.
	Pagination               Pagination
	NextLinkPath, CursorPath string
	CursorParam              string
	MaxResponseBytes         int64
	MaxPages                 int
	Timeout                  time.Duration
	MaxConnections           int
	Network                  NetworkPolicy
}

// httpJSONSource reads a REST API's records page by page, decoding one
// record at a time from the response stream and folding it in-process.
type httpJSONSource struct {
	cfg    HTTPJSONConfig
	base   *url.URL
	url    *windowURL
	client *http.Client
	secret []string
}

// OpenHTTPJSON checks the settings; nothing connects until a query or
// Check.
func OpenHTTPJSON(c HTTPJSONConfig) (Source, error) {
	tmpl, err := parseWindowURL(c.URL)
	if errors.Is(err, ErrBadQuery) {
		return nil, err
	}
	var base *url.URL
	if tmpl != nil {
		base = tmpl.base
	}
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return nil, wrap(ErrBadQuery, "url %q: want an absolute http or https URL", redact.HTTP(c.URL, c.Token))
	}
	if base.User != nil {
		return nil, wrap(ErrBadQuery, "url: put credentials in the Secret, not in the URL")
	}
	if c.Pagination == "" {
		c.Pagination = NoPagination
	}
	switch {
	case c.Pagination == NextLink && c.NextLinkPath == "":
		return nil, wrap(ErrBadQuery, "NextLink pagination needs nextLinkPath")
	case c.Pagination == Cursor && (c.CursorPath == "" || c.CursorParam == ""):
		return nil, wrap(ErrBadQuery, "Cursor pagination needs cursorPath and cursorParam")
	case c.Pagination != NoPagination && c.Pagination != NextLink && c.Pagination != Cursor:
		return nil, wrap(ErrBadQuery, "unknown pagination %q", c.Pagination)
	}
	if c.MaxResponseBytes <= 0 {
		c.MaxResponseBytes = 64 << 20
	}
	if c.MaxPages <= 0 {
		c.MaxPages = 1000
	}
	timeout := timeoutOr(c.Timeout)
	s := &httpJSONSource{cfg: c, base: base, url: tmpl}
	transport := c.Network.transport(timeout, c.MaxConnections)
	transport.MaxResponseHeaderBytes = MaxResponseHeaderBytes
	s.client = &http.Client{
		Transport: transport,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if err := s.sameOrigin(req.URL); err != nil {
				return fmt.Errorf("redirect refused: %w", err)
			}
			if len(via) >= 5 {
				return wrap(ErrBadQuery, "more than 5 redirects")
			}
			return nil
		},
	}
	if c.Token != "" {
		s.secret = append(s.secret, c.Token)
	}
	for _, v := range c.Headers {
		s.secret = append(s.secret, v)
	}
	return s, nil
}

// sameOrigin refuses a URL on another scheme, host or port than the
// configured one: links and redirects cannot carry the credentials away.
func (s *httpJSONSource) sameOrigin(u *url.URL) error {
	if u.Scheme != s.base.Scheme || u.Host != s.base.Host {
		return wrap(ErrAddressNotAllowed, "%s://%s is not the source's origin %s://%s", u.Scheme, u.Host, s.base.Scheme, s.base.Host)
	}
	return nil
}

// Query fetches every page within the timeout and folds its records.
func (s *httpJSONSource) Query(ctx context.Context, def measure.Definition, q Query, from, to time.Time) (*Result, error) {
	p, err := planRecords(def, q, from, to, s.statement())
	if err != nil {
		return nil, err
	}
	if err := s.fold(ctx, p, from, to); err != nil {
		return nil, err
	}
	return p.result(), nil
}

// QueryHistory fetches the pages once, the URL's window the whole
// history's (its first bound to its last), and folds each record in its
// interval.
func (s *httpJSONSource) QueryHistory(ctx context.Context, def measure.Definition, q Query, bounds []time.Time) ([]*Result, error) {
	p, err := planHistory(def, q, bounds, s.statement())
	if err != nil {
		return nil, err
	}
	if err := s.fold(ctx, p, bounds[0], bounds[len(bounds)-1]); err != nil {
		return nil, err
	}
	return p.history(), nil
}

func (s *httpJSONSource) statement() string { return "GET " + s.base.Redacted() }

// fold fetches every page of the window [from, to) within the timeout and
// folds its records into the plan.
func (s *httpJSONSource) fold(ctx context.Context, p *recordPlan, from, to time.Time) error {
	ctx, cancel := context.WithTimeout(ctx, timeoutOr(s.cfg.Timeout))
	defer cancel()
	first, err := s.url.render(from, to)
	if err != nil {
		return err
	}
	next := first
	seen := map[string]bool{}
	n, page := 0, 0
	where := func() string { return fmt.Sprintf("page %d record %d", page, n) }
	each := func(rec []field) error {
		n++
		if err := cancelled(ctx, n); err != nil {
			return err
		}
		return p.fold(rec, where)
	}
	for page = 1; next != nil; page++ {
		if page > s.cfg.MaxPages {
			return wrap(ErrBadQuery, "more than maxPages (%d) pages: raise it or narrow the URL", s.cfg.MaxPages)
		}
		if seen[next.String()] {
			return s.classify(ctx, wrap(ErrBadQuery, "page %d repeats %s: the pagination loops", page, next.Redacted()))
		}
		seen[next.String()] = true
		link, err := s.page(ctx, next, p.names, each)
		if err != nil {
			return s.classify(ctx, err)
		}
		next, err = s.nextURL(first, next, link)
		if err != nil {
			return s.classify(ctx, err)
		}
	}
	return nil
}

// nextURL turns a page's link or cursor into the next page's URL; a
// cursor is sent with the query's first URL, its window rendered.
func (s *httpJSONSource) nextURL(first, cur *url.URL, link string) (*url.URL, error) {
	if link == "" {
		return nil, nil
	}
	switch s.cfg.Pagination {
	case NextLink:
		u, err := cur.Parse(link)
		if err != nil {
			return nil, wrap(ErrBadQuery, "next link %q: %v", link, err)
		}
		if err := s.sameOrigin(u); err != nil {
			return nil, fmt.Errorf("next link refused: %w", err)
		}
		return u, nil
	case Cursor:
		u := *first
		v := u.Query()
		v.Set(s.cfg.CursorParam, link)
		u.RawQuery = v.Encode()
		return &u, nil
	}
	return nil, nil
}

// page GETs one page and streams its records to each; it returns the next
// link or cursor the page names.
func (s *httpJSONSource) page(ctx context.Context, u *url.URL, names []string, each func([]field) error) (string, error) {
	resp, err := s.get(ctx, u)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body := &limitedBody{r: resp.Body, max: s.cfg.MaxResponseBytes}
	linkPath := ""
	switch s.cfg.Pagination {
	case NextLink:
		linkPath = s.cfg.NextLinkPath
	case Cursor:
		linkPath = s.cfg.CursorPath
	}
	return streamRecords(body, s.cfg.RecordsPath, linkPath, names, each)
}

// get GETs u and checks the answer's status. A 429 with a Retry-After is
// waited out and retried a few times, never past ctx's deadline: a wait
// that would pass it fails at once as rate limited, so the caller reports
// the data unavailable rather than a value. Every attempt goes through the
// same client, so the address policy and redirect checks apply to each.
func (s *httpJSONSource) get(ctx context.Context, u *url.URL) (*http.Response, error) {
	for attempt := 1; ; attempt++ {
		resp, err := s.do(ctx, u)
		if err != nil {
			return nil, err
		}
		if resp.StatusCode != http.StatusTooManyRequests {
			return s.status(resp, u)
		}
		io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
		resp.Body.Close()
		wait, ok := retryAfter(resp.Header.Get("Retry-After"), time.Now())
		switch {
		case !ok:
			return nil, wrap(ErrUnreachable, "rate limited: %s answered %s without a usable Retry-After", u.Redacted(), resp.Status)
		case attempt > maxRateLimitRetries:
			return nil, wrap(ErrUnreachable, "rate limited: %s answered %s %d times in a row", u.Redacted(), resp.Status, attempt)
		}
		if deadline, ok := ctx.Deadline(); ok && time.Now().Add(wait).After(deadline) {
			return nil, wrap(ErrUnreachable, "rate limited: %s asks to retry after %s, beyond the query timeout (%s left)",
				u.Redacted(), wait, time.Until(deadline).Round(time.Millisecond))
		}
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return nil, ctx.Err()
		case <-timer.C:
		}
	}
}

// do sends one GET with the source's headers.
func (s *httpJSONSource) do(ctx context.Context, u *url.URL) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, wrap(ErrBadQuery, "request: %v", err)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "cxloop")
	for k, v := range s.cfg.Headers {
		req.Header.Set(k, v)
	}
	if s.cfg.Token != "" {
		req.Header.Set("Authorization", "Bearer "+s.cfg.Token)
	}
	return s.client.Do(req)
}

// status keeps a 200 answer and turns any other into a typed error.
func (s *httpJSONSource) status(resp *http.Response, u *url.URL) (*http.Response, error) {
	switch {
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		resp.Body.Close()
		return nil, wrap(ErrUnauthorized, "%s answered %s", u.Redacted(), resp.Status)
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
		resp.Body.Close()
		return nil, wrap(ErrUnreachable, "%s answered %s", u.Redacted(), resp.Status)
	case resp.StatusCode != http.StatusOK:
		resp.Body.Close()
		return nil, wrap(ErrBadQuery, "%s answered %s", u.Redacted(), resp.Status)
	}
	return resp, nil
}

// classify maps a transport error to a typed one, keeping typed errors and
// removing any credential from the text: the known secrets, and every
// URL's userinfo, path and query, which may carry a token a link or a
// cursor brought in.
func (s *httpJSONSource) classify(ctx context.Context, err error) error {
	for _, kind := range []error{ErrAddressNotAllowed, ErrTooLarge, ErrTooManySegments, ErrBadQuery, ErrUnauthorized, ErrUnreachable, ErrTimeout} {
		if errors.Is(err, kind) {
			return s.redacted(kind, err)
		}
	}
	if headersTooLarge(err) {
		return wrap(ErrTooLarge, "the response's headers are larger than %s (MaxResponseHeaderBytes)", sizeName(MaxResponseHeaderBytes))
	}
	if errors.Is(err, context.DeadlineExceeded) || ctx.Err() == context.DeadlineExceeded {
		return wrap(ErrTimeout, "no complete answer within %s", timeoutOr(s.cfg.Timeout))
	}
	return s.redacted(ErrUnreachable, err)
}

func (s *httpJSONSource) redacted(kind, err error) error {
	msg := redact.HTTP(err.Error(), s.secret...)
	if errors.Is(err, kind) {
		return &typedError{kind: kind, msg: msg}
	}
	return wrap(kind, "%s", msg)
}

// typedError carries a kind with a message already redacted.
type typedError struct {
	kind error
	msg  string
}

func (e *typedError) Error() string { return e.msg }
func (e *typedError) Unwrap() error { return e.kind }

// Check GETs the first page, its window the last hour, and reads its
// status.
func (s *httpJSONSource) Check(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, timeoutOr(s.cfg.Timeout))
	defer cancel()
	now := time.Now()
	u, err := s.url.render(now.Add(-time.Hour), now)
	if err != nil {
		return err
	}
	resp, err := s.get(ctx, u)
	if err != nil {
		return s.classify(ctx, err)
	}
	resp.Body.Close()
	return nil
}

// Close releases idle connections.
func (s *httpJSONSource) Close() error {
	s.client.CloseIdleConnections()
	return nil
}

// limitedBody fails once more than max bytes arrive, rather than cutting
// the body short (which would read as a truncated document).
type limitedBody struct {
	r      io.Reader
	n, max int64
}

func (l *limitedBody) Read(p []byte) (int, error) {
	if room := l.max + 1 - l.n; int64(len(p)) > room {
		p = p[:room]
	}
	n, err := l.r.Read(p)
	l.n += int64(n)
	if l.n > l.max {
		return n, wrap(ErrBadQuery, "the response is larger than maxResponseBytes (%d)", l.max)
	}
	return n, err
}
