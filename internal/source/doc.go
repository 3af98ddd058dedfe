// Package source reads sufficient statistics from where customer-experience
// data lives. A driver pushes the aggregation down to the data: SQL
// databases return one row per segment (and per score, or per sketch
// bucket), never the raw responses, so a warehouse of a billion survey rows
// leaves the operator small.
//
// SQL safety: identifiers are validated against a strict pattern and
// quoted, every value is a bound parameter, queries run in a read-only
// transaction (PostgreSQL) or on a read-only connection with query_only set
// (SQLite), each under the DataSource's timeout, and file paths resolve only
// under the roots the manager was started with.
//
// The package must not import Kubernetes packages.
package source
