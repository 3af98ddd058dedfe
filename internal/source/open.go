package source

import (
	"crypto/tls"
	"crypto/x509"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite" // registers the pure-Go "sqlite" driver

	"github.com/cxloop/cxloop/internal/redact"
)

// PostgresConfig holds a PostgreSQL DataSource's settings.
type PostgresConfig struct {
	Host     string
	Port     int
	Database string
	SSLMode  string
	// Username and Password come from the DataSource's Secret.
	Username, Password string
	// CA holds the PEM certificates of the CAs that sign the server's
	// certificate (the Secret's ca.crt), for a server whose certificate
	// no public CA signs. With it, require and verify-ca check the
	// server's chain against those CAs, and verify-full its host name too;
	// without it verify-ca and verify-full use the manager's trusted roots.
	CA             []byte
	Timeout        time.Duration
	MaxConnections int
	// Network says which addresses the server may have; the zero value
	// refuses loopback, link-local and private ones. It is checked on the
	// address each connection dials, after name resolution.
	Network NetworkPolicy
}

// OpenPostgres opens a pool to a PostgreSQL server. Nothing connects until
// the first query or Check.
func OpenPostgres(c PostgresConfig) (Source, error) {
	if c.Port == 0 {
		c.Port = 5432
	}
	if c.SSLMode == "" {
		c.SSLMode = "prefer"
	}
	dsn := (&url.URL{
		Scheme:   "postgres",
		User:     url.UserPassword(c.Username, c.Password),
		Host:     net.JoinHostPort(c.Host, strconv.Itoa(c.Port)),
		Path:     "/" + c.Database,
		RawQuery: url.Values{"sslmode": {c.SSLMode}, "application_name": {"cxloop"}}.Encode(),
	}).String()
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, wrap(ErrBadQuery, "postgres settings: %v", redact.Text(err.Error(), c.Password))
	}
	if len(c.CA) > 0 {
		tlsConfig, err := serverCA(c.CA, c.SSLMode, c.Host)
		if err != nil {
			return nil, err
		}
		cfg.TLSConfig, cfg.Fallbacks = tlsConfig, nil
	}
	cfg.ConnectTimeout = timeoutOr(c.Timeout)
	// Every connection, fallbacks included, dials through the policy.
	cfg.DialFunc = c.Network.Dialer(cfg.ConnectTimeout).DialContext
	db := stdlib.OpenDB(*cfg)
	setPool(db, c.MaxConnections)
	return &sqlSource{db: db, dialect: postgresDialect, timeout: timeoutOr(c.Timeout), readOnlyTx: true}, nil
}

// SQLiteConfig holds an SQLite DataSource's settings.
type SQLiteConfig struct {
	// Path is relative to one of Roots.
	Path           string
	Roots          []string
	Timeout        time.Duration
	MaxConnections int
}

// OpenSQLite opens an SQLite file read-only, with query_only set, after
// checking that its path stays inside the allowed roots.
func OpenSQLite(c SQLiteConfig) (Source, error) {
	path, err := ResolvePath(c.Path, c.Roots)
	if err != nil {
		return nil, err
	}
	if sqliteHeapErr != nil {
		// Without the heap limit one query could exhaust the manager.
		return nil, fmt.Errorf("SQLite's heap limit (MaxSQLiteHeapBytes) could not be set, so no SQLite file is opened: %w", sqliteHeapErr)
	}
	// A page cache of 256 KiB per connection, not SQLite's 2 MiB: every
	// DataSource holds its own pool, and an aggregation reads each page
	// once, so a larger cache only holds memory the kernel's page cache
	// already keeps.
	dsn := "file:" + (&url.URL{Path: path}).EscapedPath() + "?mode=ro&_pragma=query_only(1)&_pragma=busy_timeout(5000)&_pragma=cache_size(-256)&_time_format=datetime"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, wrap(ErrUnreachable, "open %s: %v", c.Path, err)
	}
	setPool(db, c.MaxConnections)
	// An idle SQLite connection holds about half a MiB outside Go's heap
	// (its page cache, lookaside and the C stack of the driver), and
	// reopening one on a local file costs a schema read: each DataSource
	// keeps one idle, so 20 DataSources hold 20, not 80.
	db.SetMaxIdleConns(1)
	return &sqlSource{db: db, dialect: sqliteDialect, timeout: timeoutOr(c.Timeout)}, nil
}

// ResolvePath resolves a relative path under the first root that holds it,
// refusing absolute paths, paths that climb out with "..", and symbolic
// links that lead outside the root.
func ResolvePath(p string, roots []string) (string, error) {
	if p == "" || filepath.IsAbs(p) {
		return "", wrap(ErrPathNotAllowed, "%q: give a path relative to a data root", p)
	}
	clean := filepath.Clean(p)
	if clean == ".." || strings.HasPrefix(clean, ".."+string(filepath.Separator)) {
		return "", wrap(ErrPathNotAllowed, "%q leaves the data roots", p)
	}
	if len(roots) == 0 {
		return "", wrap(ErrPathNotAllowed, "%q: the manager was started without data roots", p)
	}
	var lastErr error
	for _, root := range roots {
		realRoot, err := filepath.EvalSymlinks(root)
		if err != nil {
			lastErr = err
			continue
		}
		full, err := filepath.EvalSymlinks(filepath.Join(realRoot, clean))
		if err != nil {
			lastErr = err
			continue
		}
		if rel, err := filepath.Rel(realRoot, full); err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
			return "", wrap(ErrPathNotAllowed, "%q leads outside the data root", p)
		}
		if _, err := os.Stat(full); err != nil {
			lastErr = err
			continue
		}
		return full, nil
	}
	return "", wrap(ErrUnreachable, "%q not found under the data roots: %v", p, lastErr)
}

func setPool(db *sql.DB, max int) {
	if max <= 0 {
		max = 4
	}
	db.SetMaxOpenConns(max)
	db.SetMaxIdleConns(max)
	db.SetConnMaxIdleTime(5 * time.Minute)
}

func timeoutOr(d time.Duration) time.Duration {
	if d <= 0 {
		return 30 * time.Second
	}
	return d
}

// serverCA is the TLS configuration that trusts only the CAs of pem: the
// chain is checked in every mode that encrypts, and the host name too in
// verify-full, as libpq does with a root certificate file.
func serverCA(pem []byte, sslMode, host string) (*tls.Config, error) {
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, wrap(ErrBadQuery, "ca.crt of the Secret holds no PEM certificate")
	}
	switch sslMode {
	case "verify-full":
		return &tls.Config{ServerName: host, RootCAs: pool, MinVersion: tls.VersionTLS12}, nil
	case "require", "verify-ca":
		return &tls.Config{
			MinVersion: tls.VersionTLS12,
			// The chain is checked below; only the name check is skipped.
			InsecureSkipVerify: true, //nolint:gosec
			VerifyConnection: func(cs tls.ConnectionState) error {
				if len(cs.PeerCertificates) == 0 {
					return errors.New("the server sent no certificate")
				}
				inter := x509.NewCertPool()
				for _, c := range cs.PeerCertificates[1:] {
					inter.AddCert(c)
				}
				_, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{Roots: pool, Intermediates: inter})
				return err
			},
		}, nil
	}
	return nil, wrap(ErrBadQuery, "a CA in the Secret (ca.crt) needs sslMode require, verify-ca or verify-full, not %s, which would not check it", sslMode)
}
