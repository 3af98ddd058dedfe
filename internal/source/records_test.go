package source

import (
	"context"
	"database/sql"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/cxloop/cxloop/internal/measure"
)

// exportedTable is one warehouse table as text rows, the way an export
// file or a REST API hands it over.
type exportedTable struct {
	columns []string
	rows    [][]string // "" for NULL
}

// exportTable reads a table of the test warehouse as text.
func exportTable(t *testing.T, table string, columns ...string) exportedTable {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(warehouseDir, "warehouse.db")+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	sel := ""
	for i, c := range columns {
		if i > 0 {
			sel += ", "
		}
		sel += c
	}
	rows, err := db.Query("SELECT " + sel + " FROM " + table)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := exportedTable{columns: columns}
	for rows.Next() {
		vals := make([]any, len(columns))
		ptrs := make([]any, len(columns))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		rec := make([]string, len(columns))
		for i, v := range vals {
			switch x := v.(type) {
			case nil:
			case time.Time:
				rec[i] = x.UTC().Format(time.RFC3339Nano)
			case float64:
				rec[i] = strconv.FormatFloat(x, 'g', -1, 64)
			case int64:
				rec[i] = strconv.FormatInt(x, 10)
			case string:
				rec[i] = x
			case []byte:
				rec[i] = string(x)
			default:
				t.Fatalf("column %s: unexpected %T", columns[i], v)
			}
		}
		out.rows = append(out.rows, rec)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// writeCSV writes the table to dir/name with a header line.
func (e exportedTable) writeCSV(t *testing.T, path string, delimiter rune) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := csv.NewWriter(f)
	w.Comma = delimiter
	_ = w.Write(e.columns)
	for _, r := range e.rows {
		_ = w.Write(r)
	}
	w.Flush()
	if err := w.Error(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// jsonRecords renders rows as JSON objects nested the way REST APIs do:
// numbers as numbers, NULL as null, the segment fields under "customer".
func (e exportedTable) jsonRecords(numeric map[string]bool, nested map[string]bool) []map[string]any {
	out := make([]map[string]any, 0, len(e.rows))
	for _, r := range e.rows {
		rec := map[string]any{}
		customer := map[string]any{}
		for i, c := range e.columns {
			var v any
			switch {
			case r[i] == "":
				v = nil
			case numeric[c]:
				v = json.Number(r[i])
			default:
				v = r[i]
			}
			if nested[c] {
				customer[c] = v
			} else {
				rec[c] = v
			}
		}
		rec["customer"] = customer
		out = append(out, rec)
	}
	return out
}

// pagedServer serves records page by page under "data", with a cursor
// ("meta.next_cursor", parameter "after") or a next link ("links.next").
func pagedServer(t *testing.T, records []map[string]any, pageSize int, style Pagination) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := 0
		switch style {
		case Cursor:
			if c := r.URL.Query().Get("after"); c != "" {
				start, _ = strconv.Atoi(c)
			}
		case NextLink:
			if c := r.URL.Query().Get("offset"); c != "" {
				start, _ = strconv.Atoi(c)
			}
		}
		end := min(start+pageSize, len(records))
		page := map[string]any{"data": records[start:end], "meta": map[string]any{"total": len(records)}}
		if end < len(records) {
			switch style {
			case Cursor:
				page["meta"].(map[string]any)["next_cursor"] = strconv.Itoa(end)
			case NextLink:
				page["links"] = map[string]any{"next": fmt.Sprintf("/v1/responses?offset=%d", end)}
			}
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(page)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// loopback lets the tests' local servers through the network policy.
func loopback(t *testing.T) NetworkPolicy {
	t.Helper()
	nets, err := ParseNetworks([]string{"127.0.0.0/8", "::1/128"})
	if err != nil {
		t.Fatal(err)
	}
	return NetworkPolicy{Allowed: nets}
}

// The same metric on the same data gives the same statistics from
// PostgreSQL, SQLite, CSV and HTTP JSON: every count exactly, every sum
// within 1e-12 relative.
func TestAllSourcesAgree(t *testing.T) {
	u := postgresDSN(t)
	loadWarehouse(t, u)
	pw, _ := u.User.Password()
	pg := openPostgres(t, u, pw, 10*time.Second)
	lite := openWarehouse(t)

	responses := exportTable(t, "survey_responses", "responded_at", "survey", "score", "persona", "stage", "revenue_weight")
	tickets := exportTable(t, "tickets", "created_at", "resolved_at", "category", "first_response_seconds", "first_contact_resolved")
	dir := t.TempDir()
	responses.writeCSV(t, filepath.Join(dir, "responses.csv"), ',')
	tickets.writeCSV(t, filepath.Join(dir, "tickets.tsv"), '\t')
	openCSV := func(path string, delim rune) Source {
		src, err := OpenCSV(CSVConfig{Path: path, Roots: []string{dir}, Delimiter: delim, Timeout: 20 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		return src
	}
	csvSources := map[string]Source{"survey_responses": openCSV("responses.csv", ','), "tickets": openCSV("tickets.tsv", '\t')}

	numeric := map[string]bool{"score": true, "revenue_weight": true, "first_response_seconds": true, "first_contact_resolved": true}
	nested := map[string]bool{"persona": true, "stage": true, "category": true}
	respSrv := pagedServer(t, responses.jsonRecords(numeric, nested), 700, Cursor)
	ticketSrv := pagedServer(t, tickets.jsonRecords(numeric, nested), 450, NextLink)
	openJSON := func(c HTTPJSONConfig) Source {
		c.RecordsPath, c.Network, c.Timeout = "data", loopback(t), 20*time.Second
		src, err := OpenHTTPJSON(c)
		if err != nil {
			t.Fatal(err)
		}
		return src
	}
	jsonSources := map[string]Source{
		"survey_responses": openJSON(HTTPJSONConfig{URL: respSrv.URL + "/v1/responses", Pagination: Cursor, CursorPath: "meta.next_cursor", CursorParam: "after"}),
		"tickets":          openJSON(HTTPJSONConfig{URL: ticketSrv.URL + "/v1/responses", Pagination: NextLink, NextLinkPath: "links.next"}),
	}

	over := 14400.0
	cases := []struct {
		def measure.Definition
		q   Query
	}{
		{measure.Definition{Formula: measure.FormulaNPS}, Query{Table: "survey_responses", Value: "score", Time: "responded_at",
			Weight: "revenue_weight", Segments: []string{"persona"}, Filters: []Filter{{Column: "survey", Operator: Equals, Values: []string{"nps"}}}}},
		{measure.Definition{Formula: measure.FormulaCSAT}, Query{Table: "survey_responses", Value: "score", Time: "responded_at",
			Filters: []Filter{{Column: "survey", Operator: Equals, Values: []string{"csat"}}}}},
		{measure.Definition{Formula: measure.FormulaCES}, Query{Table: "survey_responses", Value: "score", Time: "responded_at",
			Segments: []string{"stage"}, Filters: []Filter{{Column: "survey", Operator: In, Values: []string{"ces"}},
				{Column: "stage", Operator: NotIn, Values: []string{"support"}}}}},
		{measure.Definition{Formula: measure.FormulaRate}, Query{Table: "tickets", Value: "first_contact_resolved", Time: "resolved_at",
			Segments: []string{"category"}}},
		{measure.Definition{Formula: measure.FormulaPercentile, Percentile: 90, ShareOver: &over}, Query{Table: "tickets",
			Value: "first_response_seconds", Time: "created_at", Segments: []string{"category"},
			Filters: []Filter{{Column: "first_response_seconds", Operator: GreaterThan, Values: []string{"60"}}}}},
	}
	for _, tc := range cases {
		want, err := lite.Query(context.Background(), tc.def, tc.q, from, t0)
		if err != nil {
			t.Fatalf("%s on SQLite: %v", tc.def.Formula, err)
		}
		if want.Overall.Total.N == 0 {
			t.Fatalf("%s: no data", tc.def.Formula)
		}
		records := tc.q
		records.Table = RecordsTable
		for name, run := range map[string]func() (*Result, error){
			"PostgreSQL": func() (*Result, error) { return pg.Query(context.Background(), tc.def, tc.q, from, t0) },
			"CSV": func() (*Result, error) {
				return csvSources[tc.q.Table].Query(context.Background(), tc.def, records, from, t0)
			},
			"HTTP JSON": func() (*Result, error) {
				q := records
				q.Segments = append([]string(nil), q.Segments...)
				for i, s := range q.Segments {
					if nested[s] {
						q.Segments[i] = "customer." + s
					}
				}
				q.Filters = append([]Filter(nil), q.Filters...)
				for i, f := range q.Filters {
					if nested[f.Column] {
						q.Filters[i].Column = "customer." + f.Column
					}
				}
				res, err := jsonSources[tc.q.Table].Query(context.Background(), tc.def, q, from, t0)
				if err != nil {
					return nil, err
				}
				return renameSegments(res, "customer."), nil
			},
		} {
			got, err := run()
			if err != nil {
				t.Fatalf("%s on %s: %v", tc.def.Formula, name, err)
			}
			what := fmt.Sprintf("%s on %s", tc.def.Formula, name)
			sameStats(t, what+" overall", got.Overall, want.Overall)
			if len(got.Segments) != len(want.Segments) {
				t.Fatalf("%s: %d segments, want %d", what, len(got.Segments), len(want.Segments))
			}
			for k, s := range want.Segments {
				g, ok := got.Segments[k]
				if !ok {
					t.Fatalf("%s: no segment %q", what, k)
				}
				sameStats(t, what+" "+k, g.Stats, s.Stats)
			}
		}
	}
}

// renameSegments drops a prefix from segment columns, so a JSON source's
// "customer.persona" compares with a table's "persona".
func renameSegments(res *Result, prefix string) *Result {
	out := &Result{Overall: res.Overall, Segments: map[string]*Segment{}, Statement: res.Statement}
	for _, s := range res.Segments {
		values := map[string]string{}
		for c, v := range s.Values {
			if len(c) > len(prefix) && c[:len(prefix)] == prefix {
				c = c[len(prefix):]
			}
			values[c] = v
		}
		key := SegmentKey(values)
		out.Segments[key] = &Segment{Key: key, Values: values, Stats: s.Stats}
	}
	return out
}
