package metricspec

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	cxv1 "github.com/cxloop/cxloop/api/v1alpha1"
	"github.com/cxloop/cxloop/internal/source"
)

// SecretReader returns the data and version of a Secret in a namespace.
type SecretReader func(ctx context.Context, namespace, name string) (map[string][]byte, string, error)

// ConfigMapReader returns one key of a ConfigMap in a namespace.
type ConfigMapReader func(ctx context.Context, namespace, name, key string) ([]byte, error)

// CheckError is a failed connectivity check with a reason users can act
// on: SecretNotFound, AuthFailed, Unreachable, PathNotAllowed, Timeout,
// BadSettings.
type CheckError struct {
	Reason string
	Err    error
}

func (e *CheckError) Error() string { return e.Err.Error() }
func (e *CheckError) Unwrap() error { return e.Err }

// CheckReason returns the reason of a check error, "CheckFailed" when it
// has none.
func CheckReason(err error) string {
	var ce *CheckError
	if errors.As(err, &ce) {
		return ce.Reason
	}
	return "CheckFailed"
}

// Sources keeps one connected source (and its connection pool) per
// DataSource, rebuilt when the DataSource or its Secret changes.
type Sources struct {
	// Secrets reads credentials from the DataSource's own namespace.
	Secrets SecretReader
	// Roots are the directories file-based sources may read under.
	Roots []string
	// ConfigMaps reads a ConfigMap key for CSV sources that keep their file
	// there; nil refuses such sources.
	ConfigMaps ConfigMapReader
	// Network says which addresses network sources (Prometheus, HTTP
	// JSON, PostgreSQL) may reach.
	Network source.NetworkPolicy
	// Observe, when set, is told of every round trip a DataSource's source
	// makes (for the manager's own metrics).
	Observe func(ds *cxv1.DataSource, kind source.QueryKind, took time.Duration, err error)

	mu      sync.Mutex
	entries map[string]sourceEntry
}

type sourceEntry struct {
	fingerprint string
	src         source.Source
}

// Get returns the connected source of a DataSource.
func (s *Sources) Get(ctx context.Context, ds *cxv1.DataSource) (source.Source, error) {
	var secret map[string][]byte
	fingerprint := fmt.Sprintf("%d", ds.Generation)
	if ds.Spec.SecretRef != nil {
		if s.Secrets == nil {
			return nil, &CheckError{Reason: "SecretNotFound", Err: fmt.Errorf("secret %s: no credentials can be read here", ds.Spec.SecretRef.Name)}
		}
		data, rv, err := s.Secrets(ctx, ds.Namespace, ds.Spec.SecretRef.Name)
		if err != nil {
			return nil, &CheckError{Reason: "SecretNotFound", Err: err}
		}
		secret, fingerprint = data, fingerprint+"/"+rv
	}
	key := ds.Namespace + "/" + ds.Name + "/" + string(ds.UID)
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.entries[key]; ok && e.fingerprint == fingerprint {
		return e.src, nil
	}
	src, err := s.open(ds, secret)
	if err != nil {
		return nil, err
	}
	if s.Observe != nil {
		observed := ds.DeepCopy()
		src = source.Observed(src, func(kind source.QueryKind, took time.Duration, err error) {
			s.Observe(observed, kind, took, err)
		})
	}
	if s.entries == nil {
		s.entries = map[string]sourceEntry{}
	}
	if old, ok := s.entries[key]; ok {
		_ = old.src.Close()
	}
	s.entries[key] = sourceEntry{fingerprint: fingerprint, src: src}
	return src, nil
}

func (s *Sources) open(ds *cxv1.DataSource, secret map[string][]byte) (source.Source, error) {
	if ds.Spec.QueryTimeout == "" {
		return nil, &CheckError{Reason: "BadSettings", Err: fmt.Errorf("spec.queryTimeout: %w", errNotDefaulted)}
	}
	timeout, err := time.ParseDuration(ds.Spec.QueryTimeout)
	if err != nil {
		return nil, &CheckError{Reason: "BadSettings", Err: fmt.Errorf("spec.queryTimeout: %w", err)}
	}
	maxConns := int(ds.Spec.MaxConnections)
	var src source.Source
	switch {
	case ds.Spec.Type == cxv1.DataSourceSQLite && ds.Spec.SQLite != nil:
		src, err = source.OpenSQLite(source.SQLiteConfig{Path: ds.Spec.SQLite.Path, Roots: s.Roots, Timeout: timeout, MaxConnections: maxConns})
	case ds.Spec.Type == cxv1.DataSourcePostgres && ds.Spec.Postgres != nil:
		p := ds.Spec.Postgres
		src, err = source.OpenPostgres(source.PostgresConfig{Host: p.Host, Port: int(p.Port), Database: p.Database, SSLMode: p.SSLMode,
			Username: secretValue(secret, "username"), Password: secretValue(secret, "password"), CA: secret["ca.crt"],
			Timeout: timeout, MaxConnections: maxConns,
			Network: s.Network})
	case ds.Spec.Type == cxv1.DataSourcePrometheus && ds.Spec.Prometheus != nil:
		src, err = source.OpenPrometheus(source.PrometheusConfig{URL: ds.Spec.Prometheus.URL, Token: secretValue(secret, "token"),
			Username: secretValue(secret, "username"), Password: secretValue(secret, "password"), Timeout: timeout,
			MaxConnections: maxConns, Network: s.Network})
	case ds.Spec.Type == cxv1.DataSourceHTTPJSON && ds.Spec.HTTPJSON != nil:
		src, err = s.openHTTPJSON(ds, secret, timeout, maxConns)
	case ds.Spec.Type == cxv1.DataSourceCSV && ds.Spec.CSV != nil:
		src, err = s.openCSV(ds, timeout)
	default:
		return nil, &CheckError{Reason: "BadSettings", Err: fmt.Errorf("type %s without its settings block", ds.Spec.Type)}
	}
	var check *CheckError
	switch {
	case errors.As(err, &check):
		// A driver's opener that already said why (SecretNotFound for a
		// header's missing key) keeps its reason.
		return nil, err
	case err != nil:
		return nil, &CheckError{Reason: reasonOf(err), Err: err}
	}
	return src, nil
}

// secretValue is a credential of the DataSource's Secret without the
// whitespace around it: a value written with `kubectl create secret
// --from-file` or echo ends in a newline that is no part of it, and would
// otherwise fail the login and slip past redaction.
func secretValue(secret map[string][]byte, key string) string {
	return strings.TrimSpace(string(secret[key]))
}

// CheckSource runs the driver's connectivity check.
func (s *Sources) CheckSource(ctx context.Context, ds *cxv1.DataSource) error {
	src, err := s.Get(ctx, ds)
	if err != nil {
		return err
	}
	if err := src.Check(ctx); err != nil {
		return &CheckError{Reason: reasonOf(err), Err: err}
	}
	return nil
}

// reasonOf maps a source error to a condition reason.
func reasonOf(err error) string {
	switch {
	case errors.Is(err, source.ErrUnauthorized):
		return "AuthFailed"
	case errors.Is(err, source.ErrUnreachable):
		return "Unreachable"
	case errors.Is(err, source.ErrPathNotAllowed):
		return "PathNotAllowed"
	case errors.Is(err, source.ErrAddressNotAllowed):
		return "AddressNotAllowed"
	case errors.Is(err, source.ErrTimeout):
		return "Timeout"
	case errors.Is(err, source.ErrTooLarge):
		return "TooLarge"
	case errors.Is(err, source.ErrBadQuery):
		return "BadQuery"
	}
	return "CheckFailed"
}

// openHTTPJSON maps an httpjson DataSource to the driver; the token and the
// headers' values come from the DataSource's Secret.
func (s *Sources) openHTTPJSON(ds *cxv1.DataSource, secret map[string][]byte, timeout time.Duration, maxConns int) (source.Source, error) {
	h := ds.Spec.HTTPJSON
	cfg := source.HTTPJSONConfig{URL: h.URL, RecordsPath: h.RecordsPath, Token: secretValue(secret, "token"),
		MaxResponseBytes: h.MaxResponseBytes, MaxPages: int(h.MaxPages), Timeout: timeout, MaxConnections: maxConns,
		Network: s.Network}
	for header, key := range h.HeadersFromSecret {
		v, ok := secret[key]
		if !ok {
			return nil, &CheckError{Reason: "SecretNotFound", Err: fmt.Errorf("header %s: the Secret has no key %q", header, key)}
		}
		if cfg.Headers == nil {
			cfg.Headers = map[string]string{}
		}
		cfg.Headers[header] = strings.TrimSpace(string(v))
	}
	if p := h.Pagination; p != nil {
		cfg.Pagination = source.Pagination(p.Type)
		cfg.NextLinkPath, cfg.CursorPath, cfg.CursorParam = p.NextLinkPath, p.CursorPath, p.CursorParam
	}
	return source.OpenHTTPJSON(cfg)
}

// openCSV maps a csv DataSource to the driver: a file under the data
// roots, or a key of a ConfigMap in the DataSource's own namespace, read
// afresh at each query.
func (s *Sources) openCSV(ds *cxv1.DataSource, timeout time.Duration) (source.Source, error) {
	c := ds.Spec.CSV
	cfg := source.CSVConfig{Path: c.Path, Roots: s.Roots, Timeout: timeout}
	if c.Delimiter != "" {
		r, _ := utf8.DecodeRuneInString(c.Delimiter)
		cfg.Delimiter = r
	}
	if ref := c.ConfigMapRef; ref != nil {
		if s.ConfigMaps == nil {
			return nil, &CheckError{Reason: "Unsupported", Err: fmt.Errorf("this operator reads no ConfigMaps")}
		}
		read, ns := s.ConfigMaps, ds.Namespace
		cfg.Name = fmt.Sprintf("configmap %s key %s", ref.Name, ref.Key)
		cfg.Open = func(ctx context.Context) (io.ReadCloser, error) {
			b, err := read(ctx, ns, ref.Name, ref.Key)
			if err != nil {
				return nil, err
			}
			return io.NopCloser(bytes.NewReader(b)), nil
		}
	}
	return source.OpenCSV(cfg)
}
