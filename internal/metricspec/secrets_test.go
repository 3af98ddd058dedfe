package metricspec

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/netip"
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
