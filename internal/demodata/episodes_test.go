package demodata

import (
	"testing"
	"time"
)

// TestEpisodesArePlanted compares per-period aggregates around each
// episode: the two weeks before its start sit on the baseline's side of the
// midpoint between baseline and episode level, the days after its start
// on the level's side, and after the restore (or after the last
// resolution, for an episode that never restores) on the side the script
// says. Rows outside the episode's segment never move.
func TestEpisodesArePlanted(t *testing.T) {
	db := openReadOnly(t, shared.Path)
	sc := sharedScript
	for _, e := range sc.Episodes() {
		t.Run(e.Name, func(t *testing.T) {
			pairs, err := parseSegment(e.Segment, e.Measure)
			if err != nil {
				t.Fatal(err)
			}
			base := baselineOf(sc.Baseline, e.Measure)
			mid := (base + e.Level) / 2
			worse := func(v float64) bool { return (v < mid) == (e.Level < base) }
			window := func(from, to time.Duration) (time.Time, time.Time) { return sc.At(from), sc.At(to) }

			from, to := window(e.Start-14*Day, e.Start)
			if v := measureBetween(t, db, e.Measure, pairs, false, from, to); worse(v) {
				t.Errorf("before the start: %.2f, want the baseline %.2f", v, base)
			}
			during := min(e.Start+10*Day, end(e, sc))
			from, to = window(e.Start, during)
			if v := measureBetween(t, db, e.Measure, pairs, false, from, to); !worse(v) {
				t.Errorf("after the start: %.2f, want near the episode level %.2f", v, e.Level)
			}
			if len(pairs) > 0 {
				if v := measureBetween(t, db, e.Measure, pairs, true, from, to); worse(v) {
					t.Errorf("outside segment %s during the episode: %.2f, want the baseline %.2f", e.Segment, v, base)
				}
			}
			if e.Restore != 0 {
				from, to = window(e.Restore, e.Restore+14*Day)
				if v := measureBetween(t, db, e.Measure, pairs, false, from, to); worse(v) {
					t.Errorf("after the restore: %.2f, want the baseline %.2f", v, base)
				}
			} else {
				last := e.Resolutions[len(e.Resolutions)-1]
				from, to = window(last, sc.Future)
				if v := measureBetween(t, db, e.Measure, pairs, false, from, to); !worse(v) {
					t.Errorf("after the last resolution: %.2f, want still near %.2f", v, e.Level)
				}
			}
		})
	}
}

// end is when an episode's worse data stops: its restore, or the end of
// the timeline.
func end(e Episode, sc Script) time.Duration {
	if e.Restore != 0 {
		return e.Restore
	}
	return sc.Future
}

func baselineOf(l Levels, m Measure) float64 {
	switch m {
	case MeasureNPS:
		return l.NPS
	case MeasureCSAT:
		return l.CSAT
	case MeasureCES, MeasureOnboarding:
		return l.CES
	default:
		return l.FCR
	}
}

// TestEpisodeThemeRises checks the open text follows the scores: while an
// episode lasts, its theme is the most common among unhappy answers.
func TestEpisodeThemeRises(t *testing.T) {
	db := openReadOnly(t, shared.Path)
	sc := sharedScript
	for _, e := range sc.Episodes() {
		if e.Theme == "" {
			continue
		}
		share := func(from, to time.Time) float64 {
			return scalar(t, db, `SELECT 100.0 * AVG(theme = ?) FROM survey_responses
				WHERE survey = ? AND interaction_at >= ? AND interaction_at < ? AND score IS NOT NULL`,
				e.Theme, string(e.Measure), FormatTime(from), FormatTime(to))
		}
		before := share(sc.At(e.Start-14*Day), sc.At(e.Start))
		during := share(sc.At(e.Start), sc.At(min(e.Start+10*Day, end(e, sc))))
		if during < 1.5*before {
			t.Errorf("%s: theme %q in %.1f %% of answers before and %.1f %% during, want a clear rise",
				e.Name, e.Theme, before, during)
		}
	}
}
