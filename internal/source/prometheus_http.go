package source

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"

	v1 "github.com/prometheus/client_golang/api/prometheus/v1"

	"github.com/cxloop/cxloop/internal/redact"
)

// classify maps a client error to a typed error, its text free of secrets.
func (s *promSource) classify(ctx context.Context, err error, status int) error {
	// The client's errors name the request's URL; redact.HTTP keeps its
	// scheme and host only.
	msg := redact.HTTP(err.Error(), s.secrets...)
	var tooLarge *promTooLarge
	if errors.As(err, &tooLarge) {
		return tooLarge
	}
	if headersTooLarge(err) {
		return wrap(ErrTooLarge, "Prometheus answered headers larger than %s (MaxResponseHeaderBytes)", sizeName(MaxResponseHeaderBytes))
	}
	if errors.Is(err, ErrAddressNotAllowed) {
		var opErr *net.OpError
		if errors.As(err, &opErr) && errors.Is(opErr.Err, ErrAddressNotAllowed) {
			// The policy's own error says why; the client's layers add nothing.
			return fmt.Errorf("prometheus at %s: %w", opErr.Addr, opErr.Err)
		}
		return wrap(ErrAddressNotAllowed, "%s", msg)
	}
	if errors.Is(err, context.DeadlineExceeded) || ctx.Err() == context.DeadlineExceeded {
		return wrap(ErrTimeout, "no answer from Prometheus within %s", s.timeout)
	}
	if errors.Is(err, context.Canceled) {
		return fmt.Errorf("prometheus query: %w", context.Canceled)
	}
	var apiErr *v1.Error
	if errors.As(err, &apiErr) {
		typ, text := apiErr.Type, redact.HTTP(apiErr.Msg, s.secrets...)
		if typ == v1.ErrServer || typ == v1.ErrClient {
			// The client keeps the body of an unexpected status as Detail;
			// Prometheus's own timeout comes back that way, as a 503.
			var body struct{ ErrorType, Error string }
			if json.Unmarshal([]byte(apiErr.Detail), &body) == nil && body.ErrorType != "" {
				typ, text = v1.ErrorType(body.ErrorType), redact.HTTP(body.Error, s.secrets...)
			}
		}
		switch {
		case status == http.StatusUnauthorized || status == http.StatusForbidden:
			return wrap(ErrUnauthorized, "Prometheus answered %d %s", status, http.StatusText(status))
		case typ == v1.ErrBadData || typ == v1.ErrExec:
			return wrap(ErrBadQuery, "%s", text)
		case typ == v1.ErrTimeout || typ == v1.ErrCanceled:
			return wrap(ErrTimeout, "Prometheus stopped the query after %s: %s", s.timeout, text)
		case status == http.StatusNotFound:
			return wrap(ErrUnreachable, "no Prometheus API at the URL (404)")
		default:
			return wrap(ErrUnreachable, "%s: %s", typ, text)
		}
	}
	var netErr net.Error
	var urlErr *url.Error
	if errors.As(err, &netErr) || errors.As(err, &urlErr) {
		return wrap(ErrUnreachable, "%s", msg)
	}
	return wrap(ErrUnreachable, "prometheus: %s", msg)
}

// promAuth adds the credentials to requests for the configured host only,
// so a redirect elsewhere never carries them, and records the response
// status for classify.
type promAuth struct {
	next                      http.RoundTripper
	host                      string
	token, username, password string
}

// RoundTrip implements http.RoundTripper.
func (a *promAuth) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Host == a.host && (a.token != "" || a.username != "" || a.password != "") {
		req = req.Clone(req.Context())
		if a.token != "" {
			req.Header.Set("Authorization", "Bearer "+a.token)
		} else {
			req.SetBasicAuth(a.username, a.password)
		}
	}
	resp, err := a.next.RoundTrip(req)
	if resp != nil && resp.Body != nil {
		resp.Body = newPromBody(resp.Body)
	}
	if resp != nil {
		if st, ok := req.Context().Value(responseStatusKey{}).(*responseStatus); ok {
			st.code = resp.StatusCode
		}
	}
	return resp, err
}

// responseStatus holds the last HTTP status of a query, which the client
// reduces to "client error" before it reaches classify.
type responseStatus struct{ code int }

type responseStatusKey struct{}

func withResponseStatus(ctx context.Context, st *responseStatus) context.Context {
	return context.WithValue(ctx, responseStatusKey{}, st)
}
