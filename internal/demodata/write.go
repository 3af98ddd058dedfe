package demodata

import (
	"context"
	"database/sql"
	"fmt"
)

// warehouse holds the generated rows on their way into SQLite.
type warehouse struct {
	accounts   []*account
	responses  []response
	tickets    []ticket
	onboarding []onboardingAnswer
	periods    int // account periods written
}

// write creates the file's tables and fills them in one transaction with
// prepared statements, then builds the indexes and the planner's
// statistics. Journaling and syncing are off while writing: a failed run
// leaves a temporary file that is thrown away anyway.
func (w *warehouse) write(ctx context.Context, path string) error {
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		return fmt.Errorf("open: %w", err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	for _, stmt := range []string{"PRAGMA journal_mode = OFF", "PRAGMA synchronous = OFF"} {
		if _, err := db.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("%s: %w", stmt, err)
		}
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	for _, stmt := range schema {
		if _, err := tx.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("create table: %w", err)
		}
	}
	for _, fill := range []func(context.Context, *sql.Tx) error{
		w.insertAccounts, w.insertPeriods, w.insertResponses, w.insertTickets, w.insertOnboarding,
	} {
		if err := fill(ctx, tx); err != nil {
			return err
		}
	}
	for _, stmt := range indexes {
		if _, err := tx.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("create index: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	// A rollback journal, not WAL, so the file opens read-only with no
	// side files; ANALYZE gives the planner row counts for the indexes.
	for _, stmt := range []string{"ANALYZE", "PRAGMA journal_mode = DELETE"} {
		if _, err := db.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("%s: %w", stmt, err)
		}
	}
	return db.Close()
}

// inserter runs one prepared statement for many rows.
func inserter(ctx context.Context, tx *sql.Tx, table, query string, rows func(exec func(args ...any) error) error) error {
	stmt, err := tx.PrepareContext(ctx, query)
	if err != nil {
		return fmt.Errorf("prepare insert into %s: %w", table, err)
	}
	defer stmt.Close()
	err = rows(func(args ...any) error {
		_, err := stmt.ExecContext(ctx, args...)
		return err
	})
	if err != nil {
		return fmt.Errorf("insert into %s: %w", table, err)
	}
	return nil
}

func (w *warehouse) insertAccounts(ctx context.Context, tx *sql.Tx) error {
	return inserter(ctx, tx, "accounts",
		`INSERT INTO accounts (account, segment, region, annual_revenue) VALUES (?, ?, ?, ?)`,
		func(exec func(...any) error) error {
			for _, a := range w.accounts {
				if err := exec(a.name, a.segment, a.region, a.revenue); err != nil {
					return err
				}
			}
			return nil
		})
}

func (w *warehouse) insertPeriods(ctx context.Context, tx *sql.Tx) error {
	return inserter(ctx, tx, "account_periods",
		`INSERT INTO account_periods (account, segment, period_start, period_end, starting_arr,
			expansion_arr, contraction_arr, churned_arr, churned) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		func(exec func(...any) error) error {
			for _, a := range w.accounts {
				for _, p := range a.periods {
					err := exec(a.name, a.segment, FormatTime(p.start), FormatTime(p.end), p.startingARR,
						p.expansion, p.contraction, p.churnedARR, boolInt(p.churned))
					if err != nil {
						return err
					}
					w.periods++
				}
			}
			return nil
		})
}

func (w *warehouse) insertResponses(ctx context.Context, tx *sql.Tx) error {
	return inserter(ctx, tx, "survey_responses",
		`INSERT INTO survey_responses (id, responded_at, interaction_at, survey, score, account,
			segment, persona, stage, theme, comment, revenue_weight) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		func(exec func(...any) error) error {
			for i, r := range w.responses {
				var score any
				if r.score >= 0 {
					score = r.score
				}
				err := exec(i+1, FormatTime(r.respondedAt), FormatTime(r.interactionAt), r.survey, score,
					r.account.name, r.account.segment, r.persona, r.stage,
					nullIfEmpty(r.theme), nullIfEmpty(r.comment), r.weight)
				if err != nil {
					return err
				}
			}
			return nil
		})
}

func (w *warehouse) insertTickets(ctx context.Context, tx *sql.Tx) error {
	return inserter(ctx, tx, "tickets",
		`INSERT INTO tickets (id, created_at, resolved_at, account, segment, category,
			first_response_seconds, resolution_seconds, reopened, escalated, first_contact_resolved,
			handoffs) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		func(exec func(...any) error) error {
			for i, t := range w.tickets {
				err := exec(i+1, FormatTime(t.createdAt), FormatTime(t.resolvedAt), t.account.name,
					t.account.segment, t.category, t.firstResponse, t.resolution, boolInt(t.reopened),
					boolInt(t.escalated), boolInt(t.firstContact), t.handoffs)
				if err != nil {
					return err
				}
			}
			return nil
		})
}

func nullIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}
