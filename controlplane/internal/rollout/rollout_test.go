package rollout

import (
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)

func spec(mods ...func(*Spec)) Spec {
	s := Spec{Version: "v2", Steps: []int{10, 50, 100}, Interval: Duration(time.Minute)}
	for _, m := range mods {
		m(&s)
	}
	return s
}

// healthy is what a good canary shows: enough clean requests, latency
// like the baseline's.
func healthy() []Observation {
	return []Observation{
		{Gate: "error-rate", Requests: 5000, Errors: 1, BaselineRequests: 20000, BaselineErrors: 4},
		{Gate: "latency", Canary: []float64{0.05, 0.06, 0.05, 0.055}, Baseline: []float64{0.05, 0.058, 0.052, 0.056}},
	}
}

func failing() []Observation {
	return []Observation{
		{Gate: "error-rate", Requests: 400, Errors: 40, BaselineRequests: 20000, BaselineErrors: 4},
		{Gate: "latency", Canary: []float64{0.05, 0.06, 0.05}, Baseline: []float64{0.05, 0.058, 0.052}},
	}
}

func idle() []Observation {
	return []Observation{{Gate: "error-rate", Requests: 3}, {Gate: "latency", Canary: []float64{0.05}}}
}

func TestStart(t *testing.T) {
	st, act, err := Start("triage", spec(), map[string]uint32{"v1": 100, "v2": 0}, t0)
	if err != nil {
		t.Fatal(err)
	}
	if st.Phase != Progressing || st.Baseline != "v1" || st.Weight != 10 || !maps.Equal(act.Weights, map[string]uint32{"v1": 90, "v2": 10}) {
		t.Fatalf("start: %+v %+v", st, act)
	}
	if len(act.Events) != 1 || act.Events[0].Type != "started" {
		t.Errorf("events %+v", act.Events)
	}
	for _, tc := range []struct {
		spec    Spec
		weights map[string]uint32
		field   string
	}{
		{spec(func(s *Spec) { s.Version = "v9" }), map[string]uint32{"v1": 100, "v2": 0}, "version"},
		{spec(), map[string]uint32{"v1": 0, "v2": 100}, "version"},
		{spec(), map[string]uint32{"v1": 80, "v2": 0, "v3": 20}, "version"},
		{spec(func(s *Spec) { s.Steps = []int{50, 20} }), map[string]uint32{"v1": 100, "v2": 0}, "steps[1]"},
		{spec(func(s *Spec) { s.Steps = []int{0} }), map[string]uint32{"v1": 100, "v2": 0}, "steps[0]"},
		{spec(func(s *Spec) { s.Interval = Duration(time.Millisecond) }), map[string]uint32{"v1": 100, "v2": 0}, "interval"},
		{spec(func(s *Spec) { s.Rollback = "slow" }), map[string]uint32{"v1": 100, "v2": 0}, "rollback"},
		{spec(func(s *Spec) { s.Gates = []Gate{{Type: "vibes"}} }), map[string]uint32{"v1": 100, "v2": 0}, "gates[0].type"},
		{spec(func(s *Spec) { s.Gates = []Gate{{Type: GateThreshold}} }), map[string]uint32{"v1": 100, "v2": 0}, "gates[0].query"},
	} {
		_, _, err := Start("triage", tc.spec, tc.weights, t0)
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Field != tc.field {
			t.Errorf("%+v %v: error %v, want one naming %s", tc.spec, tc.weights, err, tc.field)
		}
	}
	// Defaults are the seed's: 5 %, +10 % per step, 30 minutes.
	st, _, _ = Start("triage", Spec{Version: "v2"}, map[string]uint32{"v1": 100, "v2": 0}, t0)
	if st.Weight != 5 || len(st.Spec.Steps) != 11 || st.Spec.Steps[1] != 15 || time.Duration(st.Spec.Interval) != 30*time.Minute || len(st.Spec.Gates) != 2 {
		t.Errorf("defaults: %+v", st.Spec)
	}
}

// step is one evaluation in a scenario.
type step struct {
	at      time.Duration
	obs     []Observation
	phase   Phase
	weight  int
	push    map[string]uint32 // nil: no push
	event   string
	inDetal string
}

func run(t *testing.T, name string, s Spec, steps []step) {
	t.Helper()
	t.Run(name, func(t *testing.T) {
		st, _, err := Start("triage", s, map[string]uint32{"v1": 100, "v2": 0}, t0)
		if err != nil {
			t.Fatal(err)
		}
		for i, sp := range steps {
			var act Action
			st, act = Decide(st, sp.obs, t0.Add(sp.at))
			if st.Phase != sp.phase || st.Weight != sp.weight {
				t.Fatalf("step %d (%s): %s at %d%%, want %s at %d%% (reason %q)", i, sp.at, st.Phase, st.Weight, sp.phase, sp.weight, st.Reason)
			}
			if !maps.Equal(act.Weights, sp.push) || (sp.push == nil) != (act.Weights == nil) {
				t.Fatalf("step %d: pushed %v, want %v", i, act.Weights, sp.push)
			}
			if sp.event != "" && (len(act.Events) == 0 || act.Events[0].Type != sp.event) {
				t.Fatalf("step %d: events %+v, want %s", i, act.Events, sp.event)
			}
			if sp.inDetal != "" && !strings.Contains(st.Reason, sp.inDetal) {
				t.Fatalf("step %d: reason %q lacks %q", i, st.Reason, sp.inDetal)
			}
		}
	})
}

func TestDecide(t *testing.T) {
	m := time.Minute
	run(t, "healthy canary is promoted step by step", spec(), []step{
		{30 * time.Second, healthy(), Progressing, 10, nil, "", ""}, // not due
		{m, healthy(), Progressing, 50, map[string]uint32{"v1": 50, "v2": 50}, "advanced", ""},
		{2 * m, healthy(), Progressing, 100, map[string]uint32{"v1": 0, "v2": 100}, "advanced", ""},
		{3 * m, healthy(), Promoted, 100, map[string]uint32{"v1": 0, "v2": 100}, "promoted", ""},
		{4 * m, failing(), Promoted, 100, nil, "", ""}, // over: nothing more
	})
	run(t, "two passes per step", spec(func(s *Spec) { s.Passes = 2 }), []step{
		{m, healthy(), Progressing, 10, nil, "", ""},
		{2 * m, healthy(), Progressing, 50, map[string]uint32{"v1": 50, "v2": 50}, "advanced", ""},
		{3 * m, idle(), Progressing, 50, nil, "", ""}, // inconclusive resets the count
		{4 * m, healthy(), Progressing, 50, nil, "", ""},
		{5 * m, healthy(), Progressing, 100, map[string]uint32{"v1": 0, "v2": 100}, "advanced", ""},
	})
	run(t, "failing canary is rolled back at once", spec(), []step{
		{m, healthy(), Progressing, 50, map[string]uint32{"v1": 50, "v2": 50}, "advanced", ""},
		{2 * m, failing(), RolledBack, 0, map[string]uint32{"v1": 100, "v2": 0}, "rolled_back", "error-rate"},
	})
	run(t, "gradual rollback walks down the steps", spec(func(s *Spec) { s.Rollback = RollbackGradual }), []step{
		{m, healthy(), Progressing, 50, map[string]uint32{"v1": 50, "v2": 50}, "advanced", ""},
		{2 * m, healthy(), Progressing, 100, map[string]uint32{"v1": 0, "v2": 100}, "advanced", ""},
		{3 * m, failing(), RollingBack, 50, map[string]uint32{"v1": 50, "v2": 50}, "rolling_back", "error-rate"},
		{4 * m, healthy(), RollingBack, 10, map[string]uint32{"v1": 90, "v2": 10}, "rolling_back", ""},
		{5 * m, healthy(), RolledBack, 0, map[string]uint32{"v1": 100, "v2": 0}, "rolled_back", ""},
	})
	crit := func(s *Spec) {
		s.Rollback = RollbackGradual
		max := 0.0
		s.Gates = append(DefaultGates(), Gate{Name: "pii-echo", Type: GateThreshold, Query: "q", Max: &max, Critical: true})
	}
	leak := 3.0
	run(t, "a critical gate rolls back at once even when gradual", spec(crit), []step{
		{m, append(healthy(), Observation{Gate: "pii-echo", Value: new(float64)}), Progressing, 50, map[string]uint32{"v1": 50, "v2": 50}, "advanced", ""},
		{2 * m, append(healthy(), Observation{Gate: "pii-echo", Value: &leak}), RolledBack, 0, map[string]uint32{"v1": 100, "v2": 0}, "rolled_back", "pii-echo"},
	})
	run(t, "an idle canary holds, then pauses at the step deadline, never fails", spec(func(s *Spec) { s.StepDeadline = Duration(3 * m) }), []step{
		{m, idle(), Progressing, 10, nil, "", ""},
		{2 * m, []Observation{{Gate: "error-rate", Err: "prometheus: connection refused"}, {Gate: "latency", Err: "prometheus: connection refused"}}, Progressing, 10, nil, "", ""},
		{3 * m, idle(), Paused, 10, nil, "paused", "inconclusive"},
		{4 * m, failing(), Paused, 10, nil, "", ""}, // paused: not evaluated
	})
	run(t, "a missing observation is inconclusive", spec(), []step{
		{m, nil, Progressing, 10, nil, "", ""},
	})
}

func TestOperatorActions(t *testing.T) {
	st, _, _ := Start("triage", spec(), map[string]uint32{"v1": 70, "v2": 30}, t0)
	if st.Weight != 10 {
		t.Fatalf("weight %d", st.Weight)
	}
	p, act, err := Pause(st, t0.Add(time.Second))
	if err != nil || p.Phase != Paused || act.Weights != nil {
		t.Fatalf("pause: %v %+v", err, p)
	}
	if _, _, err := Pause(p, t0); err == nil {
		t.Error("paused twice")
	}
	if got, _ := Decide(p, failing(), t0.Add(time.Hour)); got.Phase != Paused {
		t.Error("a paused rollout was evaluated")
	}
	r, _, err := Resume(p, t0.Add(2*time.Minute))
	if err != nil || r.Phase != Progressing || !r.StepStarted.Equal(t0.Add(2*time.Minute)) {
		t.Fatalf("resume: %v %+v", err, r)
	}
	pr, act, err := Promote(r, t0.Add(3*time.Minute))
	if err != nil || pr.Phase != Promoted || !maps.Equal(act.Weights, map[string]uint32{"v1": 0, "v2": 100}) {
		t.Fatalf("promote: %v %+v %v", err, pr, act.Weights)
	}
	if _, _, err := Abort(pr, t0, "late"); err == nil {
		t.Error("aborted a promoted rollout")
	}
	ab, act, err := Abort(r, t0.Add(3*time.Minute), "operator: wrong build")
	if err != nil || ab.Phase != Aborted || !maps.Equal(act.Weights, map[string]uint32{"v1": 70, "v2": 30}) || ab.Weight != 30 {
		t.Fatalf("abort restores the weights before the rollout: %v %+v %v", err, ab, act.Weights)
	}
	if n := len(ab.History); n != 4 || ab.History[n-1].Type != "aborted" {
		t.Errorf("history %+v", ab.History)
	}
}

func TestGates(t *testing.T) {
	g, _ := Gate{Type: GateLatency}.normalize()
	for _, tc := range []struct {
		o    Observation
		want string
	}{
		{Observation{Canary: []float64{0.3, 0.31, 0.29}}, "fail"},                                                                 // over the 200 ms ceiling
		{Observation{Canary: []float64{0.15, 0.16, 0.15, 0.17, 0.16}, Baseline: []float64{0.05, 0.05, 0.06, 0.05, 0.05}}, "fail"}, // 3x the baseline
		{Observation{Canary: []float64{0.05, 0.051, 0.052}, Baseline: []float64{0.05, 0.05, 0.051}}, "pass"},
		{Observation{Canary: []float64{0.05}}, "inconclusive"},
	} {
		if r := g.Evaluate(tc.o); string(r.Verdict) != tc.want {
			t.Errorf("%+v: %s (%s), want %s", tc.o, r.Verdict, r.Detail, tc.want)
		}
	}
	e, _ := Gate{Type: GateErrorRate}.normalize()
	// A baseline already failing 2 % sets the bar at 2 %: the canary is
	// judged against what users get today, not an ideal.
	if r := e.Evaluate(Observation{Requests: 2000, Errors: 30, BaselineRequests: 10000, BaselineErrors: 200}); r.Verdict != "pass" || r.Numbers["p0"] != 0.02 {
		t.Errorf("against a 2%% baseline: %s %v", r.Verdict, r.Numbers)
	}
	if r := e.Evaluate(Observation{Requests: 2, Errors: 2}); r.Verdict != "fail" {
		t.Errorf("2 of 2 failed: %s", r.Verdict)
	}
}

func hooked(types ...string) func(*Spec) {
	return func(s *Spec) {
		for _, typ := range types {
			s.Webhooks = append(s.Webhooks, Hook{Name: typ + "-hook", Type: typ, URL: "http://127.0.0.1:9/" + typ})
		}
	}
}

func answer(typ string, ok bool) HookResult {
	return HookResult{Hook: typ + "-hook", OK: ok, Detail: "status 500"}
}

func TestWebhooks(t *testing.T) {
	m := time.Minute
	start := func(s Spec) State {
		st, act, err := Start("triage", s, map[string]uint32{"v1": 100, "v2": 0}, t0)
		if err != nil {
			t.Fatal(err)
		}
		if act.Weights != nil {
			t.Fatalf("a confirm-rollout rollout pushed %v before its confirmation", act.Weights)
		}
		return st
	}
	// confirm-rollout holds the canary at 0 until it answers 2xx.
	st := start(spec(hooked(HookConfirmRollout, HookPreRollout)))
	if st.Phase != Waiting || st.Weight != 0 || !st.Due(t0) {
		t.Fatalf("start: %s at %d%%, due %v", st.Phase, st.Weight, st.Due(t0))
	}
	st, act := Decide(st, nil, t0, answer(HookConfirmRollout, false), answer(HookPreRollout, true))
	if st.Phase != Waiting || act.Weights != nil {
		t.Fatalf("unconfirmed: %s %v", st.Phase, act.Weights)
	}
	st, act = Decide(st, nil, t0.Add(m), answer(HookConfirmRollout, true), answer(HookPreRollout, true))
	if st.Phase != Progressing || !maps.Equal(act.Weights, map[string]uint32{"v1": 90, "v2": 10}) {
		t.Fatalf("confirmed: %s %v", st.Phase, act.Weights)
	}
	// A failing pre-rollout hook ends the rollout before any traffic.
	st = start(spec(hooked(HookPreRollout)))
	st, act = Decide(st, nil, t0, answer(HookPreRollout, false))
	if st.Phase != Aborted || act.Weights != nil || !strings.Contains(st.Reason, "pre-rollout") {
		t.Fatalf("pre-rollout failed: %s %v %q", st.Phase, act.Weights, st.Reason)
	}
	// A failing rollout hook fails the step; a rollback hook's 2xx rolls back.
	for _, tc := range []struct {
		hooks []HookResult
		typ   string
		want  Phase
	}{
		{[]HookResult{answer(HookRollout, false)}, HookRollout, RolledBack},
		{[]HookResult{answer(HookRollout, true)}, HookRollout, Progressing},
		{[]HookResult{answer(HookRollback, true)}, HookRollback, RolledBack},
		{[]HookResult{answer(HookRollback, false)}, HookRollback, Progressing},
	} {
		s, _, _ := Start("triage", spec(hooked(tc.typ), func(s *Spec) { s.Rollback = RollbackGradual }), map[string]uint32{"v1": 100, "v2": 0}, t0)
		got, _ := Decide(s, healthy(), t0.Add(m), tc.hooks...)
		if got.Phase != tc.want {
			t.Errorf("%s %+v: %s (%q), want %s", tc.typ, tc.hooks, got.Phase, got.Reason, tc.want)
		}
	}
	// confirm-promotion holds the last step until it answers 2xx.
	st, _, _ = Start("triage", spec(hooked(HookConfirmPromotion), func(s *Spec) { s.Steps = []int{100} }), map[string]uint32{"v1": 100, "v2": 0}, t0)
	if due := st.HooksDue(); !slices.Contains(due, HookConfirmPromotion) {
		t.Fatalf("hooks due at the last step: %v", due)
	}
	st, _ = Decide(st, healthy(), t0.Add(m), answer(HookConfirmPromotion, false))
	if st.Phase != Progressing || !strings.Contains(st.Reason, "confirm-promotion") {
		t.Fatalf("unconfirmed promotion: %s %q", st.Phase, st.Reason)
	}
	st, _ = Decide(st, healthy(), t0.Add(2*m), answer(HookConfirmPromotion, true))
	if st.Phase != Promoted {
		t.Fatalf("confirmed promotion: %s", st.Phase)
	}
	if _, _, err := Start("triage", spec(func(s *Spec) { s.Webhooks = []Hook{{Name: "x", Type: "pre-flight", URL: "http://x"}} }), map[string]uint32{"v1": 100, "v2": 0}, t0); err == nil || !strings.Contains(err.Error(), "webhooks[0].type") {
		t.Errorf("unknown webhook type: %v", err)
	}
}

func TestFastCheck(t *testing.T) {
	st, _, _ := Start("triage", spec(func(s *Spec) { s.Interval = Duration(time.Hour) }), map[string]uint32{"v1": 100, "v2": 0}, t0)
	bad := []Observation{{Gate: "error-rate", Requests: 50, Errors: 10}}
	clean := []Observation{{Gate: "error-rate", Requests: 5000, Errors: 0}}
	if got, act := FastCheck(st, clean, t0.Add(5*time.Second)); got.Phase != Progressing || act.Weights != nil || got.Weight != 10 {
		t.Fatalf("a clean canary moved between evaluations: %s %d%%", got.Phase, got.Weight)
	}
	if got, act := FastCheck(st, []Observation{{Gate: "error-rate", Err: "no stats"}}, t0.Add(5*time.Second)); got.Phase != Progressing || act.Weights != nil {
		t.Fatal("no stats rolled back")
	}
	got, act := FastCheck(st, bad, t0.Add(5*time.Second))
	if got.Phase != RolledBack || !maps.Equal(act.Weights, map[string]uint32{"v1": 100, "v2": 0}) || !strings.Contains(got.Reason, "between evaluations") {
		t.Fatalf("failing canary: %s %v %q", got.Phase, act.Weights, got.Reason)
	}
	if got, _ := FastCheck(st, bad, t0.Add(time.Hour)); got.Phase != Progressing {
		t.Error("FastCheck acted when an evaluation was due (Decide's turn)")
	}
}

func TestDataProtectionGate(t *testing.T) {
	g, err := Gate{Type: GateDataProtection}.normalize()
	if err != nil || !g.Critical || g.MinAnswers != 20 {
		t.Fatalf("normalized %+v, %v: the gate is critical and needs 20 answers by default", g, err)
	}
	for _, tc := range []struct {
		o    Observation
		want string
	}{
		{Observation{Answers: 3, Leaked: 1}, "fail"}, // the first leak fails, however few answers
		{Observation{Answers: 5}, "inconclusive"},
		{Observation{Answers: 500}, "pass"},
		{Observation{Answers: 2, Leaked: 9}, "fail"}, // counters out of step: leaks capped at answers
	} {
		if r := g.Evaluate(tc.o); string(r.Verdict) != tc.want {
			t.Errorf("%+v: %s (%s), want %s", tc.o, r.Verdict, r.Detail, tc.want)
		}
	}
	tolerant, _ := Gate{Type: GateDataProtection, MaxLeakRate: 0.01}.normalize()
	if r := tolerant.Evaluate(Observation{Answers: 2000, Leaked: 2}); r.Verdict != "pass" {
		t.Errorf("0.1%% leaks under a 1%% allowance: %s (%s)", r.Verdict, r.Detail)
	}
	if r := tolerant.Evaluate(Observation{Answers: 200, Leaked: 30}); r.Verdict != "fail" {
		t.Errorf("15%% leaks under a 1%% allowance: %s (%s)", r.Verdict, r.Detail)
	}
	for _, bad := range []Gate{{Type: GateDataProtection, MaxLeakRate: 0.7}, {Type: GateDataProtection, MinAnswers: -1}} {
		if _, err := bad.normalize(); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}

	// Between evaluations, a leak seen on the sidecars' stats stream rolls
	// back at once, even with gradual rollback.
	st, _, _ := Start("triage", spec(func(s *Spec) {
		s.Interval = Duration(time.Hour)
		s.Rollback = "gradual"
		s.Gates = append(s.Gates, Gate{Type: GateDataProtection})
	}), map[string]uint32{"v1": 100, "v2": 0}, t0)
	got, act := FastCheck(st, []Observation{{Gate: GateDataProtection, Answers: 4, Leaked: 1}}, t0.Add(3*time.Second))
	if got.Phase != RolledBack || !maps.Equal(act.Weights, map[string]uint32{"v1": 100, "v2": 0}) || !strings.Contains(got.Reason, "personal data") {
		t.Fatalf("leaking canary: %s %v %q", got.Phase, act.Weights, got.Reason)
	}
}
