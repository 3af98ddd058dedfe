// Package source reads sufficient statistics from where customer-experience
// data lives. A driver pushes the aggregation down to the data: SQL
// databases return one row per segment (and per score, or per sketch
// bucket), never the raw responses, so a warehouse of a billion survey rows
// leaves the operator small; Prometheus evaluates PromQL itself. Only the
// CSV and HTTP JSON drivers aggregate in-process, one record at a time as
// the file or the response streams past, never holding it whole.
//
// SQL safety: identifiers are validated against a strict pattern and
// quoted, every value is a bound parameter, queries run in a read-only
// transaction (PostgreSQL) or on a read-only connection with query_only set
// (SQLite), each under the DataSource's timeout, and file paths resolve only
// under the roots the manager was started with.
//
// HTTP safety: HTTP sources connect only to addresses the NetworkPolicy
// permits (no loopback, link-local or private address unless the manager
// allows its network), follow redirects and next-page links only within
// the configured origin, and cap each response's size and a query's pages.
//
// Bounded answers: every driver fails with ErrTooLarge, before buffering
// it, an answer past one of the limits in limits.go (a CSV record, a JSON
// value, a Prometheus answer's bytes and series, an SQLite string or blob,
// an aggregation's rows, a result's segments), so one DataSource cannot
// exhaust the manager's memory.
//
// Records of CSV and HTTP JSON sources are the table "records"; their
// fields are CSV header names or JSON dot paths. Missing fields, empty CSV
// cells and JSON null read as SQL's NULL does; times are RFC 3339 (a time
// without a zone is UTC), dates, or Unix seconds.
//
// The package must not import Kubernetes packages.
package source
