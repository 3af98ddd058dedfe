package hostile

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cxv1 "github.com/cxloop/cxloop/api/v1alpha1"
)

// errText is the typed error each condition reason stands for, as the
// Metric's message carries it when the query (not the DataSource's check)
// is what fails.
var errText = map[string]string{
	"TooLarge":          "answer too large",
	"BadQuery":          "bad query",
	"AuthFailed":        "refused the credentials",
	"AddressNotAllowed": "address not allowed",
	"PathNotAllowed":    "path not allowed",
	"Unreachable":       "source unreachable",
	"Timeout":           "query timed out",
}

var (
	sharedOnce     sync.Once
	sharedSentinel client.ObjectKey
)

// sentinel is the good data shared by the source and channel cases, in a
// namespace of its own.
func sentinel(t *testing.T) client.ObjectKey {
	t.Helper()
	sharedOnce.Do(func() {
		ns := newNamespace(t)
		sharedSentinel = client.ObjectKeyFromObject(sentinelIn(t, ns))
	})
	if sharedSentinel.Name == "" {
		t.Fatal("the sentinel could not be created")
	}
	return sharedSentinel
}

// A source case creates a hostile DataSource named "hostile" and, when the
// hostility is in the answer, a Metric named "hostile" reading it.
type sourceCase struct {
	name string
	// setup creates the objects in ns; canaries go into Secrets.
	setup func(t *testing.T, ns string)
	// reason is the typed outcome: the DataSource's Ready reason, the
	// Metric's, or the typed error in the Metric's SourceUnavailable
	// message.
	reason string
	// after, if set, checks more once the outcome is seen.
	after func(t *testing.T, ns string)
}

// typedOutcome waits for the DataSource named hostile to be refused with
// reason, or the Metric named hostile to be refused with it or to fail
// with its typed error.
func typedOutcome(t *testing.T, ns, reason string) {
	t.Helper()
	ctx := context.Background()
	eventually(t, 40*time.Second, "refused with "+reason, func() (bool, string) {
		var seen []string
		var ds cxv1.DataSource
		if err := k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "hostile"}, &ds); err == nil {
			if c := meta.FindStatusCondition(ds.Status.Conditions, cxv1.ConditionReady); c != nil {
				if c.Status == metav1.ConditionFalse && c.Reason == reason {
					return true, ""
				}
				seen = append(seen, "DataSource "+c.Reason+": "+c.Message)
			}
		}
		var m cxv1.Metric
		if err := k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "hostile"}, &m); err == nil {
			if c := meta.FindStatusCondition(m.Status.Conditions, cxv1.ConditionSourceUnavailable); c != nil && c.Status == metav1.ConditionTrue {
				if want, ok := errText[reason]; ok && strings.Contains(c.Message, want) {
					return true, ""
				}
				seen = append(seen, "Metric "+c.Reason+": "+c.Message)
			}
			if c := meta.FindStatusCondition(m.Status.Conditions, cxv1.ConditionReady); c != nil {
				if c.Status == metav1.ConditionFalse && c.Reason == reason {
					return true, ""
				}
				seen = append(seen, "Metric Ready "+string(c.Status)+" "+c.Reason+": "+c.Message)
			}
		}
		return false, strings.Join(seen, " | ")
	})
}

func runSourceCases(t *testing.T, cases []sourceCase) {
	good := sentinel(t)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ns := newNamespace(t)
			create(t, ownerTeam(ns))
			tc.setup(t, ns)
			typedOutcome(t, ns, tc.reason)
			if tc.after != nil {
				tc.after(t, ns)
			}
			intact(t, good)
			noLeak(t)
		})
	}
}

// hostileSource creates the DataSource named hostile and, when metric is
// set, the Metric named hostile reading it.
func hostileSource(t *testing.T, ns string, spec cxv1.DataSourceSpec, metric func(*cxv1.Metric)) {
	t.Helper()
	create(t, &cxv1.DataSource{ObjectMeta: metav1.ObjectMeta{Name: "hostile", Namespace: ns}, Spec: spec})
	if metric != nil {
		m := csatMetric(ns, "hostile", "hostile")
		metric(m)
		create(t, m)
	}
}

func plain(*cxv1.Metric) {}

// csvFile writes a CSV export under the data root and returns its path
// relative to it.
func csvFile(t *testing.T, write func(f *os.File)) string {
	t.Helper()
	f, err := os.CreateTemp(dataRoot, "export-*.csv")
	if err != nil {
		t.Fatal(err)
	}
	write(f)
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return filepath.Base(f.Name())
}

func csvSource(path string) cxv1.DataSourceSpec {
	return cxv1.DataSourceSpec{Type: cxv1.DataSourceCSV, CSV: &cxv1.CSVSource{Path: path}}
}

// credentialed is a Secret of canaries for an HTTP source: a token with a
// trailing newline, an upper-cased API key, and basic-auth parts.
func credentialed(t *testing.T, ns string) (token, apiKey string) {
	t.Helper()
	token, apiKey = canary(t), strings.ToUpper(canary(t))
	remember(apiKey)
	user, password := canary(t), canary(t)
	remember(user + ":" + password)
	secret(t, ns, "creds", map[string]string{"token": token + "\n", "api-key": apiKey, "username": user, "password": password})
	return token, apiKey
}

// echoServer answers status with every request header in its body, as a
// careless API's error page does.
func echoServer(t *testing.T, status int) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(status)
		fmt.Fprintf(w, "error: request %s %s was refused; headers: ", r.Method, r.URL)
		for k, v := range r.Header {
			fmt.Fprintf(w, "%s=%s; ", k, strings.Join(v, ","))
		}
		if u, p, ok := r.BasicAuth(); ok {
			fmt.Fprintf(w, "user %s password %s", u, p)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

// serve starts a test server answering with handler.
func serve(t *testing.T, handler http.HandlerFunc) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(handler)
	t.Cleanup(srv.Close)
	return srv
}

// refusedListener listens on 127.0.0.2, a loopback address outside the
// manager's allowance, counting connections.
func refusedListener(t *testing.T) (url string, hits *atomic.Int32) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		t.Fatal(err)
	}
	hits = &atomic.Int32{}
	srv := &httptest.Server{Listener: l, Config: &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		fmt.Fprint(w, `[]`)
	})}}
	srv.Start()
	t.Cleanup(srv.Close)
	return srv.URL, hits
}

func httpJSON(url string, headers map[string]string) cxv1.DataSourceSpec {
	return cxv1.DataSourceSpec{Type: cxv1.DataSourceHTTPJSON, SecretRef: &cxv1.LocalObjectReference{Name: "creds"},
		HTTPJSON: &cxv1.HTTPJSONSource{URL: url, HeadersFromSecret: headers}}
}

var apiKeyHeader = map[string]string{"X-Api-Key": "api-key"}

const record = `{"answered_at":"2026-02-01T00:00:00Z","score":5,"survey":"csat"}`

func TestHostileCSVInputs(t *testing.T) {
	runSourceCases(t, []sourceCase{
		{name: "line-of-2MiB", reason: "TooLarge", setup: func(t *testing.T, ns string) {
			path := csvFile(t, func(f *os.File) {
				fmt.Fprintf(f, "answered_at,score,survey\n2026-02-01T00:00:00Z,5,%s\n", strings.Repeat("x", 2<<20))
			})
			hostileSource(t, ns, csvSource(path), plain)
		}},
		{name: "unterminated-quote-of-2MiB", reason: "TooLarge", setup: func(t *testing.T, ns string) {
			path := csvFile(t, func(f *os.File) {
				fmt.Fprint(f, "answered_at,score,survey\n2026-02-01T00:00:00Z,5,\"")
				for i := 0; i < 40_000; i++ {
					fmt.Fprint(f, "a line inside a quoted field that never ends\n")
				}
			})
			hostileSource(t, ns, csvSource(path), plain)
		}},
		{name: "20000-distinct-segments", reason: "TooManySegments", setup: func(t *testing.T, ns string) {
			path := csvFile(t, func(f *os.File) {
				fmt.Fprint(f, "answered_at,score,survey,account\n")
				for i := 0; i < 20_000; i++ {
					fmt.Fprintf(f, "2026-02-0%dT00:00:00Z,5,csat,acct-%05d\n", 1+i%9, i)
				}
			})
			hostileSource(t, ns, csvSource(path), func(m *cxv1.Metric) { m.Spec.SegmentBy = []string{"account"} })
		}},
		{name: "unknown-value-column", reason: "BadQuery", setup: func(t *testing.T, ns string) {
			path := csvFile(t, func(f *os.File) { fmt.Fprint(f, csvExport(70)) })
			hostileSource(t, ns, csvSource(path), func(m *cxv1.Metric) { m.Spec.Query.Columns.Value = "no_such_column" })
		}},
		{name: "missing-configmap", reason: "Unreachable", setup: func(t *testing.T, ns string) {
			hostileSource(t, ns, cxv1.DataSourceSpec{Type: cxv1.DataSourceCSV,
				CSV: &cxv1.CSVSource{ConfigMapRef: &cxv1.ConfigMapKeyReference{Name: "absent", Key: "x.csv"}}}, plain)
		}},
	})
}

func TestHostileHTTPJSONInputs(t *testing.T) {
	runSourceCases(t, []sourceCase{
		{name: "record-of-2MiB", reason: "TooLarge", setup: func(t *testing.T, ns string) {
			credentialed(t, ns)
			srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
				fmt.Fprintf(w, `[{"answered_at":"2026-02-01T00:00:00Z","score":5,"survey":"%s"}]`, strings.Repeat("x", 2<<20))
			})
			hostileSource(t, ns, httpJSON(srv.URL, apiKeyHeader), plain)
		}},
		{name: "deep-nesting", reason: "BadQuery", setup: func(t *testing.T, ns string) {
			credentialed(t, ns)
			srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
				fmt.Fprint(w, "["+strings.Repeat("[", 100_000)+strings.Repeat("]", 100_000)+"]")
			})
			hostileSource(t, ns, httpJSON(srv.URL, apiKeyHeader), plain)
		}},
		{name: "headers-of-128KiB", reason: "TooLarge", setup: func(t *testing.T, ns string) {
			credentialed(t, ns)
			srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
				for i := 0; i < 32; i++ {
					w.Header().Set(fmt.Sprintf("X-Pad-%d", i), strings.Repeat("p", 4<<10))
				}
				fmt.Fprint(w, "["+record+"]")
			})
			hostileSource(t, ns, httpJSON(srv.URL, apiKeyHeader), plain)
		}},
		// The response cap is the DataSource's own setting, so passing
		// it is the query's fault: BadQuery, naming maxResponseBytes.
		{name: "endless-body", reason: "BadQuery", setup: func(t *testing.T, ns string) {
			credentialed(t, ns)
			srv := serve(t, endless)
			spec := httpJSON(srv.URL, apiKeyHeader)
			spec.HTTPJSON.MaxResponseBytes = 4 << 20
			hostileSource(t, ns, spec, plain)
		}},
		{name: "redirect-to-metadata-address", reason: "AddressNotAllowed", setup: func(t *testing.T, ns string) {
			credentialed(t, ns)
			srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, "http://169.254.169.254/latest/meta-data/iam/security-credentials/", http.StatusFound)
			})
			hostileSource(t, ns, httpJSON(srv.URL, apiKeyHeader), plain)
		}},
		{name: "error-body-echoes-credentials", reason: "Unreachable", setup: func(t *testing.T, ns string) {
			credentialed(t, ns)
			srv := echoServer(t, http.StatusInternalServerError)
			hostileSource(t, ns, httpJSON(srv.URL, apiKeyHeader), plain)
		}},
		{name: "401-echoes-credentials", reason: "AuthFailed", setup: func(t *testing.T, ns string) {
			credentialed(t, ns)
			srv := echoServer(t, http.StatusUnauthorized)
			hostileSource(t, ns, httpJSON(srv.URL, apiKeyHeader), plain)
		}},
		{name: "loopback-outside-the-allowance", reason: "AddressNotAllowed", setup: func(t *testing.T, ns string) {
			credentialed(t, ns)
			url, hits := refusedListener(t)
			hostileSource(t, ns, httpJSON(url, apiKeyHeader), plain)
			t.Cleanup(func() {
				if n := hits.Load(); n != 0 {
					t.Errorf("the refused address was contacted %d times", n)
				}
			})
		}},
		{name: "secret-not-opted-in", reason: "SecretNotFound", setup: func(t *testing.T, ns string) {
			hidden := canary(t)
			s := secretObject(ns, "creds", map[string]string{"token": hidden})
			delete(s.Labels, cxv1.SecretLabel)
			create(t, s)
			srv := echoServer(t, http.StatusOK)
			hostileSource(t, ns, httpJSON(srv.URL, nil), plain)
		}},
	})
}

// endless streams records until the client hangs up.
func endless(w http.ResponseWriter, r *http.Request) {
	fmt.Fprint(w, "[")
	chunk := strings.Repeat(record+",", 1000)
	for r.Context().Err() == nil {
		if _, err := fmt.Fprint(w, chunk); err != nil {
			return
		}
	}
}
