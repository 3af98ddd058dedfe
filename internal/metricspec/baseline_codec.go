package metricspec

import (
	"encoding/binary"
	"fmt"
	"sort"

	"github.com/cxloop/cxloop/internal/engine"
)

// EncodeSegmentBaselines encodes segment baselines in the layout of
// MetricStatus.EncodedSegmentBaselines ("v1:"), sorted by key. Equal
// baselines give equal strings, so unchanged baselines rewrite nothing.
func EncodeSegmentBaselines(bs []engine.SegmentBaseline) string {
	sorted := append([]engine.SegmentBaseline(nil), bs...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].Segment < sorted[j].Segment })
	var body []byte
	body = binary.AppendUvarint(body, uint64(len(sorted)))
	prev := ""
	for _, b := range sorted {
		body = appendKey(body, prev, b.Segment)
		prev = b.Segment
		body = binary.AppendVarint(body, b.WindowStart.Unix())
		body = binary.AppendVarint(body, b.WindowEnd.Unix())
		body = appendFloat(body, b.Value)
		body = appendFloat(body, b.Lower)
		body = appendFloat(body, b.Upper)
		body = binary.AppendVarint(body, b.Samples)
	}
	return packBody(body)
}

// DecodeSegmentBaselines decodes MetricStatus.EncodedSegmentBaselines,
// sorted by key; times come back in UTC at the second, as status keeps
// them.
func DecodeSegmentBaselines(encoded string) ([]engine.SegmentBaseline, error) {
	body, err := unpackBody(encoded)
	if err != nil {
		return nil, fmt.Errorf("segment baselines: %w", err)
	}
	r := reader{b: body}
	n := r.count()
	out := make([]engine.SegmentBaseline, 0, min(n, uint64(len(body))))
	prev := ""
	for i := uint64(0); i < n && r.err == nil; i++ {
		b := engine.SegmentBaseline{Segment: r.key(prev)}
		prev = b.Segment
		b.WindowStart, b.WindowEnd = r.time(), r.time()
		b.Value, b.Lower, b.Upper = r.float(), r.float(), r.float()
		b.Samples = r.varint()
		out = append(out, b)
	}
	if r.err == nil && len(r.b) > 0 {
		r.fail("%d bytes after the last baseline", len(r.b))
	}
	if r.err != nil {
		return nil, fmt.Errorf("segment baselines: %w", r.err)
	}
	return out, nil
}

func (r *reader) varint() int64 {
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.fail("truncated")
		return 0
	}
	r.b = r.b[n:]
	return v
}
