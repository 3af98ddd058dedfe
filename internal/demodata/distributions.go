package demodata

import (
	"math"
	"math/rand/v2"
	"sort"
	"time"

	"gonum.org/v1/gonum/stat/distuv"
)

// categorical draws labels with fixed weights.
type categorical struct {
	labels []string
	cum    []float64
}

func newCategorical(labels []string, weights []float64) categorical {
	c := categorical{labels: labels, cum: make([]float64, len(weights))}
	total := 0.0
	for _, w := range weights {
		total += w
	}
	acc := 0.0
	for i, w := range weights {
		acc += w / total
		c.cum[i] = acc
	}
	c.cum[len(c.cum)-1] = 1
	return c
}

func (c categorical) index(r *rand.Rand) int {
	u := r.Float64()
	return min(sort.Search(len(c.cum), func(i int) bool { return u < c.cum[i] }), len(c.cum)-1)
}

func (c categorical) draw(r *rand.Rand) string { return c.labels[c.index(r)] }

// poisson draws an event count with mean lambda.
func poisson(src rand.Source, lambda float64) int {
	if lambda <= 0 {
		return 0
	}
	return int(distuv.Poisson{Lambda: lambda, Src: src}.Rand())
}

// logNormal draws a value whose median is median and whose logarithm has
// standard deviation sigma.
func logNormal(r *rand.Rand, median, sigma float64) float64 {
	return median * math.Exp(sigma*r.NormFloat64())
}

// weekdayFactor shapes daily volumes: busy weekdays, quiet weekends,
// averaging to 1 over a week.
func weekdayFactor(t time.Time) float64 {
	switch t.Weekday() {
	case time.Saturday, time.Sunday:
		return 0.5
	default:
		return 1.2
	}
}

// hourOfDay weighs the hours of a UTC day: most contact happens in business
// hours, some in the evening, little at night.
var hourOfDay = func() categorical {
	labels := make([]string, 24)
	weights := make([]float64, 24)
	for h := range 24 {
		switch {
		case h >= 8 && h < 18:
			weights[h] = 8
		case h >= 18 && h < 23:
			weights[h] = 2
		default:
			weights[h] = 0.5
		}
	}
	return newCategorical(labels, weights)
}()

// timeInDay draws an instant within the day starting at day, whole seconds.
func timeInDay(r *rand.Rand, day time.Time) time.Time {
	h := hourOfDay.index(r)
	return day.Add(time.Duration(h)*time.Hour + time.Duration(r.IntN(3600))*time.Second)
}

// npsScore draws a 0-10 answer from a mix with NPS level (points) and 40 %
// passives: promoters (60 % + level)/2, detractors (60 % - level)/2.
func npsScore(r *rand.Rand, level float64) int {
	promoters := (0.6 + level/100) / 2
	detractors := (0.6 - level/100) / 2
	u := r.Float64()
	switch {
	case u < promoters:
		return 9 + boolInt(r.Float64() < 0.55)
	case u < promoters+detractors:
		return detractorScores.index(r)
	default:
		return 7 + boolInt(r.Float64() < 0.5)
	}
}

var detractorScores = newCategorical(make([]string, 7), []float64{5, 3, 5, 7, 12, 28, 40})

// satisfactionScore draws a 1-5 answer whose top-2-box share is level
// percent.
func satisfactionScore(r *rand.Rand, level float64) int {
	if r.Float64() < level/100 {
		return 4 + boolInt(r.Float64() < 0.55)
	}
	return 1 + unsatisfiedScores.index(r)
}

var unsatisfiedScores = newCategorical(make([]string, 3), []float64{25, 30, 45})

// The effort answer (1-7, higher is easier) mixes two neighbouring
// anchor distributions so that its mean is the level: hard and typical
// below the typical mean, typical and easy above it. The typical anchor
// (mean 5.5) is the stable history's, with a realistic but not heavy tail
// of hard experiences.
var effortAnchors = []categorical{
	newCategorical(make([]string, 7), []float64{0.12, 0.15, 0.20, 0.20, 0.15, 0.10, 0.08}),
	newCategorical(make([]string, 7), []float64{0.02, 0.03, 0.05, 0.11, 0.20, 0.30, 0.29}),
	newCategorical(make([]string, 7), []float64{0.00, 0.01, 0.02, 0.05, 0.10, 0.30, 0.52}),
}

var effortMeans = func() []float64 {
	means := make([]float64, len(effortAnchors))
	for i, a := range effortAnchors {
		prev := 0.0
		for j, c := range a.cum {
			means[i] += float64(j+1) * (c - prev)
			prev = c
		}
	}
	return means
}()

// effortScore draws a 1-7 answer with mean level.
func effortScore(r *rand.Rand, level float64) int {
	i := 0
	if level > effortMeans[1] {
		i = 1
	}
	upperShare := (level - effortMeans[i]) / (effortMeans[i+1] - effortMeans[i])
	if r.Float64() < upperShare {
		return 1 + effortAnchors[i+1].index(r)
	}
	return 1 + effortAnchors[i].index(r)
}

// levelRange is the range of levels the score distributions can express.
func levelRange(m Measure) (lo, hi float64) {
	switch m {
	case MeasureNPS:
		return -60, 60
	case MeasureCES, MeasureOnboarding:
		return effortMeans[0], effortMeans[len(effortMeans)-1]
	default:
		return 0, 100
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
