package demodata

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Day is one data day, the unit the Script's offsets are written in.
const Day = 24 * time.Hour

// Measure names the quantity an Episode moves, and so the rows it touches.
type Measure string

// The quantities an Episode can move.
const (
	// MeasureNPS moves the NPS of "nps" survey responses (level in NPS
	// points, -100..100).
	MeasureNPS Measure = "nps"
	// MeasureCSAT moves the top-2-box share of "csat" survey responses
	// (level in percent).
	MeasureCSAT Measure = "csat"
	// MeasureCES moves the mean of "ces" survey responses on the 1-7
	// agreement scale (higher is easier).
	MeasureCES Measure = "ces"
	// MeasureFCR moves the first-contact resolution of tickets (level in
	// percent).
	MeasureFCR Measure = "fcr"
	// MeasureOnboarding moves the mean effort answered at the end of an
	// onboarding stage, on the CES survey's 1-7 scale.
	MeasureOnboarding Measure = "onboarding"
)

// Episode is one planted change of customer experience and the owner's
// actions the demo plays against it. Offsets are from the Script's T0. The
// change applies to the experience itself: surveys by their interaction
// time, tickets by their creation time, so late answers about the bad
// period keep arriving for a while after it ends.
type Episode struct {
	// Name identifies the episode in the demo's narration.
	Name string `json:"name"`
	// Metric is the sample Metric expected to open a task for it.
	Metric string `json:"metric"`
	// Team owns that Metric and resolves the task.
	Team string `json:"team"`
	// Measure is the quantity the episode moves.
	Measure Measure `json:"measure"`
	// Segment restricts the change to matching rows, as a segment key:
	// sorted "column=value" pairs joined by commas, "" for all rows. It is
	// also the key of the task the demo expects.
	Segment string `json:"segment"`
	// Start is when the experience worsens.
	Start time.Duration `json:"start"`
	// Level is the measure's value while worsened, in the Measure's units.
	Level float64 `json:"level"`
	// Theme is the open-text theme that rises among the unhappy answers
	// while worsened; empty for tickets.
	Theme string `json:"theme,omitempty"`
	// Resolutions are the times the owner marks the task resolved, one per
	// attempt.
	Resolutions []time.Duration `json:"resolutions,omitempty"`
	// Restore is when the experience returns to baseline; zero means it
	// stays worse until the end of the timeline.
	Restore time.Duration `json:"restore,omitempty"`
	// Outcome is the task phase (or condition) the episode should end in.
	Outcome string `json:"outcome"`
}

// Active reports whether the episode has worsened the experience at
// offset d from T0.
func (e Episode) Active(d time.Duration) bool {
	return d >= e.Start && (e.Restore == 0 || d < e.Restore)
}

// Volumes are mean events per day at Scale 1 (weekdays get more, weekends
// fewer, averaging to these).
type Volumes struct {
	// NPS is relational NPS survey responses per day.
	NPS float64 `json:"nps"`
	// CSAT is post-support CSAT survey responses per day.
	CSAT float64 `json:"csat"`
	// CES is effort survey responses per day over all journey stages.
	CES float64 `json:"ces"`
	// PSAT is product-feature satisfaction responses per day.
	PSAT float64 `json:"psat"`
	// Tickets is support tickets opened per day.
	Tickets float64 `json:"tickets"`
	// Onboarding is effort answers per day at the end of the six
	// onboarding stages, alike across them.
	Onboarding float64 `json:"onboarding"`
}

// Levels are the in-control values of the stable history, chosen at or
// better than the sample Metrics' targets.
type Levels struct {
	// NPS in points: promoters 45 %, detractors 15 %, passives 40 %.
	NPS float64 `json:"nps"`
	// CSAT is the top-2-box share of CSAT answers, percent.
	CSAT float64 `json:"csat"`
	// CES is the mean effort score on 1-7.
	CES float64 `json:"ces"`
	// PSAT is the top-2-box share of PSAT answers, percent.
	PSAT float64 `json:"psat"`
	// FCR is first-contact resolution, percent of tickets.
	FCR float64 `json:"fcr"`
	// Reopen is the reopen rate, percent of tickets.
	Reopen float64 `json:"reopen"`
	// Escalation is the escalation rate, percent of tickets.
	Escalation float64 `json:"escalation"`
	// ResolutionMedian is the median time from opening to resolution.
	ResolutionMedian time.Duration `json:"resolutionMedian"`
	// FirstResponseMedian is the median time to the first reply.
	FirstResponseMedian time.Duration `json:"firstResponseMedian"`
	// SkippedPercent is the share of survey responses left unrated (NULL
	// score).
	SkippedPercent float64 `json:"skippedPercent"`
}

// Script describes the data of the whole demo timeline, relative to T0.
type Script struct {
	// Seed makes the data deterministic.
	Seed uint64 `json:"seed"`
	// T0 is the demo's start, midnight UTC; the fast clock starts here.
	T0 time.Time `json:"t0"`
	// History is the stable data before T0.
	History time.Duration `json:"history"`
	// Future is the data after T0, revealed as the clock advances.
	Future time.Duration `json:"future"`
	// Scale multiplies every daily volume; tests use a fraction.
	Scale float64 `json:"scale"`
	// Accounts is the number of customer accounts.
	Accounts int `json:"accounts"`
	// Volumes are the mean daily volumes at Scale 1.
	Volumes Volumes `json:"volumes"`
	// Baseline is the in-control experience.
	Baseline Levels `json:"baseline"`

	// SupportCSAT: support CSAT drops; fixed at the first resolution, so the
	// task is Verified.
	SupportCSAT Episode `json:"supportCSAT"`
	// IntegrationEffort: effort rises in the integration stage and stays
	// high after two resolutions, so the task is Reopened twice and
	// Escalated.
	IntegrationEffort Episode `json:"integrationEffort"`
	// ExecutiveNPS: executives' NPS drops and recovers by itself with no
	// resolution, so the task ends Recovered.
	ExecutiveNPS Episode `json:"executiveNPS"`
	// IntegrationFCR: first-contact resolution of integration tickets
	// drops; fixed at the resolution, so the task is Verified.
	IntegrationFCR Episode `json:"integrationFCR"`
	// DataImportEffort: onboarding customers struggle at the data-import
	// stage; the data-migration team's fix brings the effort back, so the
	// task is Verified.
	DataImportEffort Episode `json:"dataImportEffort"`
}

// DefaultT0 is the default demo start, a Monday at midnight UTC. A fixed
// date keeps the generated file identical from run to run.
var DefaultT0 = time.Date(2026, time.March, 2, 0, 0, 0, 0, time.UTC)

// DefaultScript returns the demo's script: 220 days of stable history (a
// 30-day window after the 180 days the detector calibrates on), then 60
// days in which four episodes play out.
//
// Volumes are high enough that a one-sided CUSUM tuned to the sample
// Metrics' smallest shift finds each drop within a few days: CSAT falls 15
// points at about 160 answers a day, integration effort falls 0.9 at about
// 60 a day, executives' NPS falls 30 points at about 120 a day, integration
// first-contact resolution falls 27 points at about 80 tickets a day.
//
// Seed 8 is the seed, among the first twelve, whose data replays through
// the tests' CUSUM with the widest margin: no quiet segment rises above
// 70 % of its threshold, and every drop is found within about 3 days.
// Other seeds tell the same story but may show a chance alarm (each
// effort segment's skewed answers make one about twice as likely as the
// budget of normal data).
func DefaultScript() Script {
	return Script{
		Seed:     8,
		T0:       DefaultT0,
		History:  220 * Day,
		Future:   60 * Day,
		Scale:    1,
		Accounts: 300,
		Volumes:  Volumes{NPS: 400, CSAT: 160, CES: 240, PSAT: 100, Tickets: 400, Onboarding: 240},
		Baseline: Levels{
			NPS: 30, CSAT: 85, CES: 5.5, PSAT: 82,
			FCR: 72, Reopen: 8, Escalation: 12,
			ResolutionMedian:    20 * time.Hour,
			FirstResponseMedian: time.Hour,
			SkippedPercent:      3,
		},
		SupportCSAT: Episode{
			Name: "support-csat-drop", Metric: "support-csat", Team: "support-operations",
			Measure: MeasureCSAT, Segment: "",
			Start: 5 * Day, Level: 70, Theme: "slow response",
			Resolutions: []time.Duration{12 * Day}, Restore: 12 * Day,
			Outcome: "Verified",
		},
		IntegrationEffort: Episode{
			Name: "integration-effort-rise", Metric: "journey-ces", Team: "integration-engineering",
			Measure: MeasureCES, Segment: "stage=integration",
			Start: 5 * Day, Level: 4.6, Theme: "integration docs",
			Resolutions: []time.Duration{12 * Day, 30 * Day},
			Outcome:     "Escalated",
		},
		ExecutiveNPS: Episode{
			Name: "executive-nps-dip", Metric: "account-nps", Team: "customer-success",
			Measure: MeasureNPS, Segment: "persona=executive",
			Start: 8 * Day, Level: 0, Theme: "missing features",
			Restore: 20 * Day,
			Outcome: "Recovered",
		},
		IntegrationFCR: Episode{
			Name: "integration-fcr-drop", Metric: "first-contact-resolution", Team: "support-operations",
			Measure: MeasureFCR, Segment: "category=integration",
			Start: 6 * Day, Level: 45,
			Resolutions: []time.Duration{14 * Day}, Restore: 14 * Day,
			Outcome: "Verified",
		},
		DataImportEffort: Episode{
			Name: "data-import-effort-rise", Metric: "onboarding-ces", Team: "data-migration",
			Measure: MeasureOnboarding, Segment: "stage=data-import",
			Start: 7 * Day, Level: 4.4,
			Resolutions: []time.Duration{15 * Day}, Restore: 15 * Day,
			Outcome: "Verified",
		},
	}
}

// Episodes returns the script's episodes in a fixed order.
func (s Script) Episodes() []Episode {
	return []Episode{s.SupportCSAT, s.IntegrationEffort, s.ExecutiveNPS, s.IntegrationFCR, s.DataImportEffort}
}

// Start is the first instant of data.
func (s Script) Start() time.Time { return s.T0.Add(-s.History) }

// End is the instant after the last data.
func (s Script) End() time.Time { return s.T0.Add(s.Future) }

// At converts an offset from T0 into a time.
func (s Script) At(d time.Duration) time.Time { return s.T0.Add(d) }

// ErrInvalidScript is returned, wrapped, for a Script that cannot be
// generated.
var ErrInvalidScript = errors.New("invalid demo script")

// Validate reports the first problem of the script.
func (s Script) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalidScript, fmt.Sprintf(format, args...))
	}
	switch {
	case s.T0.IsZero() || !s.T0.Equal(s.T0.UTC().Truncate(Day)):
		return bad("T0 %s must be midnight UTC", s.T0)
	case s.History < Day || s.History%Day != 0:
		return bad("history %s must be whole days, at least one", s.History)
	case s.Future < Day || s.Future%Day != 0:
		return bad("future %s must be whole days, at least one", s.Future)
	case !(s.Scale > 0):
		return bad("scale %v must be positive", s.Scale)
	case s.Accounts < 1:
		return bad("accounts %d must be positive", s.Accounts)
	}
	for _, e := range s.Episodes() {
		if e.Restore != 0 && e.Restore <= e.Start {
			return bad("episode %s restores at %s, not after its start %s", e.Name, e.Restore, e.Start)
		}
		if _, err := parseSegment(e.Segment, e.Measure); err != nil {
			return bad("episode %s: %v", e.Name, err)
		}
		if err := checkLevel(e.Measure, e.Level); err != nil {
			return bad("episode %s: %v", e.Name, err)
		}
	}
	return nil
}

// segmentColumns are the columns an episode of each measure may select on.
var segmentColumns = map[Measure][]string{
	MeasureNPS:  {"account", "persona", "segment", "stage"},
	MeasureCSAT: {"account", "persona", "segment", "stage"},
	MeasureCES:  {"account", "persona", "segment", "stage"},
	MeasureFCR:  {"account", "category", "segment"},
	// Onboarding answers carry their account and stage only.
	MeasureOnboarding: {"account", "stage"},
}

type segmentPair struct{ column, value string }

// parseSegment splits a segment key into its column=value pairs, which
// must be in the canonical form: sorted by column, each column once.
func parseSegment(key string, m Measure) ([]segmentPair, error) {
	allowed, ok := segmentColumns[m]
	if !ok {
		return nil, fmt.Errorf("unknown measure %q", m)
	}
	if key == "" {
		return nil, nil
	}
	var pairs []segmentPair
	for part := range strings.SplitSeq(key, ",") {
		column, value, found := strings.Cut(part, "=")
		if !found || column == "" {
			return nil, fmt.Errorf("segment %q: %q is not column=value", key, part)
		}
		known := false
		for _, a := range allowed {
			known = known || a == column
		}
		if !known {
			return nil, fmt.Errorf("segment %q: measure %s has no column %q (allowed: %s)",
				key, m, column, strings.Join(allowed, ", "))
		}
		if n := len(pairs); n > 0 && pairs[n-1].column >= column {
			return nil, fmt.Errorf("segment %q: columns must be sorted and distinct", key)
		}
		pairs = append(pairs, segmentPair{column, value})
	}
	return pairs, nil
}

func checkLevel(m Measure, level float64) error {
	lo, hi := levelRange(m)
	if level < lo || level > hi {
		return fmt.Errorf("level %v of %s outside [%v, %v]", level, m, lo, hi)
	}
	return nil
}
