// Package analysis holds the statistics a rollout's gates decide with: a
// sequential probability ratio test on error counts, and the Mann-Whitney
// U test on two samples. Pure functions of their inputs.
package analysis

import (
	"errors"
	"fmt"
	"math"
	"sort"
)

// Verdict is a gate's outcome: the evidence says pass, or fail, or is not
// yet enough either way.
type Verdict string

const (
	Pass         Verdict = "pass"
	Fail         Verdict = "fail"
	Inconclusive Verdict = "inconclusive"
)

// SPRT is Wald's sequential probability ratio test for a binomial rate:
// H0, the canary's error rate is P0 (acceptable), against H1, it is P1
// (bad). Alpha is the chance of failing a good canary, Beta of passing a
// bad one.
type SPRT struct {
	P0, P1      float64
	Alpha, Beta float64
}

// SPRTResult is the test's verdict with its numbers.
type SPRTResult struct {
	Verdict Verdict
	// LLR is the log-likelihood ratio of H1 to H0 given the counts; the
	// test fails at or above Upper and passes at or below Lower.
	LLR, Lower, Upper float64
}

// Validate names a parameter out of range.
func (s SPRT) Validate() error {
	switch {
	case !(s.P0 > 0 && s.P0 < 1):
		return fmt.Errorf("p0 %v: must be between 0 and 1", s.P0)
	case !(s.P1 > s.P0 && s.P1 < 1):
		return fmt.Errorf("p1 %v: must be between p0 (%v) and 1", s.P1, s.P0)
	case !(s.Alpha > 0 && s.Alpha < 0.5):
		return fmt.Errorf("alpha %v: must be between 0 and 0.5", s.Alpha)
	case !(s.Beta > 0 && s.Beta < 0.5):
		return fmt.Errorf("beta %v: must be between 0 and 0.5", s.Beta)
	}
	return nil
}

// Test decides on errors out of n requests.
func (s SPRT) Test(errs, n int64) (SPRTResult, error) {
	if err := s.Validate(); err != nil {
		return SPRTResult{}, err
	}
	if errs < 0 || n < 0 || errs > n {
		return SPRTResult{}, fmt.Errorf("%d errors out of %d requests", errs, n)
	}
	r := SPRTResult{
		Lower: math.Log(s.Beta / (1 - s.Alpha)),
		Upper: math.Log((1 - s.Beta) / s.Alpha),
		LLR:   float64(errs)*math.Log(s.P1/s.P0) + float64(n-errs)*math.Log((1-s.P1)/(1-s.P0)),
	}
	switch {
	case r.LLR >= r.Upper:
		r.Verdict = Fail
	case r.LLR <= r.Lower:
		r.Verdict = Pass
	default:
		r.Verdict = Inconclusive
	}
	return r, nil
}

// MannWhitney is the result of the one-sided Mann-Whitney U test that the
// canary's values tend to be greater (slower) than the baseline's.
type MannWhitney struct {
	// U is the canary's statistic: how many (canary, baseline) pairs have
	// the canary's value greater, ties counting one half.
	U float64
	// P is the one-sided p-value from the normal approximation with tie
	// and continuity corrections.
	P float64
	// Effect is U over the number of pairs: the probability that a canary
	// value exceeds a baseline value (0.5: no difference).
	Effect float64
}

// ErrTooFewSamples is returned when either sample is too small to test.
var ErrTooFewSamples = errors.New("too few samples")

// MannWhitneyGreater tests canary against baseline. Each sample needs at
// least minN values.
func MannWhitneyGreater(canary, baseline []float64, minN int) (MannWhitney, error) {
	n1, n2 := len(canary), len(baseline)
	if n1 < max(minN, 1) || n2 < max(minN, 1) {
		return MannWhitney{}, fmt.Errorf("%w: %d canary and %d baseline values, need %d each", ErrTooFewSamples, n1, n2, max(minN, 1))
	}
	type obs struct {
		v      float64
		canary bool
	}
	all := make([]obs, 0, n1+n2)
	for _, v := range canary {
		if math.IsNaN(v) {
			return MannWhitney{}, errors.New("canary sample holds NaN")
		}
		all = append(all, obs{v, true})
	}
	for _, v := range baseline {
		if math.IsNaN(v) {
			return MannWhitney{}, errors.New("baseline sample holds NaN")
		}
		all = append(all, obs{v, false})
	}
	sort.Slice(all, func(i, j int) bool { return all[i].v < all[j].v })
	n := float64(n1 + n2)
	var rankSum, tieTerm float64
	for i := 0; i < len(all); {
		j := i
		for j < len(all) && all[j].v == all[i].v {
			j++
		}
		// Ranks i+1 … j share their mean.
		rank := float64(i+1+j) / 2
		for k := i; k < j; k++ {
			if all[k].canary {
				rankSum += rank
			}
		}
		t := float64(j - i)
		tieTerm += t*t*t - t
		i = j
	}
	f1, f2 := float64(n1), float64(n2)
	u := rankSum - f1*(f1+1)/2
	mean := f1 * f2 / 2
	variance := f1 * f2 / 12 * ((n + 1) - tieTerm/(n*(n-1)))
	r := MannWhitney{U: u, Effect: u / (f1 * f2)}
	if variance <= 0 {
		// Every value equal: no evidence of a difference.
		r.P = 1
		return r, nil
	}
	z := (u - mean - 0.5) / math.Sqrt(variance)
	r.P = 0.5 * math.Erfc(z/math.Sqrt2)
	return r, nil
}
