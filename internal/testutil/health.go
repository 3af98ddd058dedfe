package testutil

import (
	"database/sql"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	_ "modernc.org/sqlite" // the embedded warehouse's driver
)

// HealthAccounts answer a relationship survey and open tickets every day,
// HealthPerDay of each per account, in an account-health warehouse.
const (
	HealthAccounts = 20
	HealthPerDay   = 40
)

// HealthAccount is the name of account a.
func HealthAccount(a int) string { return fmt.Sprintf("acct-%02d", a) }

// WriteHealth creates the SQLite file path: tables responses(responded_at,
// account, score), tickets(resolved_at, account, first_contact) and
// deliveries(shipped_at, account, on_time) with,
// for every account and day from start, answers and tickets drawn at the
// score score(account, day) gives the account on a scorecard of NPS from
// −100 to 30 and first-contact resolution from 0 to 80 %: an NPS of
// −100 + 1.3·score with a fifth passives, and a first-contact resolution
// of 0.8·score %, from a fixed seed; deliveries arrive on time score %
// of the time, a driver of the score planted in the data.
func WriteHealth(t testing.TB, path string, start time.Time, days int, score func(account, day int) float64) {
	t.Helper()
	conn, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for _, ddl := range []string{`CREATE TABLE responses (responded_at TIMESTAMP, account TEXT, score INTEGER)`,
		`CREATE TABLE tickets (resolved_at TIMESTAMP, account TEXT, first_contact INTEGER)`,
		`CREATE TABLE deliveries (shipped_at TIMESTAMP, account TEXT, on_time INTEGER)`} {
		if _, err := conn.Exec(ddl); err != nil {
			t.Fatal(err)
		}
	}
	tx, err := conn.Begin()
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(11, uint64(len(path))))
	for d := 0; d < days; d++ {
		at := start.Add(time.Duration(d)*24*time.Hour + 12*time.Hour).Format("2006-01-02 15:04:05")
		for a := 0; a < HealthAccounts; a++ {
			s := score(a, d)
			prom := (0.8 + (-100+1.3*s)/100) / 2
			for range HealthPerDay {
				answer := 8
				switch u := rng.Float64(); {
				case u < prom:
					answer = 10
				case u < 0.8:
					answer = 3
				}
				fcr := 0
				if rng.Float64() < 0.8*s/100 {
					fcr = 1
				}
				if _, err := tx.Exec(`INSERT INTO responses VALUES (?, ?, ?)`, at, HealthAccount(a), answer); err != nil {
					t.Fatal(err)
				}
				if _, err := tx.Exec(`INSERT INTO tickets VALUES (?, ?, ?)`, at, HealthAccount(a), fcr); err != nil {
					t.Fatal(err)
				}
				onTime := 0
				if rng.Float64() < s/100 {
					onTime = 1
				}
				if _, err := tx.Exec(`INSERT INTO deliveries VALUES (?, ?, ?)`, at, HealthAccount(a), onTime); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
}
