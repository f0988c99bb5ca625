package analysis

import (
	"math"
	"math/rand/v2"
	"testing"
)

// The SPRT's golden values are Wald's closed forms computed by hand for
// p0 = 0.01, p1 = 0.05, α = 0.05, β = 0.10:
//
//	lower = ln(β/(1−α)) = ln(0.10/0.95) = −2.25129
//	upper = ln((1−β)/α) = ln(0.90/0.05) = 2.89037
//	each clean request adds ln(0.95/0.99) = −0.0412427
//	each error adds ln(0.05/0.01) = 1.6094379
//
// so a clean canary passes after ⌈2.25129/0.0412427⌉ = 55 requests, and
// two errors in the first two requests (2 × 1.609 = 3.219) fail it.
func TestSPRT(t *testing.T) {
	s := SPRT{P0: 0.01, P1: 0.05, Alpha: 0.05, Beta: 0.10}
	for _, tc := range []struct {
		errs, n int64
		want    Verdict
		llr     float64
	}{
		{0, 0, Inconclusive, 0},
		{0, 54, Inconclusive, 54 * -0.0412427},
		{0, 55, Pass, 55 * -0.0412427},
		{1, 1, Inconclusive, 1.6094379},
		{2, 2, Fail, 2 * 1.6094379},
		{2, 100, Inconclusive, 2*1.6094379 + 98*-0.0412427},
		{1, 200, Pass, 1.6094379 + 199*-0.0412427},
		{10, 200, Fail, 10*1.6094379 + 190*-0.0412427},
	} {
		r, err := s.Test(tc.errs, tc.n)
		if err != nil {
			t.Fatal(err)
		}
		if r.Verdict != tc.want || math.Abs(r.LLR-tc.llr) > 1e-4 {
			t.Errorf("%d/%d: %s (LLR %.5f), want %s (LLR %.5f)", tc.errs, tc.n, r.Verdict, r.LLR, tc.want, tc.llr)
		}
		if math.Abs(r.Lower+2.25129) > 1e-4 || math.Abs(r.Upper-2.89037) > 1e-4 {
			t.Errorf("bounds %.5f %.5f", r.Lower, r.Upper)
		}
	}
	for _, bad := range []SPRT{{P0: 0, P1: 0.1, Alpha: 0.05, Beta: 0.1}, {P0: 0.1, P1: 0.05, Alpha: 0.05, Beta: 0.1}, {P0: 0.01, P1: 0.1, Alpha: 0.6, Beta: 0.1}} {
		if _, err := bad.Test(0, 10); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
	if _, err := s.Test(5, 3); err == nil {
		t.Error("more errors than requests accepted")
	}
}

func TestMannWhitneyHandComputed(t *testing.T) {
	// Pairs where the canary is greater: 3 beats 1 and 2 and ties 3 (2.5),
	// 4 and 5 beat all three (3 + 3): U = 8.5 of 9 pairs.
	r, err := MannWhitneyGreater([]float64{3, 4, 5}, []float64{1, 2, 3}, 3)
	if err != nil {
		t.Fatal(err)
	}
	if r.U != 8.5 || math.Abs(r.Effect-8.5/9) > 1e-12 {
		t.Errorf("U = %v, effect %v", r.U, r.Effect)
	}
	if _, err := MannWhitneyGreater([]float64{1}, []float64{1, 2}, 2); err == nil {
		t.Error("too few samples accepted")
	}
	same, _ := MannWhitneyGreater([]float64{2, 2, 2}, []float64{2, 2, 2}, 3)
	if same.P != 1 {
		t.Errorf("equal samples: p = %v", same.P)
	}
}

// TestMannWhitneyAgainstExact holds the normal approximation to the exact
// one-sided p-value, computed independently by enumerating every way to
// split the pooled values into samples of the two sizes.
func TestMannWhitneyAgainstExact(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for trial := range 40 {
		n1, n2 := 6+trial%4, 7+trial%3
		shift := float64(trial%5) * 0.3
		canary, baseline := make([]float64, n1), make([]float64, n2)
		for i := range canary {
			canary[i] = math.Round((rng.NormFloat64()+shift)*4) / 4 // rounded: ties
		}
		for i := range baseline {
			baseline[i] = math.Round(rng.NormFloat64()*4) / 4
		}
		r, err := MannWhitneyGreater(canary, baseline, 3)
		if err != nil {
			t.Fatal(err)
		}
		exactU, exactP := exactGreater(canary, baseline)
		if r.U != exactU {
			t.Fatalf("trial %d: U %v, by pairs %v", trial, r.U, exactU)
		}
		if math.Abs(r.P-exactP) > 0.03 {
			t.Errorf("trial %d (n=%d,%d): p %.4f, exact %.4f", trial, n1, n2, r.P, exactP)
		}
	}
}

// exactGreater counts U over pairs and the exact P(U ≥ u) over every
// split of the pooled sample.
func exactGreater(canary, baseline []float64) (float64, float64) {
	u := pairsU(canary, baseline)
	pool := append(append([]float64(nil), canary...), baseline...)
	n, k := len(pool), len(canary)
	var total, atLeast float64
	var pick func(start int, chosen []int)
	pick = func(start int, chosen []int) {
		if len(chosen) == k {
			in := make([]bool, n)
			for _, c := range chosen {
				in[c] = true
			}
			var a, b []float64
			for i, v := range pool {
				if in[i] {
					a = append(a, v)
				} else {
					b = append(b, v)
				}
			}
			total++
			if pairsU(a, b) >= u-1e-9 {
				atLeast++
			}
			return
		}
		for i := start; i <= n-(k-len(chosen)); i++ {
			pick(i+1, append(chosen, i))
		}
	}
	pick(0, nil)
	return u, atLeast / total
}

func pairsU(a, b []float64) float64 {
	var u float64
	for _, x := range a {
		for _, y := range b {
			switch {
			case x > y:
				u++
			case x == y:
				u += 0.5
			}
		}
	}
	return u
}

func FuzzMannWhitney(f *testing.F) {
	f.Add([]byte{1, 2, 3, 4, 5, 6, 7, 8})
	f.Fuzz(func(t *testing.T, b []byte) {
		var a, c []float64
		for i, x := range b {
			if i%2 == 0 {
				a = append(a, float64(x))
			} else {
				c = append(c, float64(x))
			}
		}
		r, err := MannWhitneyGreater(a, c, 1)
		if err != nil {
			return
		}
		if r.P < 0 || r.P > 1 || math.IsNaN(r.P) || r.U != pairsU(a, c) {
			t.Fatalf("p %v U %v (pairs %v)", r.P, r.U, pairsU(a, c))
		}
	})
}
