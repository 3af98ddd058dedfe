package source

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/api"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"

	"github.com/cxloop/cxloop/internal/measure"
	"github.com/cxloop/cxloop/internal/redact"
)

// PrometheusConfig holds a Prometheus DataSource's settings.
type PrometheusConfig struct {
	// URL is the base URL of the Prometheus HTTP API, such as
	// http://prometheus.monitoring:9090.
	URL string
	// Token is a bearer token from the DataSource's Secret (key "token");
	// or Username and Password give basic authentication. Neither ever
	// appears in an error.
	Token              string
	Username, Password string
	// Timeout bounds each query, here and in Prometheus itself; 30s when
	// zero.
	Timeout        time.Duration
	MaxConnections int
	// Network says which addresses may be reached; the zero value refuses
	// loopback, link-local and private addresses.
	Network NetworkPolicy
}

// windowVariable is replaced by the window's length in a query.
const windowVariable = "$__window"

// OpenPrometheus returns a source that reads a gauge from Prometheus.
// Nothing connects until the first query or Check.
//
// Prometheus computes the value: a metric's PromQL is evaluated as an
// instant query at the end of the window, so the aggregation over the
// window runs in Prometheus and only one number per series comes back.
// Semantics:
//
//   - Only the value formula (the Gauge family) reads from Prometheus; any
//     other formula is refused with ErrBadQuery, because Prometheus holds
//     series of readings, not the units that surveys and tickets are.
//   - The window [from, to) is evaluated at to−1ms, and every $__window in
//     PromQL and SamplesPromQL becomes the window's length in milliseconds
//     (a 30-day window gives 2592000000ms). So write
//     avg_over_time(x[$__window]) for the window's mean: the range covers
//     from and leaves out to. (Prometheus 3 range selectors are left-open,
//     which makes the window exactly [from, to); the range selectors of
//     Prometheus 2 are closed and also take a sample at exactly from−1ms.)
//   - The result is a vector (or a scalar, read as one series without
//     labels); each series is one reading. Its segment is given by its
//     labels named in Query.Segments (a missing label reads as ""). Several
//     series with the same segment values merge into that segment; without
//     Segments every series merges into Overall.
//   - Without SamplesPromQL a reading is one unit of weight 1, so a
//     segment's value is the mean of its series' readings. With it, each
//     reading is weighted by the number of samples behind it (rounded to
//     an integer), which makes the value the samples-weighted mean and N the
//     number of samples: write count_over_time(x[$__window]) beside
//     avg_over_time(x[$__window]). A samples series matches the value series
//     with the same labels (the metric name aside), or else the one with the
//     same segment values, which suits a samples expression aggregated by
//     the segment labels such as sum by (region) (...); a segment's count is
//     given to a value series only when it is the segment's only one, so
//     no sample counts twice. A reading with no count, or a count of zero,
//     is Unrated; a reading that is not finite, or whose count is negative
//     or not finite, is Rejected.
//   - Failures are typed: refused credentials give ErrUnauthorized, a
//     PromQL parse or execution error ErrBadQuery with Prometheus's
//     message, a query past the timeout (ours or Prometheus's) ErrTimeout,
//     a refused connection or unknown name ErrUnreachable, and an address
//     the network policy refuses ErrAddressNotAllowed.
func OpenPrometheus(c PrometheusConfig) (Source, error) {
	u, err := url.Parse(c.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, wrap(ErrBadQuery, "prometheus url %q: give an http or https URL such as http://prometheus.monitoring:9090", redact.HTTP(c.URL, c.Token, c.Password))
	}
	if u.User != nil {
		return nil, wrap(ErrBadQuery, "prometheus url: put credentials in the DataSource's Secret, not in the URL")
	}
	timeout := timeoutOr(c.Timeout)
	transport := c.Network.transport(timeout, c.MaxConnections)
	transport.MaxResponseHeaderBytes = MaxResponseHeaderBytes
	rt := &promAuth{next: transport, host: u.Host, token: c.Token, username: c.Username, password: c.Password}
	client, err := api.NewClient(api.Config{Address: u.String(), RoundTripper: rt})
	if err != nil {
		return nil, wrap(ErrBadQuery, "prometheus settings: %s", redact.HTTP(err.Error(), c.Token, c.Password))
	}
	return &promSource{api: v1.NewAPI(client), transport: transport, timeout: timeout,
		secrets: []string{c.Token, c.Password}}, nil
}

// promSource is a Prometheus HTTP API read through the official client.
type promSource struct {
	api       v1.API
	transport *http.Transport
	timeout   time.Duration
	// secrets are removed from every error's text.
	secrets []string
}

// Query evaluates q.PromQL (and q.SamplesPromQL) at the window's end and
// folds each series into its segment's statistics.
func (s *promSource) Query(ctx context.Context, def measure.Definition, q Query, from, to time.Time) (*Result, error) {
	e, err := promExpressions(def, q, to.Sub(from))
	if err != nil {
		return nil, err
	}
	if !to.After(from) {
		return nil, wrap(ErrBadQuery, "empty window [%s, %s)", from.Format(time.RFC3339), to.Format(time.RFC3339))
	}
	at := to.Add(-time.Millisecond)
	values, err := s.instant(ctx, e.value, at)
	if err != nil {
		return nil, err
	}
	var samples []reading
	if e.samples != "" {
		if samples, err = s.instant(ctx, e.samples, at); err != nil {
			return nil, fmt.Errorf("samples: %w", err)
		}
	}
	return e.fold(q.Segments, at, values, samples)
}

// promExprs is a query's expressions with $__window filled in.
type promExprs struct {
	value, samples string
	// maxSegments bounds the segments of a result.
	maxSegments int
}

// promExpressions checks that def and q suit Prometheus and fills the
// window's length into the expressions.
func promExpressions(def measure.Definition, q Query, window time.Duration) (promExprs, error) {
	if def.Family() != measure.Gauge {
		return promExprs{}, wrap(ErrBadQuery, "formula %q: Prometheus sources read a gauge through formula %q", def.Formula, measure.FormulaValue)
	}
	if strings.TrimSpace(q.PromQL) == "" {
		return promExprs{}, wrap(ErrBadQuery, "a Prometheus metric needs a PromQL expression")
	}
	if q.Cluster != "" {
		// A series is already an aggregate: there are no responses whose
		// accounts could be told apart.
		return promExprs{}, wrap(ErrBadQuery, "columns.cluster %q: a Prometheus source reads series, not responses, and has no clusters", q.Cluster)
	}
	length := strconv.FormatInt(window.Milliseconds(), 10) + "ms"
	e := promExprs{value: strings.ReplaceAll(q.PromQL, windowVariable, length), maxSegments: q.maxSegments()}
	if q.SamplesPromQL != "" {
		e.samples = strings.ReplaceAll(q.SamplesPromQL, windowVariable, length)
	}
	return e, nil
}

// fold builds the result of the expressions evaluated at one time from
// the value series and, when the query has a samples expression, the
// samples series: each value series is folded into its segment's
// statistics, weighted by its samples.
func (e promExprs) fold(segments []string, at time.Time, values, samples []reading) (*Result, error) {
	statement := "query=" + e.value
	if e.samples != "" {
		statement += " samples=" + e.samples
	}
	statement += " time=" + at.UTC().Format(time.RFC3339Nano)
	var counts *sampleCounts
	if e.samples != "" {
		counts = newSampleCounts(samples, segments)
	}
	res := newResult(statement)
	perKey := map[string]int{}
	for _, r := range values {
		perKey[SegmentKey(segmentValues(r.labels, segments))]++
	}
	for _, r := range values {
		seg := segmentValues(r.labels, segments)
		n, counted := int64(1), true
		if counts != nil {
			n, counted = counts.match(r.labels, SegmentKey(seg), perKey)
		}
		targets := []*measure.Stats{res.Overall}
		if len(segments) > 0 {
			targets = append(targets, res.segment(seg).Stats)
		}
		for _, t := range targets {
			foldReading(t, r.value, n, counted)
		}
		if len(res.Segments) > e.maxSegments {
			return nil, tooManySegments(e.maxSegments, len(res.Segments))
		}
	}
	return res, nil
}

// reading is one series of an instant query's result.
type reading struct {
	labels model.Metric
	value  float64
}

// instant runs one instant query and returns its series.
func (s *promSource) instant(ctx context.Context, expr string, at time.Time) ([]reading, error) {
	v, err := s.call(ctx, func(ctx context.Context) (model.Value, v1.Warnings, error) {
		return s.api.Query(ctx, expr, at, v1.WithTimeout(s.timeout))
	})
	if err != nil {
		return nil, err
	}
	switch v := v.(type) {
	case model.Vector:
		out := make([]reading, len(v))
		for i, smp := range v {
			out[i] = reading{labels: smp.Metric, value: float64(smp.Value)}
		}
		return out, nil
	case *model.Scalar:
		return []reading{{labels: model.Metric{}, value: float64(v.Value)}}, nil
	case model.Matrix:
		return nil, wrap(ErrBadQuery, "%s returns a range vector: wrap it in a function such as avg_over_time", expr)
	default:
		return nil, wrap(ErrBadQuery, "%s returns a %s, not a vector or a scalar", expr, v.Type())
	}
}

// call runs one request to the API within the timeout and types its error.
func (s *promSource) call(ctx context.Context, run func(context.Context) (model.Value, v1.Warnings, error)) (model.Value, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	status := &responseStatus{}
	v, _, err := run(withResponseStatus(ctx, status))
	if err != nil {
		return nil, s.classify(ctx, err, status.code)
	}
	return v, nil
}

// segmentValues reads the segment labels of a series; a missing label
// reads as "".
func segmentValues(m model.Metric, segments []string) map[string]string {
	out := make(map[string]string, len(segments))
	for _, c := range segments {
		out[c] = string(m[model.LabelName(c)])
	}
	return out
}

// foldReading counts one reading x that stands for n samples.
func foldReading(s *measure.Stats, x float64, n int64, counted bool) {
	switch {
	case math.IsNaN(x) || math.IsInf(x, 0) || !counted:
		s.Rejected.Add(1)
		return
	case n == 0:
		s.Unrated.Add(1)
		return
	}
	w := float64(n)
	if s.Total.N == 0 {
		s.Moments.Min, s.Moments.Max = x, x
	} else {
		s.Moments.Min, s.Moments.Max = math.Min(s.Moments.Min, x), math.Max(s.Moments.Max, x)
	}
	s.Moments.SumWX += w * x
	s.Moments.SumWX2 += w * x * x
	s.Total.Merge(measure.Cell{N: n, W: w, W2: w})
}

// sampleCounts indexes a samples expression's series by their labels and
// by segment key.
type sampleCounts struct {
	byLabels map[model.Fingerprint]float64
	byKey    map[string]float64
}

func newSampleCounts(rs []reading, segments []string) *sampleCounts {
	c := &sampleCounts{byLabels: map[model.Fingerprint]float64{}, byKey: map[string]float64{}}
	for _, r := range rs {
		c.byLabels[withoutName(r.labels).Fingerprint()] += r.value
		c.byKey[SegmentKey(segmentValues(r.labels, segments))] += r.value
	}
	return c
}

// match returns the number of samples behind a value series: 0 when it has
// none, and counted false when the count is negative or not finite.
func (c *sampleCounts) match(labels model.Metric, key string, valuesPerKey map[string]int) (n int64, counted bool) {
	v, ok := c.byLabels[withoutName(labels).Fingerprint()]
	if !ok {
		if valuesPerKey[key] != 1 {
			return 0, true
		}
		if v, ok = c.byKey[key]; !ok {
			return 0, true
		}
	}
	if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 || v > math.MaxInt64/2 {
		return 0, false
	}
	return int64(math.Round(v)), true
}

// withoutName drops the metric name, which functions such as
// count_over_time drop as well.
func withoutName(m model.Metric) model.Metric {
	if _, ok := m[model.MetricNameLabel]; !ok {
		return m
	}
	out := m.Clone()
	delete(out, model.MetricNameLabel)
	return out
}

// Check runs vector(1) at the current time, which exercises the address,
// the network policy and the credentials.
func (s *promSource) Check(ctx context.Context) error {
	_, err := s.instant(ctx, "vector(1)", time.Now())
	return err
}

// Close closes idle connections.
func (s *promSource) Close() error {
	s.transport.CloseIdleConnections()
	return nil
}
