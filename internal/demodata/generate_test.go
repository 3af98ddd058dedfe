package demodata

import (
	"bytes"
	"database/sql"
	"errors"
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestWarehouseOpensReadOnly(t *testing.T) {
	db := openReadOnly(t, shared.Path)
	if n := scalar(t, db, `SELECT COUNT(*) FROM survey_responses`); n == 0 {
		t.Fatal("no survey responses")
	}
	if _, err := db.Exec(`DELETE FROM tickets`); err == nil {
		t.Fatal("a read-only warehouse accepted a write")
	}
	var mode string
	if err := db.QueryRow(`PRAGMA journal_mode`).Scan(&mode); err != nil || mode != "delete" {
		t.Errorf("journal mode %q (%v), want delete so no side files are needed", mode, err)
	}
}

func TestSummaryMatchesTheRows(t *testing.T) {
	db := openReadOnly(t, shared.Path)
	for table, want := range map[string]int{
		"accounts":             shared.Accounts,
		"survey_responses":     shared.SurveyResponses,
		"tickets":              shared.Tickets,
		"account_periods":      shared.AccountPeriods,
		"onboarding_responses": shared.OnboardingResponses,
	} {
		if got := int(scalar(t, db, `SELECT COUNT(*) FROM `+table)); got != want || got == 0 {
			t.Errorf("%s has %d rows, summary says %d", table, got, want)
		}
	}
	if shared.Accounts != sharedScript.Accounts {
		t.Errorf("%d accounts, script asks for %d", shared.Accounts, sharedScript.Accounts)
	}
	first := scalar(t, db, `SELECT MIN(julianday(responded_at)) FROM survey_responses`)
	last := scalar(t, db, `SELECT MAX(julianday(created_at)) FROM tickets`)
	if first < julian(shared.Start) || last >= julian(shared.End) {
		t.Errorf("rows span julian days %.3f..%.3f, outside the summary's [%s, %s)", first, last, shared.Start, shared.End)
	}
	if len(shared.Episodes) != len(sharedScript.Episodes()) || !shared.Episodes[0].Start.Equal(sharedScript.At(sharedScript.SupportCSAT.Start)) {
		t.Errorf("summary episodes %+v do not follow the script", shared.Episodes)
	}
}

func julian(t time.Time) float64 { return float64(t.Unix())/86400 + 2440587.5 }

// TestTimeColumnsCompareWithBoundTimes pins the storage contract a source
// relies on: a time.Time bound through the driver with
// _time_format=datetime selects exactly the rows the stored text says, and
// the columns scan back as time.Time.
func TestTimeColumnsCompareWithBoundTimes(t *testing.T) {
	db := openReadOnly(t, shared.Path)
	bound := sharedScript.T0.Add(7*Day + 90*time.Minute)
	byTime := scalar(t, db, `SELECT COUNT(*) FROM survey_responses WHERE responded_at < ?`, bound)
	byText := scalar(t, db, `SELECT COUNT(*) FROM survey_responses WHERE responded_at < ?`, FormatTime(bound))
	if byTime != byText || byTime == 0 {
		t.Errorf("rows before %s: %v with a bound time, %v with its text", bound, byTime, byText)
	}
	var at time.Time
	if err := db.QueryRow(`SELECT created_at FROM tickets WHERE created_at >= ? ORDER BY created_at LIMIT 1`, bound).Scan(&at); err != nil {
		t.Fatalf("scan a time column: %v", err)
	}
	if at.Before(bound) || at.Location() != time.UTC || at.Sub(bound) > 6*time.Hour {
		t.Errorf("first ticket at or after %s scanned as %s", bound, at)
	}
}

func TestSameSeedSameData(t *testing.T) {
	small := DefaultScript()
	small.History, small.Future, small.Scale, small.Accounts = 14*Day, 14*Day, 0.05, 40
	dir := t.TempDir()
	fingerprint := func(name string, sc Script) string {
		s, err := Generate(filepath.Join(dir, name), sc)
		if err != nil {
			t.Fatal(err)
		}
		return tablesFingerprint(t, openReadOnly(t, s.Path))
	}
	a := fingerprint("a.db", small)
	if b := fingerprint("b.db", small); a != b {
		t.Errorf("the same seed gave different data: %s and %s", a, b)
	}
	// Byte for byte, so the file itself can serve as a cache key.
	fileA, errA := os.ReadFile(filepath.Join(dir, "a.db"))
	fileB, errB := os.ReadFile(filepath.Join(dir, "b.db"))
	if errA != nil || errB != nil || !bytes.Equal(fileA, fileB) {
		t.Errorf("the same seed gave different files (%v, %v)", errA, errB)
	}
	other := small
	other.Seed++
	if c := fingerprint("c.db", other); a == c {
		t.Errorf("seeds %d and %d gave the same data", small.Seed, other.Seed)
	}
}

// tablesFingerprint hashes every row of every table in storage order.
func tablesFingerprint(t *testing.T, db *sql.DB) string {
	t.Helper()
	h := fnv.New64a()
	for _, table := range []string{"accounts", "survey_responses", "tickets", "account_periods"} {
		rows, err := db.Query(`SELECT * FROM ` + table + ` ORDER BY rowid`)
		if err != nil {
			t.Fatal(err)
		}
		columns, _ := rows.Columns()
		values := make([]any, len(columns))
		pointers := make([]any, len(columns))
		for i := range values {
			pointers[i] = &values[i]
		}
		for rows.Next() {
			if err := rows.Scan(pointers...); err != nil {
				t.Fatal(err)
			}
			fmt.Fprintln(h, values...)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		rows.Close()
	}
	return fmt.Sprintf("%016x", h.Sum64())
}

func TestValidateRefusesBrokenScripts(t *testing.T) {
	for name, change := range map[string]func(*Script){
		"T0 not midnight":       func(s *Script) { s.T0 = s.T0.Add(time.Hour) },
		"no history":            func(s *Script) { s.History = 0 },
		"partial day":           func(s *Script) { s.Future = 36 * time.Hour },
		"no volume":             func(s *Script) { s.Scale = 0 },
		"no accounts":           func(s *Script) { s.Accounts = 0 },
		"restore before start":  func(s *Script) { s.SupportCSAT.Restore = s.SupportCSAT.Start },
		"unknown column":        func(s *Script) { s.IntegrationFCR.Segment = "stage=integration" },
		"malformed segment":     func(s *Script) { s.ExecutiveNPS.Segment = "executive" },
		"unsorted segment":      func(s *Script) { s.ExecutiveNPS.Segment = "persona=executive,account=x" },
		"NPS level beyond mix":  func(s *Script) { s.ExecutiveNPS.Level = -80 },
		"effort beyond the mix": func(s *Script) { s.IntegrationEffort.Level = 7 },
	} {
		t.Run(name, func(t *testing.T) {
			sc := DefaultScript()
			change(&sc)
			if err := sc.Validate(); !errors.Is(err, ErrInvalidScript) {
				t.Errorf("Validate() = %v, want ErrInvalidScript", err)
			}
			if _, err := Generate(filepath.Join(t.TempDir(), "w.db"), sc); !errors.Is(err, ErrInvalidScript) {
				t.Errorf("Generate() = %v, want ErrInvalidScript", err)
			}
		})
	}
	if err := DefaultScript().Validate(); err != nil {
		t.Errorf("the default script is invalid: %v", err)
	}
}

// BenchmarkGenerate measures generation at a tenth of the default volume
// over the default timeline; the default scale takes about ten times as
// long.
func BenchmarkGenerate(b *testing.B) {
	sc := DefaultScript()
	sc.Scale = 0.1
	path := filepath.Join(b.TempDir(), "warehouse.db")
	for b.Loop() {
		s, err := Generate(path, sc)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(s.SurveyResponses+s.Tickets), "rows/op")
	}
}
