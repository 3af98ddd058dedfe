package demodata

import (
	"database/sql"
	"math"
	"path/filepath"
	"testing"
	"time"
)

// The demo needs data a change detector reads as intended: no episode in
// the stable history or in the segments nothing was planted in, and each
// planted drop found within days. This test replays the warehouse through
// the detector DOMAIN.md describes (a one-sided CUSUM per segment fed each
// unit once in order of arrival, reference target - δ/2, threshold set by
// Siegmund's approximation to one false task per 100 metric-months split
// across the metric's segments), with the sample Metrics' targets and δ.

// detectorCase is one sample Metric as the detector sees it.
type detectorCase struct {
	episode  Episode
	query    string  // rows of (segment value, arrival time, contribution), in arrival order
	target   float64 // the objective; NaN for a relative objective (the history's mean)
	shift    float64 // δ, the smallest shift worth a task
	segments int
}

func detectorCases(sc Script) []detectorCase {
	return []detectorCase{
		{sc.SupportCSAT, `SELECT '', responded_at, 100.0 * (score >= 4) FROM survey_responses
			WHERE survey = 'csat' AND score IS NOT NULL ORDER BY responded_at, id`, 80, 5, 1},
		{sc.IntegrationEffort, `SELECT 'stage=' || stage, responded_at, score FROM survey_responses
			WHERE survey = 'ces' AND score IS NOT NULL ORDER BY responded_at, id`, math.NaN(), 0.3, 4},
		{sc.ExecutiveNPS, `SELECT 'persona=' || persona, responded_at,
				CASE WHEN score >= 9 THEN 100 WHEN score <= 6 THEN -100 ELSE 0 END FROM survey_responses
			WHERE survey = 'nps' AND score IS NOT NULL ORDER BY responded_at, id`, 30, 5, 3},
		{sc.IntegrationFCR, `SELECT 'category=' || category, resolved_at, 100.0 * first_contact_resolved
			FROM tickets ORDER BY resolved_at, id`, 70, 5, 5},
		{sc.DataImportEffort, `SELECT 'stage=' || stage, answered_at, score FROM onboarding_responses
			ORDER BY answered_at, id`, math.NaN(), 0.3, 6},
	}
}

type unit struct {
	at    time.Time
	value float64
}

func TestDetectorFindsOnlyThePlantedDrops(t *testing.T) {
	replayDetectors(t, shared.Path, sharedScript)
}

// TestDefaultWarehouseReplaysCleanly replays the warehouse the demo uses,
// at the default scale.
func TestDefaultWarehouseReplaysCleanly(t *testing.T) {
	if testing.Short() {
		t.Skip("generates the full-size warehouse")
	}
	sc := DefaultScript()
	s, err := Generate(filepath.Join(t.TempDir(), "warehouse.db"), sc)
	if err != nil {
		t.Fatal(err)
	}
	replayDetectors(t, s.Path, sc)
}

func replayDetectors(t *testing.T, path string, sc Script) {
	db := openReadOnly(t, path)
	// Four days at the default volume; detection takes longer in
	// proportion at the tests' smaller volume.
	maxDelay := time.Duration(float64(4*Day) / sc.Scale)
	for _, c := range detectorCases(sc) {
		t.Run(c.episode.Metric, func(t *testing.T) {
			bySegment := readUnits(t, db, c.query)
			quietPeak := 0.0
			for segment, units := range bySegment {
				history := unitsBefore(units, sc.T0)
				mean, sd := meanSD(history)
				target := c.target
				if math.IsNaN(target) {
					target = mean
				}
				perDay := float64(len(history)) / sc.History.Hours() * 24
				k := c.shift / (2 * sd)
				h := cusumThreshold(k, 100*float64(c.segments)*30*perDay)
				quietUntil := sc.End()
				if segment == c.episode.Segment {
					quietUntil = sc.At(c.episode.Start)
				}
				first, peak := runCUSUM(units, target, sd, k, h, quietUntil)
				quietPeak = max(quietPeak, peak)
				if segment != c.episode.Segment {
					if !first.IsZero() {
						t.Errorf("segment %q: false alarm at %s (h %.1f, k %.3f)", segment, first, h, k)
					}
					continue
				}
				start := sc.At(c.episode.Start)
				switch delay := first.Sub(start); {
				case first.IsZero():
					t.Errorf("segment %q: the drop at %s was never found", segment, start)
				case delay < 0:
					t.Errorf("segment %q: alarm at %s, before the drop at %s", segment, first, start)
				case delay > maxDelay:
					t.Errorf("segment %q: found after %s, want within %s", segment, delay, maxDelay)
				default:
					t.Logf("segment %q: %.0f units a day, h %.1f, k %.3f: found %.1f days after the drop",
						segment, perDay, h, k, delay.Hours()/24)
				}
			}
			t.Logf("highest statistic on quiet data: %.0f %% of the threshold", 100*quietPeak)
		})
	}
}

func readUnits(t *testing.T, db *sql.DB, query string) map[string][]unit {
	t.Helper()
	rows, err := db.Query(query)
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	defer rows.Close()
	bySegment := make(map[string][]unit)
	for rows.Next() {
		var segment string
		var u unit
		if err := rows.Scan(&segment, &u.at, &u.value); err != nil {
			t.Fatal(err)
		}
		bySegment[segment] = append(bySegment[segment], u)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return bySegment
}

func unitsBefore(units []unit, t time.Time) []unit {
	for i, u := range units {
		if !u.at.Before(t) {
			return units[:i]
		}
	}
	return units
}

func meanSD(units []unit) (mean, sd float64) {
	var sum, sumSq float64
	for _, u := range units {
		sum += u.value
		sumSq += u.value * u.value
	}
	n := float64(len(units))
	mean = sum / n
	return mean, math.Sqrt((sumSq - n*mean*mean) / (n - 1))
}

// runCUSUM runs a one-sided CUSUM for a drop below target. It returns
// the arrival time of the unit that first crossed h (zero if none) and the
// highest statistic, as a share of h, on units before quietUntil.
func runCUSUM(units []unit, target, sd, k, h float64, quietUntil time.Time) (time.Time, float64) {
	s, peak := 0.0, 0.0
	var first time.Time
	for _, u := range units {
		s = max(0, s+(target-u.value)/sd-k)
		if u.at.Before(quietUntil) {
			peak = max(peak, s/h)
		}
		if s > h && first.IsZero() {
			first = u.at
		}
	}
	return first, peak
}

// cusumThreshold solves Siegmund's approximation of the in-control average
// run length, (e^{2kb} - 2kb - 1) / 2k² with b = h + 1.166, for h.
func cusumThreshold(k, runLength float64) float64 {
	arl := func(h float64) float64 {
		b := 2 * k * (h + 1.166)
		return (math.Exp(b) - b - 1) / (2 * k * k)
	}
	lo, hi := 0.0, 1.0
	for arl(hi) < runLength {
		hi *= 2
	}
	for range 60 {
		if mid := (lo + hi) / 2; arl(mid) < runLength {
			lo = mid
		} else {
			hi = mid
		}
	}
	return hi
}
