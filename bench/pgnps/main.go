// Command pgnps measures the PostgreSQL driver against the best
// hand-written SQL for the same answer: a segmented NPS (counts per score
// per account) over 5 million responses from 10,000 accounts.
//
// It loads the data once (deterministic, generated inside PostgreSQL), then
// alternates runs of the driver's Query and of the hand-written aggregate
// through psql (timed by psql's own \timing, so process start-up is not
// counted against psql), checks that both give the same counts, and prints
// the ratio of the medians. Goal: at most 1.10.
//
//	hack/with-services.sh go run ./bench/pgnps
//	make bench
package main

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"fmt"
	"net/netip"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cxloop/cxloop/internal/measure"
	"github.com/cxloop/cxloop/internal/source"
)

const handWritten = `SELECT account, score, count(*) FROM bench_responses
WHERE responded_at >= '2026-01-01T00:00:00Z' AND responded_at < '2026-04-01T00:00:00Z'
GROUP BY account, score`

var (
	from = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	to   = time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)
)

func main() {
	dsn := flag.String("dsn", os.Getenv("CXLOOP_TEST_POSTGRES_DSN"), "PostgreSQL to run on (hack/with-services.sh sets CXLOOP_TEST_POSTGRES_DSN)")
	psql := flag.String("psql", envOr("CXLOOP_TEST_PSQL", "psql"), "psql binary")
	rows := flag.Int("rows", 5_000_000, "responses to load")
	accounts := flag.Int("accounts", 10_000, "accounts they come from")
	runs := flag.Int("runs", 9, "timed runs of each")
	flag.Parse()
	if *dsn == "" {
		fail("no PostgreSQL: run through hack/with-services.sh or pass -dsn")
	}
	ctx := context.Background()
	if err := load(ctx, *dsn, *rows, *accounts); err != nil {
		fail("load: %v", err)
	}
	src, err := openSource(*dsn)
	if err != nil {
		fail("open: %v", err)
	}
	defer src.Close()

	def := measure.Definition{Formula: measure.FormulaNPS}
	q := source.Query{Table: "bench_responses", Value: "score", Time: "responded_at", Segments: []string{"account"}}
	var driver, hand []time.Duration
	var res *source.Result
	// One untimed run of each warms the caches alike.
	if _, err := src.Query(ctx, def, q, from, to); err != nil {
		fail("driver: %v", err)
	}
	if _, err := runPSQL(*psql, *dsn, 1); err != nil {
		fail("psql: %v", err)
	}
	for i := 0; i < *runs; i++ {
		start := time.Now()
		res, err = src.Query(ctx, def, q, from, to)
		if err != nil {
			fail("driver: %v", err)
		}
		driver = append(driver, time.Since(start))
		ts, err := runPSQL(*psql, *dsn, 1)
		if err != nil {
			fail("psql: %v", err)
		}
		hand = append(hand, ts...)
	}
	if err := sameAnswer(*psql, *dsn, res); err != nil {
		fail("different answers: %v", err)
	}
	d, h := median(driver), median(hand)
	fmt.Printf("segmented NPS over %d responses, %d accounts, %d segments returned\n", res.Overall.Total.N+res.Overall.Unrated.N, *accounts, len(res.Segments))
	fmt.Printf("driver (pgx, read-only transaction, statement timeout, scan into statistics): median %s of %d runs\n", d.Round(time.Millisecond), *runs)
	fmt.Printf("hand-written aggregate through psql (\\timing):                            median %s of %d runs\n", h.Round(time.Millisecond), *runs)
	fmt.Printf("ratio driver/psql: %.3f (goal <= 1.10)\n", float64(d)/float64(h))
}

// load creates bench_responses with the given size unless it already has it.
func load(ctx context.Context, dsn string, rows, accounts int) error {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	var have int64
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM bench_responses`).Scan(&have); err == nil && have == int64(rows) {
		return nil
	}
	start := time.Now()
	// Scores follow a fixed skewed mix; about 3 % are skipped (NULL); the
	// times spread over four months, so the window selects about three.
	_, err = conn.Exec(ctx, fmt.Sprintf(`DROP TABLE IF EXISTS bench_responses;
CREATE TABLE bench_responses (responded_at timestamptz NOT NULL, account text NOT NULL, score integer);
INSERT INTO bench_responses
SELECT timestamptz '2026-01-01 00:00:00+00' + ((i * 2654435761::bigint) %% (120 * 86400)) * interval '1 second',
       'acct-' || lpad(((i * 40503) %% %d)::text, 5, '0'),
       CASE WHEN (i * 7919) %% 100 < 3 THEN NULL ELSE (ARRAY[0,1,2,3,4,5,6,6,7,7,7,8,8,8,8,9,9,9,9,9,10,10,10,10,10])[1 + (i * 104729) %% 25] END
FROM generate_series(1::bigint, %d) AS i;
ANALYZE bench_responses;`, accounts, rows))
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "loaded %d responses in %s\n", rows, time.Since(start).Round(time.Second))
	return nil
}

func openSource(dsn string) (source.Source, error) {
	u, err := url.Parse(dsn)
	if err != nil {
		return nil, err
	}
	port, _ := strconv.Atoi(u.Port())
	pw, _ := u.User.Password()
	return source.OpenPostgres(source.PostgresConfig{Host: u.Hostname(), Port: port, Database: strings.TrimPrefix(u.Path, "/"),
		SSLMode: u.Query().Get("sslmode"), Username: u.User.Username(), Password: pw, Timeout: 5 * time.Minute,
		// The benchmark's server runs on this machine, whose loopback
		// addresses the egress policy refuses unless allowed.
		Network: source.NetworkPolicy{Allowed: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}}})
}

var timing = regexp.MustCompile(`(?m)^Time: ([0-9.]+) ms`)

// runPSQL runs the hand-written query n times in one psql session and
// returns psql's own timings.
func runPSQL(psql, dsn string, n int) ([]time.Duration, error) {
	script := "\\timing on\n\\o /dev/null\n" + strings.Repeat(handWritten+";\n", n)
	cmd := exec.Command(psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", dsn)
	cmd.Stdin = strings.NewReader(script)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("%v: %s", err, errOut.String())
	}
	var ts []time.Duration
	for _, m := range timing.FindAllStringSubmatch(out.String(), -1) {
		ms, _ := strconv.ParseFloat(m[1], 64)
		ts = append(ts, time.Duration(ms*float64(time.Millisecond)))
	}
	if len(ts) != n {
		return nil, fmt.Errorf("psql printed %d timings, want %d: %s", len(ts), n, out.String())
	}
	return ts, nil
}

// sameAnswer compares the driver's counts with the hand-written query's.
func sameAnswer(psql, dsn string, res *source.Result) error {
	cmd := exec.Command(psql, "-X", "-q", "-A", "-t", "-F", ",", "-v", "ON_ERROR_STOP=1", "-d", dsn, "-c", handWritten)
	out, err := cmd.Output()
	if err != nil {
		return err
	}
	rows := 0
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Split(sc.Text(), ",")
		if len(f) != 3 {
			continue
		}
		rows++
		n, _ := strconv.ParseInt(f[2], 10, 64)
		seg, ok := res.Segments["account="+f[0]]
		if !ok {
			return fmt.Errorf("no segment for account %s", f[0])
		}
		var got int64
		if f[1] == "" {
			got = seg.Stats.Unrated.N
		} else {
			k, _ := strconv.ParseInt(f[1], 10, 64)
			got = seg.Stats.Scores.Get(k).N
		}
		if got != n {
			return fmt.Errorf("account %s score %q: driver %d, psql %d", f[0], f[1], got, n)
		}
	}
	cells := 0
	for _, s := range res.Segments {
		cells += len(s.Stats.Scores)
		if s.Stats.Unrated.N > 0 {
			cells++
		}
	}
	if cells != rows {
		return fmt.Errorf("driver has %d cells, psql %d rows", cells, rows)
	}
	return nil
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "pgnps: "+format+"\n", args...)
	os.Exit(1)
}
