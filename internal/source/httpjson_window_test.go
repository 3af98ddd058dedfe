package source

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// surveyRecords span February to April 2026, with answers on both edges of
// March: the window [jsonFrom, jsonTo).
var surveyRecords = []map[string]any{
	{"at": "2026-02-27T12:00:00Z", "score": 1, "team": "eu"},
	{"at": "2026-02-28T23:59:59Z", "score": 2, "team": "us"},
	{"at": "2026-03-01T00:00:00Z", "score": 5, "team": "eu"},
	{"at": "2026-03-10T08:00:00Z", "score": 4, "team": "us"},
	{"at": "2026-03-15T08:00:00Z", "score": 3, "team": "eu"},
	{"at": "2026-03-31T23:59:59Z", "score": 5, "team": "us"},
	{"at": "2026-04-01T00:00:00Z", "score": 1, "team": "us"},
	{"at": "2026-04-12T00:00:00Z", "score": 2, "team": "eu"},
}

// surveyAPI serves surveyRecords: on /all every record; on /v1/<from
// unix>/responses only those with since <= at <= until (an inclusive end,
// as many APIs have), in two pages joined by a cursor. It fails the test
// unless it receives exactly the values the window [jsonFrom, jsonTo)
// renders to.
func surveyAPI(t *testing.T, requests *atomic.Int32) *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		if r.URL.Path == "/all" {
			json.NewEncoder(w).Encode(map[string]any{"data": surveyRecords})
			return
		}
		q := r.URL.Query()
		want := map[string]string{"since": "2026-03-01T00:00:00Z", "until": "2026-04-01T00:00:00Z",
			"from": "1772323200", "to": "1775001600", "lang": "en gb"}
		for k, v := range want {
			if q.Get(k) != v {
				t.Errorf("query %s = %q, want %q (raw query %s)", k, q.Get(k), v, r.URL.RawQuery)
			}
		}
		if !strings.Contains(r.URL.RawQuery, "since=2026-03-01T00%3A00%3A00Z") {
			t.Errorf("since is not query-escaped: %s", r.URL.RawQuery)
		}
		if r.URL.EscapedPath() != "/v1/1772323200/responses" {
			t.Errorf("path %s, want /v1/1772323200/responses", r.URL.EscapedPath())
		}
		since, _ := time.Parse(time.RFC3339, q.Get("since"))
		until, _ := time.Parse(time.RFC3339, q.Get("until"))
		var in []map[string]any
		for _, rec := range surveyRecords {
			at, _ := time.Parse(time.RFC3339, rec["at"].(string))
			if !at.Before(since) && !at.After(until) {
				in = append(in, rec)
			}
		}
		if q.Get("cursor") == "" {
			json.NewEncoder(w).Encode(map[string]any{"data": in[:2], "cursor": "page-2"})
			return
		}
		json.NewEncoder(w).Encode(map[string]any{"data": in[2:], "cursor": nil})
	}))
}

func TestHTTPJSONAsksTheAPIForTheWindowAndCountsTheSame(t *testing.T) {
	var requests atomic.Int32
	srv := surveyAPI(t, &requests)
	defer srv.Close()
	all := openJSONSource(t, HTTPJSONConfig{URL: srv.URL + "/all", RecordsPath: "data"})
	want, err := all.Query(context.Background(), csatDef, csatQuery, jsonFrom, jsonTo)
	if err != nil {
		t.Fatal(err)
	}
	windowed := openJSONSource(t, HTTPJSONConfig{
		URL:         srv.URL + "/v1/{{ .From.Unix }}/responses?since={{ .From }}&until={{ .To }}&from={{ .From.Unix }}&to={{ .To.Unix }}&lang=en%20gb",
		RecordsPath: "data", Pagination: Cursor, CursorPath: "cursor", CursorParam: "cursor",
	})
	requests.Store(0)
	got, err := windowed.Query(context.Background(), csatDef, csatQuery, jsonFrom, jsonTo)
	if err != nil {
		t.Fatal(err)
	}
	if requests.Load() != 2 {
		t.Fatalf("%d requests, want two pages", requests.Load())
	}
	// The API returned the record at exactly jsonTo; the in-process filter
	// drops it, so both paths count the same four answers.
	if got.Overall.Total.N != 4 || !reflect.DeepEqual(got.Overall, want.Overall) || !reflect.DeepEqual(got.Segments, want.Segments) {
		t.Fatalf("windowed %+v %+v\nunfiltered %+v %+v", got.Overall, got.Segments, want.Overall, want.Segments)
	}
}

func TestHTTPJSONCheckRendersTheLastHour(t *testing.T) {
	var since, until atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		since.Store(r.URL.Query().Get("since"))
		until.Store(r.URL.Query().Get("until"))
		fmt.Fprint(w, `[]`)
	}))
	defer srv.Close()
	src := openJSONSource(t, HTTPJSONConfig{URL: srv.URL + "/r?since={{ .From }}&until={{ .To.Unix }}"})
	if err := src.Check(context.Background()); err != nil {
		t.Fatal(err)
	}
	from, err := time.Parse(time.RFC3339, since.Load().(string))
	if err != nil || time.Since(from) < 59*time.Minute || time.Since(from) > 62*time.Minute {
		t.Fatalf("since %q (%v), want about an hour ago", since.Load(), err)
	}
	if to := until.Load().(string); to != fmt.Sprint(from.Add(time.Hour).Unix()) && to != fmt.Sprint(from.Add(time.Hour+time.Second).Unix()) {
		t.Fatalf("until %q, want an hour after since %s", to, from)
	}
}

func TestWindowURLRendersIntoPathAndQueryOnly(t *testing.T) {
	from := time.Date(2026, 3, 1, 10, 0, 0, 700_000_000, time.FixedZone("CET", 3600))
	to := time.Date(2026, 3, 1, 11, 0, 0, 200_000_000, time.UTC)
	cases := []struct{ raw, want string }{
		{"https://api.example.com/r?since={{ .From }}&until={{ .To }}",
			"https://api.example.com/r?since=2026-03-01T09%3A00%3A00Z&until=2026-03-01T11%3A00%3A01Z"},
		{"https://api.example.com/r/{{ .From.Unix }}-{{ .To.Unix }}/x%2Fy?k=a+b",
			"https://api.example.com/r/1772355600-1772362801/x%2Fy?k=a+b"},
		{"https://api.example.com/r?q=created>{{ .From }}&sort=asc",
			"https://api.example.com/r?q=created%3E2026-03-01T09%3A00%3A00Z&sort=asc"},
		{"https://api.example.com/plain?a=1", "https://api.example.com/plain?a=1"},
	}
	for _, tc := range cases {
		w, err := parseWindowURL(tc.raw)
		if err != nil {
			t.Fatalf("%s: %v", tc.raw, err)
		}
		u, err := w.render(from, to)
		if err != nil {
			t.Fatalf("%s: %v", tc.raw, err)
		}
		if u.String() != tc.want {
			t.Errorf("%s\n got %s\nwant %s", tc.raw, u, tc.want)
		}
	}
}

func TestHTTPJSONRefusesMisplacedOrUnknownPlaceholders(t *testing.T) {
	cases := []struct{ url, says string }{
		{"https://{{ .From }}.example.com/r", "not in the scheme, host or port"},
		{"https://api.example.com:{{ .From.Unix }}/r", "not in the scheme, host or port"},
		{"https://u{{ .To }}@api.example.com/r", "not in the scheme, host or port"},
		{"https://api.example.com/r?{{ .From }}=1", "names cannot hold a placeholder"},
		{"https://api.example.com/r#{{ .From }}", "fragment"},
		{"https://api.example.com/r?since={{ .From.Year }}", "unknown placeholder"},
		{"https://api.example.com/r?since={{.From}}", "unknown placeholder"},
		{"https://api.example.com/{{ .Env }}/r", "unknown placeholder"},
	}
	for _, tc := range cases {
		_, err := OpenHTTPJSON(HTTPJSONConfig{URL: tc.url})
		if !errors.Is(err, ErrBadQuery) || !strings.Contains(err.Error(), "url") || !strings.Contains(err.Error(), tc.says) {
			t.Errorf("%s: %v, want ErrBadQuery saying %q", tc.url, err, tc.says)
		}
	}
}

func TestHTTPJSONWaitsOutRetryAfter(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch n := hits.Add(1); {
		case r.URL.Path == "/once" && n == 1:
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusTooManyRequests)
		case r.URL.Path == "/date" && n == 1:
			w.Header().Set("Retry-After", time.Now().Add(-time.Minute).UTC().Format(http.TimeFormat))
			w.WriteHeader(http.StatusTooManyRequests)
		case r.URL.Path == "/later":
			w.Header().Set("Retry-After", "30")
			w.WriteHeader(http.StatusTooManyRequests)
		case r.URL.Path == "/always":
			w.Header().Set("Retry-After", "0")
			w.WriteHeader(http.StatusTooManyRequests)
		default:
			fmt.Fprint(w, `[{"at": "2026-03-02T00:00:00Z", "score": 5}]`)
		}
	}))
	defer srv.Close()
	query := func(path string, timeout time.Duration) (time.Duration, error) {
		hits.Store(0)
		src := openJSONSource(t, HTTPJSONConfig{URL: srv.URL + path, Timeout: timeout})
		start := time.Now()
		res, err := src.Query(context.Background(), csatDef, Query{Table: RecordsTable, Value: "score", Time: "at"}, jsonFrom, jsonTo)
		if err == nil && res.Overall.Total.N != 1 {
			t.Fatalf("%s: %d answers, want 1", path, res.Overall.Total.N)
		}
		return time.Since(start), err
	}
	took, err := query("/once", 10*time.Second)
	if err != nil || hits.Load() != 2 || took < 900*time.Millisecond {
		t.Fatalf("Retry-After: 1: %v after %d requests in %s, want success on the second after a second", err, hits.Load(), took)
	}
	took, err = query("/date", 10*time.Second)
	if err != nil || hits.Load() != 2 || took > 900*time.Millisecond {
		t.Fatalf("a past HTTP-date: %v after %d requests in %s, want an immediate retry", err, hits.Load(), took)
	}
	took, err = query("/later", 2*time.Second)
	if !errors.Is(err, ErrUnreachable) || !strings.Contains(err.Error(), "rate limited") || hits.Load() != 1 || took > time.Second {
		t.Fatalf("Retry-After beyond the timeout: %v after %d requests in %s, want an immediate rate-limited ErrUnreachable", err, hits.Load(), took)
	}
	_, err = query("/always", 10*time.Second)
	if !errors.Is(err, ErrUnreachable) || !strings.Contains(err.Error(), "rate limited") || hits.Load() != maxRateLimitRetries+1 {
		t.Fatalf("always 429: %v after %d requests, want rate limited after %d", err, hits.Load(), maxRateLimitRetries+1)
	}
}

func TestHTTPJSONNamesOnlyTheUnknownPlaceholder(t *testing.T) {
	_, err := OpenHTTPJSON(HTTPJSONConfig{URL: "https://api.example.com/r?key=sk-live-1234{{ .From.Year }}"})
	if !errors.Is(err, ErrBadQuery) || !strings.Contains(err.Error(), `"{{ .From.Year }}"`) || strings.Contains(err.Error(), "sk-live-1234") {
		t.Fatalf("%v, want ErrBadQuery naming {{ .From.Year }} and nothing else of the value", err)
	}
}
