package metricspec

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	cxv1 "github.com/cxloop/cxloop/api/v1alpha1"
	"github.com/cxloop/cxloop/internal/engine"
)

// evidence is n segments' detector states as the engine keeps them
// (six significant digits, times at the second in UTC, sorted by key),
// every combination of optional fields among them, the whole population
// first.
func evidence(n int) []engine.SegmentState {
	r := rand.New(rand.NewPCG(uint64(n), 1))
	at := func(days float64) time.Time {
		return time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(days*24*3600) * time.Second)
	}
	out := make([]engine.SegmentState, 0, n)
	for i := 0; i < n; i++ {
		s := engine.SegmentState{Segment: fmt.Sprintf("account=acct-%05d,region=eu-west", i),
			Statistic: engine.Round(r.Float64() * 9)}
		if i == 0 {
			s.Segment = ""
		}
		if i%7 != 3 {
			s.Since, s.Samples = at(-r.Float64()*30), engine.Round(r.Float64()*400)
		}
		if i%11 == 0 {
			s.EpisodeStart = s.Since
			if i%22 == 0 {
				s.Recovery, s.RecoverySince = engine.Round(r.Float64()*3), at(-r.Float64()*3)
			}
		}
		out = append(out, s)
	}
	// Keys the front coding must not confuse: a prefix of another, commas
	// and equals signs in values, multi-byte characters.
	out = append(out, engine.SegmentState{Segment: "account=acct-0", Statistic: 0.5},
		engine.SegmentState{Segment: "team=a,b=c", Statistic: 1e-300, Samples: -0.0},
		engine.SegmentState{Segment: "team=zürich ☕", Statistic: 3.14159, Since: time.Unix(-86400, 0).UTC()})
	return sortedByKey(out)
}

func sortedByKey(segs []engine.SegmentState) []engine.SegmentState {
	d := &cxv1.DetectorStatus{}
	for _, s := range segs {
		d.Segments = append(d.Segments, cxv1.DetectorSegment{Segment: s.Segment, Statistic: s.Statistic, Samples: s.Samples,
			Since: TimeRef(s.Since), EpisodeStart: TimeRef(s.EpisodeStart), Recovery: s.Recovery, RecoverySince: TimeRef(s.RecoverySince)})
	}
	return DetectorOf(d).Segments
}

// storedStatus is a Metric status as the API server stores and returns it:
// JSON and back.
func storedStatus(t *testing.T, st cxv1.MetricStatus) (cxv1.MetricStatus, int) {
	t.Helper()
	raw, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	var back cxv1.MetricStatus
	if err := json.Unmarshal(raw, &back); err != nil {
		t.Fatal(err)
	}
	return back, len(raw)
}

// Every segment's evidence survives status exactly, at the default
// --max-segments, in under 1 MiB of status; the readable list holds the
// largest statistics; the encoding is deterministic, so an unchanged
// detector writes nothing.
func TestDetectorStatusKeepsEverySegmentsEvidence(t *testing.T) {
	for _, n := range []int{1, 3, 200, 10_001} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			det := &engine.Detector{FedUntil: time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC), Threshold: 9.1, SegmentsMonitored: int32(n),
				Segments: evidence(n)}
			back, size := storedStatus(t, cxv1.MetricStatus{Detector: DetectorStatus(det)})
			if size >= 1<<20 {
				t.Fatalf("%d segments take %d bytes of status, want under 1 MiB", n, size)
			}
			t.Logf("%d segments: %d bytes of status (%.1f a segment)", len(det.Segments), size, float64(size)/float64(len(det.Segments)))
			got := DetectorOf(back.Detector)
			if !reflect.DeepEqual(got, det) {
				for i := range det.Segments {
					if i >= len(got.Segments) || !reflect.DeepEqual(got.Segments[i], det.Segments[i]) {
						t.Fatalf("segment %d of %d: %+v, want %+v", i, len(det.Segments), got.Segments[i:min(i+1, len(got.Segments))], det.Segments[i])
					}
				}
				t.Fatalf("detector %+v, want %+v", got, det)
			}
			if int(back.Detector.SegmentsWithEvidence) != len(det.Segments) {
				t.Fatalf("segmentsWithEvidence %d of %d", back.Detector.SegmentsWithEvidence, len(det.Segments))
			}
			readable := back.Detector.Segments
			if want := min(len(det.Segments), cxv1.MaxReadableDetectorSegments); len(readable) != want {
				t.Fatalf("%d readable segments, want %d", len(readable), want)
			}
			smallestShown := readable[len(readable)-1].Statistic
			for i, s := range readable {
				if i > 0 && s.Statistic > readable[i-1].Statistic {
					t.Fatalf("readable segments not largest first: %+v", readable)
				}
			}
			hidden := 0
			for _, s := range det.Segments {
				if s.Statistic > smallestShown {
					hidden++
				}
			}
			if hidden > len(readable) {
				t.Fatalf("%d segments have more evidence than the smallest of %d shown", hidden, len(readable))
			}
			first, _ := json.Marshal(back.Detector)
			if again, _ := json.Marshal(DetectorStatus(DetectorOf(back.Detector))); string(again) != string(first) {
				t.Fatal("rendering the restored detector changed its status: an unchanged detector would be rewritten")
			}
		})
	}
}

// A status written before the encoding existed (segments only, up to 200)
// reads as it always did, and the next write carries every segment in the
// encoding.
func TestDetectorStatusReadsTheOldLayout(t *testing.T) {
	since := metav1.NewTime(time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC))
	episode := metav1.NewTime(time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC))
	old := &cxv1.DetectorStatus{FedUntil: &episode, Threshold: 7.5, SegmentsMonitored: 201}
	var want []engine.SegmentState
	for i := 0; i < 200; i++ {
		s := cxv1.DetectorSegment{Segment: fmt.Sprintf("account=%03d", i), Statistic: float64(i%7) + 0.5, Since: &since, Samples: 40}
		if i == 150 {
			s.Statistic, s.EpisodeStart, s.Recovery, s.RecoverySince = 7.5, &episode, 1.25, &episode
		}
		old.Segments = append(old.Segments, s)
		w := engine.SegmentState{Segment: s.Segment, Statistic: s.Statistic, Since: since.UTC(), Samples: 40}
		if i == 150 {
			w.EpisodeStart, w.Recovery, w.RecoverySince = episode.UTC(), 1.25, episode.UTC()
		}
		want = append(want, w)
	}
	back, _ := storedStatus(t, cxv1.MetricStatus{Detector: old})
	got := DetectorOf(back.Detector)
	if !reflect.DeepEqual(got.Segments, want) || got.Threshold != 7.5 || got.SegmentsMonitored != 201 || !got.FedUntil.Equal(episode.Time) {
		t.Fatalf("old status read as %+v", got)
	}
	next := DetectorStatus(got)
	if next.EncodedSegments == "" || len(next.Segments) != cxv1.MaxReadableDetectorSegments || next.Segments[0].Segment != "account=150" {
		t.Fatalf("rewritten as %d readable segments, first %+v, encoded %d bytes", len(next.Segments), next.Segments[0], len(next.EncodedSegments))
	}
	if again := DetectorOf(next); !reflect.DeepEqual(again.Segments, want) {
		t.Fatal("the rewritten status lost evidence")
	}
}

// An encoding that does not decode is an error, never a panic or a
// partial state; DetectorOf then falls back to the readable list.
func TestDetectorSegmentsEncodingRejectsDamage(t *testing.T) {
	good := EncodeDetectorSegments(evidence(50))
	for name, enc := range map[string]string{
		"unknown layout": "v9:" + strings.TrimPrefix(good, cxv1.DetectorSegmentsEncodingV1),
		"not base64":     "v1:!!!",
		"not gzip":       "v1:aGVsbG8=",
		"truncated":      good[:len(good)/2],
		"empty body":     EncodeDetectorSegments(nil)[:len(cxv1.DetectorSegmentsEncodingV1)],
	} {
		if segs, err := DecodeDetectorSegments(enc); err == nil {
			t.Errorf("%s: decoded %d segments", name, len(segs))
		}
	}
	d := DetectorStatus(&engine.Detector{Threshold: 5, Segments: evidence(50)})
	d.EncodedSegments = "v1:!!!"
	if got := DetectorOf(d); len(got.Segments) != cxv1.MaxReadableDetectorSegments {
		t.Fatalf("a damaged encoding read %d segments, want the %d readable ones", len(got.Segments), cxv1.MaxReadableDetectorSegments)
	}
	if segs, err := DecodeDetectorSegments(EncodeDetectorSegments(nil)); err != nil || len(segs) != 0 {
		t.Fatalf("no segments: %v, %v", segs, err)
	}
}

// A pooled compressor writes what a new one writes: the text depends on
// the body alone, whatever was packed before.
func TestPackBodyIsTheBodysAlone(t *testing.T) {
	fresh := func(body []byte) string {
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		_, _ = zw.Write(body)
		_ = zw.Close()
		return cxv1.DetectorSegmentsEncodingV1 + base64.StdEncoding.EncodeToString(buf.Bytes())
	}
	a, b := bytes.Repeat([]byte("account=a0001 "), 500), []byte("account=b")
	for i := 0; i < 3; i++ {
		for _, body := range [][]byte{a, b} {
			if got, want := packBody(body), fresh(body); got != want {
				t.Fatalf("round %d: %.40q, want %.40q", i, got, want)
			}
			back, err := unpackBody(packBody(body))
			if err != nil || !bytes.Equal(back, body) {
				t.Fatalf("round %d: unpacked %d bytes of %d: %v", i, len(back), len(body), err)
			}
		}
	}
}
