package source

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cxloop/cxloop/internal/measure"
)

var csatDef = measure.Definition{Formula: measure.FormulaCSAT}

// csatQuery maps records of the form {"at": ..., "score": ..., "team": ...}.
var csatQuery = Query{Table: RecordsTable, Value: "score", Time: "at", Segments: []string{"team"}}

var (
	jsonFrom = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	jsonTo   = time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)
)

func openJSONSource(t *testing.T, c HTTPJSONConfig) Source {
	t.Helper()
	if c.Network.Allowed == nil {
		c.Network = loopback(t)
	}
	src, err := OpenHTTPJSON(c)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { src.Close() })
	return src
}

func TestHTTPJSONReadsRecordsWithTheirTypes(t *testing.T) {
	body := `{"next": null, "items": {"list": [
		{"at": "2026-03-02T10:00:00Z", "score": 5, "team": "eu", "extra": {"deep": [1, 2, {"x": null}]}},
		{"at": "2026-03-03 11:00:00", "score": "4", "team": "eu"},
		{"at": 1773000000, "score": 2, "team": "us"},
		{"at": "2026-03-05", "score": null, "team": "us"},
		{"at": "2026-03-06T00:00:00+02:00", "score": 4.5, "team": "us"},
		{"at": "2026-02-28T23:59:59Z", "score": 1, "team": "us"},
		{"at": "2026-04-01T00:00:00Z", "score": 1, "team": "us"},
		{"score": 1, "team": "us"},
		{"at": "2026-03-07T00:00:00Z", "score": {"v": 3}, "team": "us"}
	]}}`
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, body) }))
	defer srv.Close()
	src := openJSONSource(t, HTTPJSONConfig{URL: srv.URL, RecordsPath: "items.list"})
	res, err := src.Query(context.Background(), csatDef, csatQuery, jsonFrom, jsonTo)
	if err != nil {
		t.Fatal(err)
	}
	// In the window: two eu answers (5 and "4"), and for us a 2, a skipped
	// answer, a 4.5 that is not a score and an object that is not a number.
	eu, us := res.Segments["team=eu"].Stats, res.Segments["team=us"].Stats
	if eu.Total.N != 2 || eu.Scores.Get(5).N != 1 || eu.Scores.Get(4).N != 1 {
		t.Fatalf("eu: %+v", eu)
	}
	if us.Total.N != 1 || us.Scores.Get(2).N != 1 || us.Unrated.N != 1 || us.Rejected.N != 2 {
		t.Fatalf("us: total %d unrated %d rejected %d scores %v", us.Total.N, us.Unrated.N, us.Rejected.N, us.Scores)
	}
	if res.Overall.Total.N != 3 || res.Overall.Rejected.N != 2 {
		t.Fatalf("overall: %+v", res.Overall)
	}
}

func TestHTTPJSONSendsCredentialsAndKeepsThemOutOfErrors(t *testing.T) {
	const token, apiKey = "tok-9f8e7d", "key-1a2b3c"
	var auth, key, accept atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth.Store(r.Header.Get("Authorization"))
		key.Store(r.Header.Get("X-Api-Key"))
		accept.Store(r.Header.Get("Accept"))
		if r.Header.Get("Authorization") != "Bearer "+token {
			http.Error(w, "bad token "+r.Header.Get("Authorization"), http.StatusUnauthorized)
			return
		}
		fmt.Fprint(w, `[]`)
	}))
	defer srv.Close()
	good := openJSONSource(t, HTTPJSONConfig{URL: srv.URL, Token: token, Headers: map[string]string{"X-Api-Key": apiKey}})
	if err := good.Check(context.Background()); err != nil {
		t.Fatal(err)
	}
	if auth.Load() != "Bearer "+token || key.Load() != apiKey || accept.Load() != "application/json" {
		t.Fatalf("sent Authorization %q, X-Api-Key %q, Accept %q", auth.Load(), key.Load(), accept.Load())
	}
	bad := openJSONSource(t, HTTPJSONConfig{URL: srv.URL, Token: "wrong-secret-value"})
	_, err := bad.Query(context.Background(), csatDef, csatQuery, jsonFrom, jsonTo)
	if !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("wrong token: %v, want ErrUnauthorized", err)
	}
	if strings.Contains(err.Error(), "wrong-secret-value") {
		t.Fatalf("the token leaked into the error: %v", err)
	}
}

func TestHTTPJSONRefusesOtherOriginsAndLimits(t *testing.T) {
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("the other origin was contacted with %s (Authorization %q)", r.URL, r.Header.Get("Authorization"))
		fmt.Fprint(w, `[]`)
	}))
	defer other.Close()
	var pages atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		pages.Add(1)
		switch r.URL.Path {
		case "/redirect":
			http.Redirect(w, r, other.URL+"/steal", http.StatusFound)
		case "/link-away":
			fmt.Fprintf(w, `{"data": [], "next": %q}`, other.URL+"/page2")
		case "/loop":
			fmt.Fprint(w, `{"data": [], "next": "/loop"}`)
		case "/endless":
			fmt.Fprintf(w, `{"data": [], "next": "/endless?p=%d"}`, pages.Load())
		case "/big":
			fmt.Fprintf(w, `{"data": [%s{"at": "2026-03-02T00:00:00Z", "score": 5}]}`, strings.Repeat(`{"at": "2026-03-02T00:00:00Z", "score": 5},`, 200))
		case "/slow":
			select {
			case <-r.Context().Done():
			case <-time.After(5 * time.Second):
			}
		case "/broken":
			fmt.Fprint(w, `{"data": [{"at": "2026-03-02T00:00:00Z", "score": 5}, {"at": `)
		case "/notjson":
			fmt.Fprint(w, `<html>maintenance</html>`)
		case "/bad-time":
			fmt.Fprint(w, `[{"at": "last tuesday", "score": 5}]`)
		}
	}))
	defer srv.Close()
	cases := []struct {
		path string
		cfg  HTTPJSONConfig
		want error
	}{
		{"/redirect", HTTPJSONConfig{}, ErrAddressNotAllowed},
		{"/link-away", HTTPJSONConfig{RecordsPath: "data", Pagination: NextLink, NextLinkPath: "next"}, ErrAddressNotAllowed},
		{"/loop", HTTPJSONConfig{RecordsPath: "data", Pagination: NextLink, NextLinkPath: "next"}, ErrBadQuery},
		{"/endless", HTTPJSONConfig{RecordsPath: "data", Pagination: NextLink, NextLinkPath: "next", MaxPages: 5}, ErrBadQuery},
		{"/big", HTTPJSONConfig{RecordsPath: "data", MaxResponseBytes: 4096}, ErrBadQuery},
		{"/slow", HTTPJSONConfig{Timeout: 300 * time.Millisecond}, ErrTimeout},
		{"/broken", HTTPJSONConfig{RecordsPath: "data"}, ErrBadQuery},
		{"/notjson", HTTPJSONConfig{RecordsPath: "data"}, ErrBadQuery},
		{"/bad-time", HTTPJSONConfig{}, ErrBadQuery},
		{"/big", HTTPJSONConfig{RecordsPath: "missing"}, ErrBadQuery},
	}
	for _, tc := range cases {
		tc.cfg.URL = srv.URL + tc.path
		tc.cfg.Token = "secret-token"
		src := openJSONSource(t, tc.cfg)
		start := time.Now()
		_, err := src.Query(context.Background(), csatDef, Query{Table: RecordsTable, Value: "score", Time: "at"}, jsonFrom, jsonTo)
		if !errors.Is(err, tc.want) {
			t.Fatalf("%s: %v, want %v", tc.path, err, tc.want)
		}
		if time.Since(start) > 3*time.Second {
			t.Fatalf("%s: took %s", tc.path, time.Since(start))
		}
	}
	// Within the limit the same page is read whole.
	src := openJSONSource(t, HTTPJSONConfig{URL: srv.URL + "/big", RecordsPath: "data", MaxResponseBytes: 1 << 20})
	res, err := src.Query(context.Background(), csatDef, Query{Table: RecordsTable, Value: "score", Time: "at"}, jsonFrom, jsonTo)
	if err != nil || res.Overall.Total.N != 201 {
		t.Fatalf("within the limit: %v, %+v", err, res)
	}
}

func TestHTTPJSONRefusesPrivateAddressesByDefault(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		fmt.Fprint(w, `[]`)
	}))
	defer srv.Close()
	for _, u := range []string{srv.URL, strings.Replace(srv.URL, "127.0.0.1", "localhost", 1)} {
		src, err := OpenHTTPJSON(HTTPJSONConfig{URL: u})
		if err != nil {
			t.Fatal(err)
		}
		if err := src.Check(context.Background()); !errors.Is(err, ErrAddressNotAllowed) {
			t.Fatalf("%s: %v, want ErrAddressNotAllowed", u, err)
		}
	}
	if hits.Load() != 0 {
		t.Fatalf("the refused server was reached %d times", hits.Load())
	}
	for _, tc := range []struct {
		addr string
		ok   bool
	}{{"169.254.169.254", false}, {"10.0.0.1", false}, {"100.64.1.1", false}, {"::1", false}, {"fe80::1", false},
		{"0.0.0.0", false}, {"8.8.8.8", true}, {"2001:4860::8888", true}} {
		if got := (NetworkPolicy{}).Permits(mustAddr(t, tc.addr)); got != tc.ok {
			t.Fatalf("%s permitted %v, want %v", tc.addr, got, tc.ok)
		}
	}
	nets, _ := ParseNetworks([]string{"10.96.0.0/12"})
	if !(NetworkPolicy{Allowed: nets}).Permits(mustAddr(t, "10.96.3.4")) || (NetworkPolicy{Allowed: nets}).Permits(mustAddr(t, "10.0.0.1")) {
		t.Fatal("an allowed network is not applied exactly")
	}
}

func mustAddr(t *testing.T, s string) netip.Addr {
	t.Helper()
	a, err := netip.ParseAddr(s)
	if err != nil {
		t.Fatal(err)
	}
	return a
}
