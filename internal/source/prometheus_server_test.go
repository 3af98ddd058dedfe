package source

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// promSeries is one generated series of the test Prometheus's history.
type promSeries struct {
	name         string
	region, team string
	times        []time.Time
	values       []float64
	alwaysNaN    bool
}

// promFixture is a running Prometheus serving a generated history.
type promFixture struct {
	url                string
	username, password string
	start, end         time.Time
	series             []promSeries
}

// promHistory generates three days of queue waits sampled every minute,
// with seeded gaps (never on the hour, so windows aligned to hours have
// samples on both edges), ending at end.
func promHistory(end time.Time) []promSeries {
	rng := rand.New(rand.NewPCG(2026, 1123))
	start := end.Add(-72 * time.Hour)
	specs := []struct {
		region, team string
		base         float64
	}{{"eu", "support", 40}, {"eu", "billing", 95}, {"us", "support", 60}, {"apac", "support", 120}}
	var out []promSeries
	for _, sp := range specs {
		s := promSeries{name: "cx_queue_wait_seconds", region: sp.region, team: sp.team}
		for t := start; t.Before(end); t = t.Add(time.Minute) {
			if t.Minute() != 0 && rng.Float64() < 0.2 {
				continue
			}
			daily := math.Sin(2 * math.Pi * float64(t.Unix()%86400) / 86400)
			v := math.Abs(sp.base*(1+0.4*daily) + 15*rng.NormFloat64())
			s.times, s.values = append(s.times, t), append(s.values, v)
		}
		out = append(out, s)
	}
	// A probe that reads NaN in one region: its readings must be rejected.
	for _, region := range []string{"eu", "mars"} {
		s := promSeries{name: "cx_probe_ratio", region: region, team: "support", alwaysNaN: region == "mars"}
		for t := start; t.Before(end); t = t.Add(time.Minute) {
			v := 1.0
			if s.alwaysNaN {
				v = math.NaN()
			}
			s.times, s.values = append(s.times, t), append(s.values, v)
		}
		out = append(out, s)
	}
	return out
}

// openMetrics renders series as an OpenMetrics file, timestamps in seconds.
func openMetrics(series []promSeries) []byte {
	var b bytes.Buffer
	typed := map[string]bool{}
	for _, s := range series {
		if !typed[s.name] {
			fmt.Fprintf(&b, "# TYPE %s gauge\n", s.name)
			typed[s.name] = true
		}
		for i, t := range s.times {
			v := "NaN"
			if !math.IsNaN(s.values[i]) {
				v = fmt.Sprint(s.values[i])
			}
			fmt.Fprintf(&b, "%s{region=%q,team=%q} %s %d\n", s.name, s.region, s.team, v, t.Unix())
		}
	}
	b.WriteString("# EOF\n")
	return b.Bytes()
}

// promBinary finds a binary through its environment variable or PATH.
func promBinary(env, name string) string {
	if p := os.Getenv(env); p != "" {
		return p
	}
	p, _ := exec.LookPath(name)
	return p
}

// startPrometheus backfills a generated history with promtool and starts
// Prometheus on it behind basic authentication, on a free loopback port.
// It stops when t's test ends; the tests that need it run as its subtests.
func startPrometheus(t *testing.T) *promFixture {
	t.Helper()
	bin, tool := promBinary("CXLOOP_TEST_PROMETHEUS", "prometheus"), promBinary("CXLOOP_TEST_PROMTOOL", "promtool")
	if bin == "" || tool == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("prometheus or promtool not found: install Debian's prometheus package or set CXLOOP_TEST_PROMETHEUS and CXLOOP_TEST_PROMTOOL")
		}
		t.Skip("no prometheus/promtool: install Debian's prometheus package to run the Prometheus source tests")
	}
	dir := t.TempDir()
	// Backfilled blocks must be older than the head Prometheus opens.
	end := time.Now().UTC().Truncate(time.Hour).Add(-3 * time.Hour)
	fx := &promFixture{username: "cxloop", password: "s3cret-pass", start: end.Add(-72 * time.Hour), end: end,
		series: promHistory(end)}
	hash, err := bcrypt.GenerateFromPassword([]byte(fx.password), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"history.om":     string(openMetrics(fx.series)),
		"prometheus.yml": "scrape_configs: []\n",
		"web.yml":        "basic_auth_users:\n  " + fx.username + ": " + string(hash) + "\n",
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	data := filepath.Join(dir, "data")
	if out, err := exec.Command(tool, "tsdb", "create-blocks-from", "openmetrics", "--quiet",
		filepath.Join(dir, "history.om"), data).CombinedOutput(); err != nil {
		t.Fatalf("promtool: %v\n%s", err, out)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	var logs bytes.Buffer
	cmd := exec.Command(bin, "--storage.tsdb.path="+data, "--config.file="+filepath.Join(dir, "prometheus.yml"),
		"--web.config.file="+filepath.Join(dir, "web.yml"), "--web.listen-address="+addr,
		"--storage.tsdb.retention.time=3650d", "--log.level=warn")
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})
	fx.url = "http://" + addr
	deadline := time.Now().Add(60 * time.Second)
	for {
		req, _ := http.NewRequest(http.MethodGet, fx.url+"/-/ready", nil)
		req.SetBasicAuth(fx.username, fx.password)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return fx
			}
		}
		select {
		case err := <-exited:
			t.Fatalf("prometheus exited: %v\n%s", err, logs.String())
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("prometheus not ready after 60s\n%s", logs.String())
		}
	}
}

// promLoopback lets the tests reach their local servers.
func promLoopback(t *testing.T) NetworkPolicy {
	t.Helper()
	nets, err := ParseNetworks([]string{"127.0.0.0/8"})
	if err != nil {
		t.Fatal(err)
	}
	return NetworkPolicy{Allowed: nets}
}

func openProm(t *testing.T, c PrometheusConfig) Source {
	t.Helper()
	if c.Timeout == 0 {
		c.Timeout = 20 * time.Second
	}
	src, err := OpenPrometheus(c)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { src.Close() })
	return src
}
