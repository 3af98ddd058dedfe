package demodata

import "time"

// TimeLayout is how every time column is stored: UTC text with whole
// seconds. Its text order is time order, so a query compares a column with
// a bound parameter formatted the same way (modernc.org/sqlite formats a
// bound time.Time this way with the DSN option _time_format=datetime, the
// time in UTC). The columns are declared TIMESTAMP, so the driver scans
// them back as time.Time; on PostgreSQL the same columns are timestamptz.
const TimeLayout = "2006-01-02 15:04:05"

// FormatTime renders t as stored in the warehouse.
func FormatTime(t time.Time) string { return t.UTC().Format(TimeLayout) }

// schema creates the tables. Indexes come after the rows (see indexes):
// building them once is faster than updating them per row.
var schema = []string{
	`CREATE TABLE accounts (
		account TEXT PRIMARY KEY,
		segment TEXT NOT NULL,        -- enterprise | mid-market | smb
		region TEXT NOT NULL,         -- na | emea | apac | latam
		annual_revenue REAL NOT NULL  -- recurring revenue at the start of the data
	)`,
	`CREATE TABLE survey_responses (
		id INTEGER PRIMARY KEY,
		responded_at TIMESTAMP NOT NULL,
		interaction_at TIMESTAMP NOT NULL, -- the interaction the answer rates
		survey TEXT NOT NULL,              -- nps | csat | ces | psat
		score INTEGER,                     -- NULL when skipped
		account TEXT NOT NULL REFERENCES accounts(account),
		segment TEXT NOT NULL,
		persona TEXT NOT NULL,             -- executive | admin | end-user
		stage TEXT NOT NULL,               -- onboarding | integration | training | support
		theme TEXT,                        -- open-text theme; the feature for psat
		comment TEXT,
		revenue_weight REAL NOT NULL       -- annual revenue / the account's answers to the survey that month
	)`,
	`CREATE TABLE tickets (
		id INTEGER PRIMARY KEY,
		created_at TIMESTAMP NOT NULL,
		resolved_at TIMESTAMP NOT NULL,
		account TEXT NOT NULL REFERENCES accounts(account),
		segment TEXT NOT NULL,
		category TEXT NOT NULL,            -- billing | integration | bug | how-to | access
		first_response_seconds REAL NOT NULL,
		resolution_seconds REAL NOT NULL,
		reopened INTEGER NOT NULL,         -- 0 | 1
		escalated INTEGER NOT NULL,        -- 0 | 1
		first_contact_resolved INTEGER NOT NULL, -- 0 | 1
		handoffs INTEGER NOT NULL
	)`,
	`CREATE TABLE account_periods (
		account TEXT NOT NULL REFERENCES accounts(account),
		segment TEXT NOT NULL,
		period_start TIMESTAMP NOT NULL,
		period_end TIMESTAMP NOT NULL,
		starting_arr REAL NOT NULL,
		expansion_arr REAL NOT NULL,
		contraction_arr REAL NOT NULL,
		churned_arr REAL NOT NULL,
		churned INTEGER NOT NULL,          -- 0 | 1
		PRIMARY KEY (account, period_start)
	)`,
	`CREATE TABLE onboarding_responses (
		id INTEGER PRIMARY KEY,
		answered_at TIMESTAMP NOT NULL,
		account TEXT NOT NULL REFERENCES accounts (name),
		stage TEXT NOT NULL,               -- contract | kickoff | integration | data-import | training | go-live
		score INTEGER NOT NULL             -- 1..7, higher is easier
	)`,
}

// indexes serve the time-window scans every Metric makes, alone or after
// the survey filter.
var indexes = []string{
	`CREATE INDEX survey_responses_responded_at ON survey_responses (responded_at)`,
	`CREATE INDEX survey_responses_interaction_at ON survey_responses (interaction_at)`,
	`CREATE INDEX survey_responses_survey_responded_at ON survey_responses (survey, responded_at)`,
	`CREATE INDEX survey_responses_survey_interaction_at ON survey_responses (survey, interaction_at)`,
	`CREATE INDEX tickets_created_at ON tickets (created_at)`,
	`CREATE INDEX tickets_resolved_at ON tickets (resolved_at)`,
	`CREATE INDEX account_periods_period_end ON account_periods (period_end)`,
	`CREATE INDEX onboarding_responses_answered_at ON onboarding_responses (answered_at)`,
	`CREATE INDEX account_periods_period_start ON account_periods (period_start)`,
}
