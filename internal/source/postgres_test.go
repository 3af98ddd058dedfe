package source

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"database/sql"
	"encoding/pem"
	"errors"
	"math/big"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cxloop/cxloop/internal/measure"
)

// postgresDSN returns the test server's address, started by
// hack/with-services.sh. In CI a missing server fails the test.
func postgresDSN(t *testing.T) *url.URL {
	t.Helper()
	dsn := os.Getenv("CXLOOP_TEST_POSTGRES_DSN")
	if dsn == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("CXLOOP_TEST_POSTGRES_DSN is not set: run the tests through `make test` (hack/with-services.sh starts PostgreSQL)")
		}
		t.Skip("no PostgreSQL: run `make test` to start one")
	}
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// pgLoopback is the allowance the tests name for the server
// hack/with-services.sh starts on 127.0.0.1, an address the egress policy
// refuses otherwise.
var pgLoopback = NetworkPolicy{Allowed: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}}

func openPostgres(t *testing.T, u *url.URL, password string, timeout time.Duration) Source {
	t.Helper()
	port, _ := strconv.Atoi(u.Port())
	src, err := OpenPostgres(PostgresConfig{Host: u.Hostname(), Port: port, Database: u.Path[1:], SSLMode: "disable",
		Username: u.User.Username(), Password: password, Timeout: timeout, Network: pgLoopback})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { src.Close() })
	return src
}

var loadOnce sync.Once

// loadWarehouse copies the demo warehouse's survey responses and tickets
// from SQLite into PostgreSQL, once.
func loadWarehouse(t *testing.T, u *url.URL) {
	t.Helper()
	var loadErr error
	loadOnce.Do(func() { loadErr = copyWarehouse(u.String()) })
	if loadErr != nil {
		t.Fatal(loadErr)
	}
}

func copyWarehouse(dsn string) error {
	ctx := context.Background()
	pg, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer pg.Close(ctx)
	lite, err := sql.Open("sqlite", "file:"+filepath.Join(warehouseDir, "warehouse.db")+"?mode=ro&_time_format=datetime")
	if err != nil {
		return err
	}
	defer lite.Close()
	for _, ddl := range []string{
		`DROP TABLE IF EXISTS survey_responses, tickets, audit`,
		`CREATE TABLE survey_responses (responded_at timestamp, survey text, score integer, persona text, stage text, revenue_weight double precision, account text)`,
		`CREATE TABLE tickets (created_at timestamp, resolved_at timestamp, category text, first_response_seconds double precision, first_contact_resolved integer,
			account text, resolution_seconds double precision, handoffs integer)`,
		`CREATE TABLE audit (n integer)`,
		`CREATE OR REPLACE FUNCTION sneaky_write() RETURNS integer LANGUAGE sql AS 'DELETE FROM survey_responses RETURNING 1'`,
	} {
		if _, err := pg.Exec(ctx, ddl); err != nil {
			return err
		}
	}
	copyTable := func(table string, cols []string, query string, scan func(*sql.Rows) ([]any, error)) error {
		rows, err := lite.Query(query)
		if err != nil {
			return err
		}
		defer rows.Close()
		var all [][]any
		for rows.Next() {
			r, err := scan(rows)
			if err != nil {
				return err
			}
			all = append(all, r)
		}
		_, err = pg.CopyFrom(ctx, pgx.Identifier{table}, cols, pgx.CopyFromRows(all))
		return err
	}
	if err := copyTable("survey_responses", []string{"responded_at", "survey", "score", "persona", "stage", "revenue_weight", "account"},
		`SELECT responded_at, survey, score, persona, stage, revenue_weight, account FROM survey_responses`,
		func(r *sql.Rows) ([]any, error) {
			var at time.Time
			var survey, persona, stage, account string
			var score sql.NullInt64
			var w float64
			err := r.Scan(&at, &survey, &score, &persona, &stage, &w, &account)
			var s any
			if score.Valid {
				s = int32(score.Int64)
			}
			return []any{at.UTC(), survey, s, persona, stage, w, account}, err
		}); err != nil {
		return err
	}
	return copyTable("tickets", []string{"created_at", "resolved_at", "category", "first_response_seconds", "first_contact_resolved",
		"account", "resolution_seconds", "handoffs"},
		`SELECT created_at, resolved_at, category, first_response_seconds, first_contact_resolved, account, resolution_seconds, handoffs FROM tickets`,
		func(r *sql.Rows) ([]any, error) {
			var c, res time.Time
			var cat, account string
			var frt, rs float64
			var fcr, handoffs int64
			err := r.Scan(&c, &res, &cat, &frt, &fcr, &account, &rs, &handoffs)
			return []any{c.UTC(), res.UTC(), cat, frt, int32(fcr), account, rs, int32(handoffs)}, err
		})
}

// A PostgreSQL server on a loopback, link-local or private address is
// refused before any connection unless the manager allows its network; the
// address checked is the one dialled, so a name resolving to loopback is
// refused too. With the allowance the same server answers.
func TestPostgresOnAnInternalAddressNeedsAnAllowance(t *testing.T) {
	ctx := context.Background()
	for _, host := range []string{"127.0.0.1", "localhost", "169.254.169.254", "10.1.2.3"} {
		src, err := OpenPostgres(PostgresConfig{Host: host, Port: 5432, Database: "cx", SSLMode: "disable",
			Username: "cxloop", Password: "pw-not-shown", Timeout: 2 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		err = src.Check(ctx)
		src.Close()
		if !errors.Is(err, ErrAddressNotAllowed) || !strings.Contains(err.Error(), "--allow-egress-network") || strings.Contains(err.Error(), "pw-not-shown") {
			t.Errorf("%s: %v, want ErrAddressNotAllowed naming --allow-egress-network", host, err)
		}
	}
	u := postgresDSN(t)
	pw, _ := u.User.Password()
	port, _ := strconv.Atoi(u.Port())
	cfg := PostgresConfig{Host: u.Hostname(), Port: port, Database: u.Path[1:], SSLMode: "disable",
		Username: u.User.Username(), Password: pw, Timeout: 5 * time.Second}
	refused, err := OpenPostgres(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer refused.Close()
	if err := refused.Check(ctx); !errors.Is(err, ErrAddressNotAllowed) {
		t.Errorf("the test server without an allowance: %v", err)
	}
	cfg.Network = pgLoopback
	allowed, err := OpenPostgres(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer allowed.Close()
	if err := allowed.Check(ctx); err != nil {
		t.Errorf("the test server with 127.0.0.1 allowed: %v", err)
	}
}

// The same metric on the same data gives the same statistics from
// PostgreSQL and SQLite: counts exactly, sums within 1e-12.
func TestPostgresFailuresAreTyped(t *testing.T) {
	u := postgresDSN(t)
	loadWarehouse(t, u)
	pw, _ := u.User.Password()
	ctx := context.Background()
	def := measure.Definition{Formula: measure.FormulaNPS}
	q := Query{Table: "survey_responses", Value: "score", Time: "responded_at"}

	if err := openPostgres(t, u, "wrong-password", 5*time.Second).Check(ctx); !errors.Is(err, ErrUnauthorized) {
		t.Errorf("wrong password: %v", err)
	}
	if err := openPostgres(t, u, "wrong-password", 5*time.Second).Check(ctx); err != nil && strings.Contains(err.Error(), "wrong-password") {
		t.Errorf("the error shows the password: %v", err)
	}
	closed := *u
	closed.Host = "127.0.0.1:1"
	if err := openPostgres(t, &closed, pw, 5*time.Second).Check(ctx); !errors.Is(err, ErrUnreachable) {
		t.Errorf("closed port: %v", err)
	}
	slow := q
	slow.Table, slow.SQL = "", "SELECT responded_at, score FROM survey_responses, pg_sleep(5)"
	start := time.Now()
	if _, err := openPostgres(t, u, pw, 500*time.Millisecond).Query(ctx, def, slow, from, t0); !errors.Is(err, ErrTimeout) {
		t.Errorf("slow query: %v", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("the slow query was stopped after %s, want about the 500ms timeout", d)
	}
	src := openPostgres(t, u, pw, 5*time.Second)
	before, err := src.Query(ctx, def, q, from, t0)
	if err != nil {
		t.Fatal(err)
	}
	writer := Query{SQL: "SELECT responded_at, score FROM survey_responses WHERE sneaky_write() = 1", Value: "score", Time: "responded_at"}
	if _, err := src.Query(ctx, def, writer, from, t0); !errors.Is(err, ErrBadQuery) {
		t.Errorf("a writing query: %v, want it refused by the read-only transaction", err)
	}
	after, err := src.Query(ctx, def, q, from, t0)
	if err != nil || after.Overall.Total.N != before.Overall.Total.N {
		t.Fatalf("data changed: %d rows before, %d after (%v)", before.Overall.Total.N, after.Overall.Total.N, err)
	}
}

// postgresCA returns the PEM of the CA that signed the test server's
// certificate (for the name localhost only), from hack/with-services.sh.
func postgresCA(t *testing.T) []byte {
	t.Helper()
	path := os.Getenv("CXLOOP_TEST_POSTGRES_CA")
	if path == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("CXLOOP_TEST_POSTGRES_CA is not set: run the tests through `make test`")
		}
		t.Skip("no PostgreSQL CA: run `make test` to start the server with TLS")
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// otherCA is the PEM of a CA that signed nothing the server holds.
func otherCA(t *testing.T) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "another CA"}, IsCA: true,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// With the CA from the DataSource's Secret, verify-full accepts the server
// under the name its certificate carries and refuses it under another;
// verify-ca and require check the chain but not the name; a CA that did
// not sign the server's certificate is refused in every mode, as is the
// test CA without it (it is in no trusted root store), and a mode that
// would not check a CA refuses one.
func TestPostgresVerifiesTheServerAgainstTheSecretsCA(t *testing.T) {
	u := postgresDSN(t)
	ca := postgresCA(t)
	pw, _ := u.User.Password()
	port, _ := strconv.Atoi(u.Port())
	loopback := NetworkPolicy{Allowed: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32"), netip.MustParsePrefix("::1/128")}}
	check := func(host, mode string, ca []byte) error {
		src, err := OpenPostgres(PostgresConfig{Host: host, Port: port, Database: u.Path[1:], SSLMode: mode, CA: ca,
			Username: u.User.Username(), Password: pw, Timeout: 5 * time.Second, Network: loopback})
		if err != nil {
			return err
		}
		defer src.Close()
		return src.Check(context.Background())
	}
	for _, c := range []struct {
		host, mode string
		ca         []byte
		ok         bool
	}{
		{"localhost", "verify-full", ca, true},
		{"127.0.0.1", "verify-full", ca, false},
		{"127.0.0.1", "verify-ca", ca, true},
		{"127.0.0.1", "require", ca, true},
		{"localhost", "verify-full", otherCA(t), false},
		{"127.0.0.1", "verify-ca", otherCA(t), false},
		{"127.0.0.1", "require", otherCA(t), false},
		{"localhost", "verify-full", nil, false},
	} {
		err := check(c.host, c.mode, c.ca)
		if c.ok && err != nil {
			t.Errorf("%s %s with CA %v: %v, want connected", c.host, c.mode, c.ca != nil, err)
		}
		if !c.ok && (err == nil || !strings.Contains(err.Error(), "certificate")) {
			t.Errorf("%s %s with CA %v: %v, want a refusal naming the certificate", c.host, c.mode, c.ca != nil, err)
		}
		if err != nil && strings.Contains(err.Error(), pw) {
			t.Errorf("the error shows the password: %v", err)
		}
	}
	for _, mode := range []string{"disable", "allow", "prefer"} {
		if err := check("localhost", mode, ca); !errors.Is(err, ErrBadQuery) || !strings.Contains(err.Error(), "ca.crt") {
			t.Errorf("%s with a CA: %v, want ErrBadQuery naming ca.crt", mode, err)
		}
	}
	if err := check("localhost", "verify-full", []byte("not a certificate")); !errors.Is(err, ErrBadQuery) {
		t.Errorf("a CA that is no PEM: %v, want ErrBadQuery", err)
	}
}
