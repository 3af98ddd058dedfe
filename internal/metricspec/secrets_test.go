package metricspec

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	cxv1 "github.com/cxloop/cxloop/api/v1alpha1"
	"github.com/cxloop/cxloop/internal/source"
)

// A token written into its Secret with a trailing newline, as `kubectl
// create secret --from-file` does, is sent without it.
func TestSourceCredentialsAreTrimmed(t *testing.T) {
	var got string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.Header.Get("Authorization")
		if got != "Bearer t0ken" {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		w.Write([]byte(`[]`))
	}))
	defer srv.Close()
	sources := &Sources{
		Secrets: func(context.Context, string, string) (map[string][]byte, string, error) {
			return map[string][]byte{"token": []byte("  t0ken\r\n")}, "1", nil
		},
		Network: source.NetworkPolicy{Allowed: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}},
	}
	ds := &cxv1.DataSource{ObjectMeta: metav1.ObjectMeta{Name: "api", Namespace: "cx", UID: "u1"},
		Spec: cxv1.DataSourceSpec{Type: cxv1.DataSourceHTTPJSON, QueryTimeout: "5s",
			SecretRef: &cxv1.LocalObjectReference{Name: "api-token"}, HTTPJSON: &cxv1.HTTPJSONSource{URL: srv.URL}}}
	if err := sources.CheckSource(context.Background(), ds); err != nil {
		t.Fatalf("check with a token ending in a newline: %v (sent %q)", err, got)
	}
}

// A PostgreSQL DataSource's CA comes from its Secret's ca.crt: one that is
// no certificate, or one beside a mode that would not check it, is refused
// before anything connects (BadQuery).
func TestPostgresCAComesFromTheSecret(t *testing.T) {
	for _, c := range []struct{ mode, ca string }{{"verify-full", "not a certificate"}, {"prefer", "not a certificate"}} {
		sources := &Sources{Secrets: func(context.Context, string, string) (map[string][]byte, string, error) {
			return map[string][]byte{"username": []byte("cx"), "password": []byte("pw"), "ca.crt": []byte(c.ca)}, "1", nil
		}}
		ds := &cxv1.DataSource{ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: "cx", UID: "u1"},
			Spec: cxv1.DataSourceSpec{Type: cxv1.DataSourcePostgres, QueryTimeout: "5s", SecretRef: &cxv1.LocalObjectReference{Name: "db"},
				Postgres: &cxv1.PostgresSource{Host: "db.example.com", Port: 5432, Database: "cx", SSLMode: c.mode}}}
		_, err := sources.Get(context.Background(), ds)
		var check *CheckError
		if !errors.As(err, &check) || check.Reason != "BadQuery" || !strings.Contains(err.Error(), "ca.crt") {
			t.Errorf("%s with ca.crt %q: %v, want BadQuery naming ca.crt", c.mode, c.ca, err)
		}
	}
}

// A header naming a key its Secret does not hold is SecretNotFound, the
// reason the user acts on, not a generic check failure.
func TestAMissingHeaderKeyIsSecretNotFound(t *testing.T) {
	sources := &Sources{Secrets: func(context.Context, string, string) (map[string][]byte, string, error) {
		return map[string][]byte{"token": []byte("t")}, "1", nil
	}}
	ds := &cxv1.DataSource{ObjectMeta: metav1.ObjectMeta{Name: "api", Namespace: "cx", UID: "u1"},
		Spec: cxv1.DataSourceSpec{Type: cxv1.DataSourceHTTPJSON, QueryTimeout: "5s", SecretRef: &cxv1.LocalObjectReference{Name: "api"},
			HTTPJSON: &cxv1.HTTPJSONSource{URL: "https://survey.example.com/responses", HeadersFromSecret: map[string]string{"X-Api-Key": "absent"}}}}
	_, err := sources.Get(context.Background(), ds)
	var check *CheckError
	if !errors.As(err, &check) || check.Reason != "SecretNotFound" || !strings.Contains(err.Error(), "absent") {
		t.Fatalf("a header's missing key: %v, want SecretNotFound naming the key", err)
	}
}
