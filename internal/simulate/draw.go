package simulate

import (
	"math"
	"math/rand/v2"

	"gonum.org/v1/gonum/stat/distuv"
)

// Binomial draws an exact binomial count of n trials with probability p
// (gonum's rejection sampler, exact for every n, not a rounded normal).
func Binomial(r *rand.Rand, n int64, p float64) int64 {
	switch {
	case n <= 0 || p <= 0:
		return 0
	case p >= 1:
		return n
	}
	return int64(distuv.Binomial{N: float64(n), P: p, Src: r}.Rand())
}

// Poisson draws an exact Poisson count of mean lambda.
func Poisson(r *rand.Rand, lambda float64) int64 {
	if lambda <= 0 {
		return 0
	}
	return int64(distuv.Poisson{Lambda: lambda, Src: r}.Rand())
}

// Multinomial splits n units over categories of probabilities p (summing
// to 1) by conditional binomials, so the counts are exact and sum to n.
func Multinomial(r *rand.Rand, n int64, p []float64, out []int64) {
	left, mass := n, 1.0
	for i := range p {
		if i == len(p)-1 || left == 0 {
			out[i] = left
			left = 0
			continue
		}
		q := 0.0
		if mass > 0 {
			q = math.Min(1, p[i]/mass)
		}
		out[i] = Binomial(r, left, q)
		left -= out[i]
		mass -= p[i]
	}
}

// Mood is a day-to-day level drift shared by every unit: a stationary
// AR(1) process with standard deviation sd and correlation time tau days
// (lag-1 autocorrelation exp(−1/tau)), started in its stationary law.
func Mood(r *rand.Rand, days int, sd, tau float64) []float64 {
	out := make([]float64, days)
	if sd == 0 || days == 0 {
		return out
	}
	phi := math.Exp(-1 / tau)
	innov := sd * math.Sqrt(1-phi*phi)
	x := sd * r.NormFloat64()
	for d := range out {
		out[d] = x
		x = phi*x + innov*r.NormFloat64()
	}
	return out
}

// Campaigns is an account's survey schedule: alternating quiet spells and
// campaigns of length days, active a share of the time, starting at a
// random phase. Every account gets the same active share, so its long-run
// share of responses is its size's share.
func Campaigns(r *rand.Rand, days int, length, share float64) []bool {
	out := make([]bool, days)
	quiet := length * (1 - share) / share
	// Start in the stationary mix of the two states.
	active := r.Float64() < share
	left := spell(r, length, quiet, active)
	for d := range out {
		for left <= 0 {
			active = !active
			left += spell(r, length, quiet, active)
		}
		out[d] = active
		left--
	}
	return out
}

// spell draws the length of one campaign or quiet spell: exponential
// around its mean, at least a day for a campaign.
func spell(r *rand.Rand, length, quiet float64, active bool) float64 {
	if active {
		return math.Max(1, math.Round(length*r.ExpFloat64()))
	}
	return math.Round(quiet * r.ExpFloat64())
}

// npsShares are the promoter, passive and detractor shares at NPS level
// mu, moved from the reference mix (prom, det) as DOMAIN.md's scenario
// does: a point of NPS lost takes 0.4 % from promoters and gives 0.6 % to
// detractors.
func npsShares(mu, prom, det float64) [3]float64 {
	s := (100*(prom-det) - mu) / 100
	p := clamp(prom-0.4*s, 0, 1)
	d := clamp(det+0.6*s, 0, 1-p)
	return [3]float64{d, 1 - p - d, p}
}

// cesBase is the reference distribution of effort scores 1..7 (mean 5.6,
// sd 1.2); other means tilt it exponentially.
var cesBase = [7]float64{0.01, 0.02, 0.04, 0.10, 0.20, 0.33, 0.30}

// cesShares tilts cesBase to mean mu by bisection on the tilt.
func cesShares(mu float64) [7]float64 {
	tilt := func(theta float64) ([7]float64, float64) {
		var p [7]float64
		sum, mean := 0.0, 0.0
		for k := range p {
			p[k] = cesBase[k] * math.Exp(theta*float64(k+1))
			sum += p[k]
		}
		for k := range p {
			p[k] /= sum
			mean += p[k] * float64(k+1)
		}
		return p, mean
	}
	lo, hi := -20.0, 20.0
	for range 80 {
		mid := (lo + hi) / 2
		if _, m := tilt(mid); m < mu {
			lo = mid
		} else {
			hi = mid
		}
	}
	p, _ := tilt((lo + hi) / 2)
	return p
}

func clamp(x, lo, hi float64) float64 { return math.Max(lo, math.Min(hi, x)) }

// poissonLower is the exact 95 % lower confidence bound of a Poisson
// mean after observing k events (Garwood): 0 for none.
func poissonLower(k int) float64 {
	if k == 0 {
		return 0
	}
	lo, hi := 0.0, float64(k)
	for range 100 {
		mid := (lo + hi) / 2
		if poissonCDF(k-1, mid) > 0.975 {
			lo = mid
		} else {
			hi = mid
		}
	}
	return lo
}

// poissonCDF is P(X ≤ k) for a Poisson mean mu.
func poissonCDF(k int, mu float64) float64 {
	s, term := 0.0, math.Exp(-mu)
	for i := 0; i <= k; i++ {
		s += term
		term *= mu / float64(i+1)
	}
	return s
}

// poissonUpper is the exact 95 % upper confidence bound of a Poisson mean
// after observing k events (Garwood), by bisection on the CDF.
func poissonUpper(k int) float64 {
	lo, hi := 0.0, float64(k)+10*math.Sqrt(float64(k)+1)+10
	for range 100 {
		mid := (lo + hi) / 2
		if poissonCDF(k, mid) > 0.025 {
			lo = mid
		} else {
			hi = mid
		}
	}
	return hi
}
