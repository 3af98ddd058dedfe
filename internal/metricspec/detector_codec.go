package metricspec

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
	"sync"
	"time"

	cxv1 "github.com/cxloop/cxloop/api/v1alpha1"
	"github.com/cxloop/cxloop/internal/engine"
)

// The flags byte of an encoded segment: which optional fields follow the
// statistic, in this order.
const (
	flagSince byte = 1 << iota
	flagSamples
	flagEpisodeStart
	flagRecovery
	flagRecoverySince
	flagsKnown = flagSince | flagSamples | flagEpisodeStart | flagRecovery | flagRecoverySince
)

// maxDecodedSegments bounds what a decoder accepts, far above any
// --max-segments a status can hold, so a hand-edited count cannot make it
// allocate without end.
const maxDecodedSegments = 1 << 22

// EncodeDetectorSegments encodes detector states in the layout of
// DetectorStatus.EncodedSegments ("v1:"), sorted by key. Equal states
// give equal strings, so an unchanged detector rewrites nothing.
func EncodeDetectorSegments(segs []engine.SegmentState) string {
	sorted := append([]engine.SegmentState(nil), segs...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].Segment < sorted[j].Segment })
	var body []byte
	body = binary.AppendUvarint(body, uint64(len(sorted)))
	prev := ""
	for _, s := range sorted {
		body = appendKey(body, prev, s.Segment)
		prev = s.Segment
		var flags byte
		for _, f := range []struct {
			set  bool
			flag byte
		}{{!s.Since.IsZero(), flagSince}, {s.Samples != 0, flagSamples}, {!s.EpisodeStart.IsZero(), flagEpisodeStart},
			{s.Recovery != 0, flagRecovery}, {!s.RecoverySince.IsZero(), flagRecoverySince}} {
			if f.set {
				flags |= f.flag
			}
		}
		body = append(body, flags)
		body = appendFloat(body, s.Statistic)
		if flags&flagSince != 0 {
			body = binary.AppendVarint(body, s.Since.Unix())
		}
		if flags&flagSamples != 0 {
			body = appendFloat(body, s.Samples)
		}
		if flags&flagEpisodeStart != 0 {
			body = binary.AppendVarint(body, s.EpisodeStart.Unix())
		}
		if flags&flagRecovery != 0 {
			body = appendFloat(body, s.Recovery)
		}
		if flags&flagRecoverySince != 0 {
			body = binary.AppendVarint(body, s.RecoverySince.Unix())
		}
	}
	return packBody(body)
}

// packBody is the "v1:" text of an encoded body: its gzip stream, no name
// and no time in the header so the text depends on the body alone, in
// standard padded base64.
func packBody(body []byte) string {
	var buf bytes.Buffer
	zw := gzipWriters.Get().(*gzip.Writer)
	zw.Reset(&buf)
	_, _ = zw.Write(body)
	_ = zw.Close()
	gzipWriters.Put(zw)
	return cxv1.DetectorSegmentsEncodingV1 + base64.StdEncoding.EncodeToString(buf.Bytes())
}

// gzipWriters are packBody's compressors, each of about a megabyte, kept
// for the next status rather than one allocated per evaluation. Reset
// leaves the header empty, as a new writer's.
var gzipWriters = sync.Pool{New: func() any {
	zw, _ := gzip.NewWriterLevel(nil, gzip.BestCompression)
	return zw
}}

// unpackBody is the body packBody encoded.
func unpackBody(encoded string) ([]byte, error) {
	rest, ok := strings.CutPrefix(encoded, cxv1.DetectorSegmentsEncodingV1)
	if !ok {
		return nil, fmt.Errorf("unknown layout %.8q", encoded)
	}
	raw, err := base64.StdEncoding.DecodeString(rest)
	if err != nil {
		return nil, err
	}
	zr, err := gzip.NewReader(bytes.NewReader(raw))
	if err != nil {
		return nil, err
	}
	return io.ReadAll(zr)
}

// appendKey front-codes key after prev: the bytes it shares with prev,
// then the length of the rest and the rest.
func appendKey(body []byte, prev, key string) []byte {
	shared := commonPrefix(prev, key)
	body = binary.AppendUvarint(body, uint64(shared))
	body = binary.AppendUvarint(body, uint64(len(key)-shared))
	return append(body, key[shared:]...)
}

// key reads a key front-coded after prev.
func (r *reader) key(prev string) string {
	shared, tail := r.uvarint(), r.uvarint()
	if shared > uint64(len(prev)) {
		r.fail("key shares %d bytes of a %d-byte key", shared, len(prev))
		return ""
	}
	return prev[:shared] + string(r.bytes(tail))
}

// count reads an entry count, bounded.
func (r *reader) count() uint64 {
	n := r.uvarint()
	if n > maxDecodedSegments {
		r.fail("%d entries", n)
		return 0
	}
	return n
}

func appendFloat(body []byte, f float64) []byte {
	return binary.LittleEndian.AppendUint64(body, math.Float64bits(f))
}

// errEncoding reports an encodedSegments that does not decode.
var errEncoding = errors.New("detector encodedSegments")

// DecodeDetectorSegments decodes DetectorStatus.EncodedSegments, sorted
// by key; times come back in UTC at the second, as status keeps them.
func DecodeDetectorSegments(encoded string) ([]engine.SegmentState, error) {
	body, err := unpackBody(encoded)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errEncoding, err)
	}
	r := reader{b: body}
	n := r.count()
	out := make([]engine.SegmentState, 0, min(n, uint64(len(body))))
	prev := ""
	for i := uint64(0); i < n && r.err == nil; i++ {
		key := r.key(prev)
		prev = key
		s := engine.SegmentState{Segment: key}
		flags := r.byte()
		if flags&^flagsKnown != 0 {
			r.fail("segment %q: flags %#x", key, flags)
		}
		s.Statistic = r.float()
		if flags&flagSince != 0 {
			s.Since = r.time()
		}
		if flags&flagSamples != 0 {
			s.Samples = r.float()
		}
		if flags&flagEpisodeStart != 0 {
			s.EpisodeStart = r.time()
		}
		if flags&flagRecovery != 0 {
			s.Recovery = r.float()
		}
		if flags&flagRecoverySince != 0 {
			s.RecoverySince = r.time()
		}
		out = append(out, s)
	}
	if r.err == nil && len(r.b) > 0 {
		r.fail("%d bytes after the last segment", len(r.b))
	}
	if r.err != nil {
		return nil, fmt.Errorf("%w: %w", errEncoding, r.err)
	}
	return out, nil
}

// reader consumes an encoded body; the first error sticks.
type reader struct {
	b   []byte
	err error
}

func (r *reader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf(format, args...)
	}
	r.b = nil
}

func (r *reader) uvarint() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail("truncated")
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) time() time.Time {
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.fail("truncated")
		return time.Time{}
	}
	r.b = r.b[n:]
	return time.Unix(v, 0).UTC()
}

func (r *reader) bytes(n uint64) []byte {
	if n > uint64(len(r.b)) {
		r.fail("truncated")
		return nil
	}
	out := r.b[:n]
	r.b = r.b[n:]
	return out
}

func (r *reader) byte() byte {
	b := r.bytes(1)
	if len(b) == 0 {
		return 0
	}
	return b[0]
}

func (r *reader) float() float64 {
	b := r.bytes(8)
	if len(b) < 8 {
		return 0
	}
	return math.Float64frombits(binary.LittleEndian.Uint64(b))
}

// commonPrefix is the length of the longest common prefix of a and b.
func commonPrefix(a, b string) int {
	n := min(len(a), len(b))
	for i := 0; i < n; i++ {
		if a[i] != b[i] {
			return i
		}
	}
	return n
}
