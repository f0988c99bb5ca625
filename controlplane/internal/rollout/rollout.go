// Package rollout decides a gradual canary rollout: each step is a pure
// function of the rollout's state, the gates' observations and the clock,
// and returns the new state and the weights to push, if any. The runner
// (runner.go) gathers observations, applies the weights and persists the
// state; everything that decides is here, so every transition is tested
// by table.
package rollout

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/secureai-nexus/nexus/controlplane/internal/analysis"
)

// Phase is where a rollout is.
type Phase string

const (
	// Waiting is a rollout whose confirm-rollout webhooks have not said
	// yes: the canary has no traffic yet.
	Waiting     Phase = "waiting"
	Progressing Phase = "progressing"
	Paused      Phase = "paused"
	RollingBack Phase = "rolling_back"
	Promoted    Phase = "promoted"
	RolledBack  Phase = "rolled_back"
	Aborted     Phase = "aborted"
)

// Terminal says the rollout is over.
func (p Phase) Terminal() bool { return p == Promoted || p == RolledBack || p == Aborted }

// Rollback modes.
const (
	RollbackImmediate = "immediate"
	RollbackGradual   = "gradual"
)

// Duration is a time.Duration written as "30m" in JSON.
type Duration time.Duration

func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return errors.New(`must be a duration string such as "30m"`)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("%q is not a duration (use 30s, 5m, 1h)", s)
	}
	*d = Duration(v)
	return nil
}

// Spec is what an operator asks for.
type Spec struct {
	Version string `json:"version"`
	// Steps are the canary's weight at each step, ascending, ending at
	// 100. Default: 5, 15, 25, … 95, 100 (5 %, then +10 % per step).
	Steps    []int    `json:"steps,omitempty"`
	Interval Duration `json:"interval,omitempty"`
	// Passes is how many consecutive passing evaluations advance a step.
	Passes int `json:"passes,omitempty"`
	// StepDeadline bounds how long too little traffic may hold a step; at
	// it the rollout pauses (it never fails for want of traffic).
	StepDeadline Duration `json:"stepDeadline,omitempty"`
	Rollback     string   `json:"rollback,omitempty"`
	Gates        []Gate   `json:"gates,omitempty"`
	Webhooks     []Hook   `json:"webhooks,omitempty"`
}

// Hook is a webhook in Flagger's shape, so flagger-loadtester and k6
// webhooks work unchanged.
type Hook struct {
	Name     string            `json:"name"`
	Type     string            `json:"type"`
	URL      string            `json:"url"`
	Timeout  Duration          `json:"timeout,omitempty"`
	Metadata map[string]string `json:"metadata,omitempty"`
}

// Webhook types, with Flagger's meaning:
//   - confirm-rollout: asked before the canary gets traffic; the rollout
//     waits until every one answers 2xx.
//   - pre-rollout: called once before the first step; a failure rolls back.
//   - rollout: called at every evaluation; a failure fails the step.
//   - confirm-promotion: asked before promotion; holds the last step
//     until every one answers 2xx.
//   - post-rollout: called once the rollout is over (its answer is kept
//     in the history only).
//   - rollback: asked at every evaluation; a 2xx rolls back.
//   - event: told of every event.
const (
	HookConfirmRollout   = "confirm-rollout"
	HookPreRollout       = "pre-rollout"
	HookRollout          = "rollout"
	HookConfirmPromotion = "confirm-promotion"
	HookPostRollout      = "post-rollout"
	HookRollback         = "rollback"
	HookEvent            = "event"
)

// HookTypes are the types a spec may name.
var HookTypes = []string{HookConfirmRollout, HookPreRollout, HookRollout, HookConfirmPromotion, HookPostRollout, HookRollback, HookEvent}

// HookResult is a webhook's answer: OK for a 2xx.
type HookResult struct {
	Hook   string `json:"hook"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail,omitempty"`
}

// HooksOf lists spec's webhooks of typ.
func (s Spec) HooksOf(typ string) []Hook {
	var out []Hook
	for _, h := range s.Webhooks {
		if h.Type == typ {
			out = append(out, h)
		}
	}
	return out
}

// Defaults are the seed's: 5 %, then +10 % every 30 minutes.
const (
	DefaultInterval = 30 * time.Minute
	DefaultPasses   = 1
)

// DefaultSteps are 5, 15, … 95, 100.
func DefaultSteps() []int {
	s := []int{}
	for w := 5; w < 100; w += 10 {
		s = append(s, w)
	}
	return append(s, 100)
}

// Normalize fills defaults and checks the spec, naming the field at
// fault.
func (s Spec) Normalize() (Spec, error) {
	if s.Version == "" {
		return s, fieldErr("version", "is required")
	}
	if len(s.Steps) == 0 {
		s.Steps = DefaultSteps()
	}
	for i, w := range s.Steps {
		if w < 1 || w > 100 {
			return s, fieldErr(fmt.Sprintf("steps[%d]", i), fmt.Sprintf("must be between 1 and 100, got %d", w))
		}
		if i > 0 && w <= s.Steps[i-1] {
			return s, fieldErr(fmt.Sprintf("steps[%d]", i), fmt.Sprintf("must be greater than the step before (%d), got %d", s.Steps[i-1], w))
		}
	}
	if s.Steps[len(s.Steps)-1] != 100 {
		s.Steps = append(slices.Clone(s.Steps), 100)
	}
	if s.Interval == 0 {
		s.Interval = Duration(DefaultInterval)
	}
	if time.Duration(s.Interval) < time.Second {
		return s, fieldErr("interval", fmt.Sprintf("must be at least 1s, got %s", time.Duration(s.Interval)))
	}
	if s.Passes == 0 {
		s.Passes = DefaultPasses
	}
	if s.Passes < 1 {
		return s, fieldErr("passes", fmt.Sprintf("must be at least 1, got %d", s.Passes))
	}
	if s.StepDeadline == 0 {
		s.StepDeadline = Duration(10 * time.Duration(s.Interval))
	}
	if s.StepDeadline < s.Interval {
		return s, fieldErr("stepDeadline", "must be at least one interval")
	}
	switch s.Rollback {
	case "":
		s.Rollback = RollbackImmediate
	case RollbackImmediate, RollbackGradual:
	default:
		return s, fieldErr("rollback", fmt.Sprintf("must be immediate or gradual, got %q", s.Rollback))
	}
	for i, h := range s.Webhooks {
		p := fmt.Sprintf("webhooks[%d]", i)
		switch {
		case h.Name == "":
			return s, fieldErr(p+".name", "is required")
		case !slices.Contains(HookTypes, h.Type):
			return s, fieldErr(p+".type", fmt.Sprintf("must be one of %v, got %q", HookTypes, h.Type))
		case !strings.HasPrefix(h.URL, "http://") && !strings.HasPrefix(h.URL, "https://"):
			return s, fieldErr(p+".url", fmt.Sprintf("must be an http or https URL, got %q", h.URL))
		}
		if h.Timeout == 0 {
			s.Webhooks[i].Timeout = Duration(10 * time.Second)
		}
	}
	if len(s.Gates) == 0 {
		s.Gates = DefaultGates()
	}
	names := map[string]bool{}
	for i := range s.Gates {
		g, err := s.Gates[i].normalize()
		if err != nil {
			return s, fieldErr(fmt.Sprintf("gates[%d].%s", i, err.field), err.msg)
		}
		if names[g.Name] {
			return s, fieldErr(fmt.Sprintf("gates[%d].name", i), fmt.Sprintf("%q is used by another gate", g.Name))
		}
		names[g.Name] = true
		s.Gates[i] = g
	}
	return s, nil
}

// FieldError names the spec field at fault.
type FieldError struct{ Field, Msg string }

func (e *FieldError) Error() string { return e.Field + ": " + e.Msg }

func fieldErr(field, msg string) error { return &FieldError{field, msg} }

// Event is one line of a rollout's history.
type Event struct {
	Time    time.Time `json:"time"`
	Type    string    `json:"type"`
	Weight  int       `json:"weight"`
	Message string    `json:"message"`
}

// State is a rollout as persisted.
type State struct {
	Model    string `json:"model"`
	Canary   string `json:"canary"`
	Baseline string `json:"baseline"`
	Spec     Spec   `json:"spec"`
	Phase    Phase  `json:"phase"`
	// Step indexes Spec.Steps; Weight is the canary's weight now.
	Step   int `json:"step"`
	Weight int `json:"weight"`
	// Passes counts consecutive passing evaluations at this step.
	Passes        int       `json:"passes"`
	Started       time.Time `json:"started"`
	StepStarted   time.Time `json:"stepStarted"`
	LastEvaluated time.Time `json:"lastEvaluated"`
	// Previous are the weights before the rollout: what a rollback
	// restores.
	Previous map[string]uint32 `json:"previous"`
	Gates    []GateResult      `json:"gates"`
	History  []Event           `json:"history"`
	Reason   string            `json:"reason,omitempty"`
}

// maxHistory bounds the history kept.
const maxHistory = 100

// Action is what a decision asks the runner to do.
type Action struct {
	// Weights, when set, are pushed for the model.
	Weights map[string]uint32
	// Events are the transitions to audit and send to event webhooks.
	Events []Event
}

// Start begins a rollout of spec.Version on model, whose weights are now
// current: the canary goes to the first step at once.
func Start(model string, spec Spec, current map[string]uint32, now time.Time) (State, Action, error) {
	spec, err := spec.Normalize()
	if err != nil {
		return State{}, Action{}, err
	}
	if _, ok := current[spec.Version]; !ok {
		return State{}, Action{}, fieldErr("version", fmt.Sprintf("model %s has no version %q (versions: %v)", model, spec.Version, sortedKeys(current)))
	}
	if current[spec.Version] == 100 {
		return State{}, Action{}, fieldErr("version", fmt.Sprintf("%s already serves all of %s's traffic", spec.Version, model))
	}
	baseline := ""
	for _, v := range sortedKeys(current) {
		if v != spec.Version && (baseline == "" || current[v] > current[baseline]) {
			baseline = v
		}
	}
	for _, v := range sortedKeys(current) {
		if v != spec.Version && v != baseline && current[v] > 0 {
			return State{}, Action{}, fieldErr("version", fmt.Sprintf("a rollout moves traffic between two versions; %s also has weight %d (set it to 0 first)", v, current[v]))
		}
	}
	st := State{
		Model: model, Canary: spec.Version, Baseline: baseline, Spec: spec, Phase: Progressing,
		Started: now, StepStarted: now, LastEvaluated: now, Previous: maps.Clone(current),
		Weight: int(current[spec.Version]),
	}
	if len(spec.HooksOf(HookConfirmRollout)) > 0 || len(spec.HooksOf(HookPreRollout)) > 0 {
		// The canary waits for its confirmations and pre-rollout hooks;
		// the first evaluation asks them.
		st.Phase = Waiting
		st.LastEvaluated = now.Add(-time.Duration(spec.Interval))
		return st, st.event(now, "waiting", "waiting for the confirm-rollout and pre-rollout webhooks"), nil
	}
	return st, st.begin(now), nil
}

func (st *State) begin(now time.Time) Action {
	return st.moveTo(0, now, "started", fmt.Sprintf("%s at %d%%, %s at %d%%", st.Canary, st.Spec.Steps[0], st.Baseline, 100-st.Spec.Steps[0]))
}

// Due says an evaluation is due.
func (st State) Due(now time.Time) bool {
	return (st.Phase == Progressing || st.Phase == RollingBack || st.Phase == Waiting) && !now.Before(st.LastEvaluated.Add(time.Duration(st.Spec.Interval)))
}

// HooksDue lists the webhook types whose answers Decide reads at this
// evaluation: the runner calls those before it.
func (st State) HooksDue() []string {
	switch {
	case st.Phase == Waiting:
		return []string{HookConfirmRollout, HookPreRollout}
	case st.Phase != Progressing:
		return nil
	case st.Step == len(st.Spec.Steps)-1:
		return []string{HookRollout, HookRollback, HookConfirmPromotion}
	}
	return []string{HookRollout, HookRollback}
}

// Decide evaluates the gates' observations at now. It does nothing unless
// an evaluation is due.
func Decide(st State, obs []Observation, now time.Time, hooks ...HookResult) (State, Action) {
	if !st.Due(now) {
		return st, Action{}
	}
	st = st.clone()
	st.LastEvaluated = now
	if st.Phase == RollingBack {
		return st.stepDown(now)
	}
	answered := func(typ string) (all bool, failed []string) {
		all = true
		for _, h := range st.Spec.HooksOf(typ) {
			ok := false
			for _, r := range hooks {
				if r.Hook == h.Name {
					ok = r.OK
					if !r.OK {
						failed = append(failed, h.Name+": "+r.Detail)
					}
				}
			}
			all = all && ok
		}
		return all, failed
	}
	if st.Phase == Waiting {
		if ok, _ := answered(HookConfirmRollout); !ok {
			return st, Action{}
		}
		if ok, failed := answered(HookPreRollout); !ok {
			st.Phase, st.Reason = Aborted, "pre-rollout webhook failed: "+joinAll(failed)
			return st, st.event(now, "aborted", st.Reason)
		}
		st.Phase = Progressing
		return st, st.begin(now)
	}
	for _, h := range st.Spec.HooksOf(HookRollback) {
		for _, r := range hooks {
			if r.Hook == h.Name && r.OK {
				st.Reason = "rollback webhook " + h.Name + " asked for it"
				return st.rollback(now, true)
			}
		}
	}
	results := make([]GateResult, len(st.Spec.Gates))
	byName := map[string]Observation{}
	for _, o := range obs {
		byName[o.Gate] = o
	}
	verdict := analysis.Pass
	critical := false
	var failed, waiting []string
	for i, g := range st.Spec.Gates {
		o, ok := byName[g.Name]
		if !ok {
			o = Observation{Gate: g.Name, Err: "no observation"}
		}
		results[i] = g.Evaluate(o)
		switch results[i].Verdict {
		case analysis.Fail:
			verdict = analysis.Fail
			critical = critical || g.Critical
			failed = append(failed, g.Name+": "+results[i].Detail)
		case analysis.Inconclusive:
			if verdict == analysis.Pass {
				verdict = analysis.Inconclusive
			}
			waiting = append(waiting, g.Name+": "+results[i].Detail)
		}
	}
	if ok, hf := answered(HookRollout); !ok {
		verdict = analysis.Fail
		failed = append(failed, "rollout webhook: "+joinAll(hf))
	}
	st.Gates = results
	switch verdict {
	case analysis.Fail:
		st.Reason = "gate failed: " + joinAll(failed)
		return st.rollback(now, critical)
	case analysis.Inconclusive:
		st.Passes = 0
		if now.Sub(st.StepStarted) >= time.Duration(st.Spec.StepDeadline) {
			st.Phase = Paused
			st.Reason = fmt.Sprintf("inconclusive for %s at %d%%: %s; resume once there is traffic, or promote or abort", time.Duration(st.Spec.StepDeadline), st.Weight, joinAll(waiting))
			return st, st.event(now, "paused", st.Reason)
		}
		return st, Action{}
	}
	st.Passes++
	if st.Passes < st.Spec.Passes {
		return st, Action{}
	}
	if st.Step == len(st.Spec.Steps)-1 {
		if ok, _ := answered(HookConfirmPromotion); !ok {
			st.Passes = 0
			st.Reason = "waiting for the confirm-promotion webhooks"
			return st, Action{}
		}
		return st.promote(now, "every gate passed at 100%")
	}
	next := st.Spec.Steps[st.Step+1]
	return st, st.moveTo(st.Step+1, now, "advanced", fmt.Sprintf("gates passed at %d%%: %s to %d%%", st.Weight, st.Canary, next))
}

// Promote ends the rollout with the canary serving everything.
func Promote(st State, now time.Time) (State, Action, error) {
	if st.Phase.Terminal() {
		return st, Action{}, fmt.Errorf("the rollout is already %s", st.Phase)
	}
	st = st.clone()
	st, act := st.promote(now, "promoted by an operator")
	return st, act, nil
}

// Abort rolls back to the weights before the rollout and ends it.
func Abort(st State, now time.Time, reason string) (State, Action, error) {
	if st.Phase.Terminal() {
		return st, Action{}, fmt.Errorf("the rollout is already %s", st.Phase)
	}
	st = st.clone()
	st.Phase, st.Reason = Aborted, reason
	st.Weight = int(st.Previous[st.Canary])
	act := st.event(now, "aborted", reason)
	act.Weights = maps.Clone(st.Previous)
	return st, act, nil
}

// Pause stops evaluations where the rollout is.
func Pause(st State, now time.Time) (State, Action, error) {
	if st.Phase != Progressing {
		return st, Action{}, fmt.Errorf("only a progressing rollout can be paused; this one is %s", st.Phase)
	}
	st = st.clone()
	st.Phase, st.Reason = Paused, "paused by an operator"
	return st, st.event(now, "paused", st.Reason), nil
}

// Resume continues a paused rollout; the step's deadline starts again.
func Resume(st State, now time.Time) (State, Action, error) {
	if st.Phase != Paused {
		return st, Action{}, fmt.Errorf("only a paused rollout can be resumed; this one is %s", st.Phase)
	}
	st = st.clone()
	st.Phase, st.Reason = Progressing, ""
	st.StepStarted, st.LastEvaluated, st.Passes = now, now, 0
	return st, st.event(now, "resumed", fmt.Sprintf("resumed at %d%%", st.Weight)), nil
}

// Weights are what the rollout serves while it is not over: the canary at
// Weight, the baseline at the rest, every other version at 0.
func (st State) Weights() map[string]uint32 { return st.weights(st.Weight) }

func (st *State) weights(canary int) map[string]uint32 {
	w := map[string]uint32{}
	for v := range st.Previous {
		w[v] = 0
	}
	w[st.Canary] = uint32(canary)
	w[st.Baseline] = uint32(100 - canary)
	return w
}

func (st *State) moveTo(step int, now time.Time, kind, msg string) Action {
	st.Step, st.Weight, st.Passes, st.StepStarted = step, st.Spec.Steps[step], 0, now
	act := st.event(now, kind, msg)
	act.Weights = st.weights(st.Weight)
	return act
}

func (st State) promote(now time.Time, msg string) (State, Action) {
	st.Phase, st.Weight, st.Step, st.Reason = Promoted, 100, len(st.Spec.Steps)-1, ""
	act := st.event(now, "promoted", msg)
	act.Weights = st.weights(100)
	return st, act
}

func (st State) rollback(now time.Time, critical bool) (State, Action) {
	if st.Spec.Rollback == RollbackGradual && st.Step > 0 && !critical {
		st.Phase = RollingBack
		return st.stepDown(now)
	}
	st.Phase = RolledBack
	st.Weight = int(st.Previous[st.Canary])
	act := st.event(now, "rolled_back", st.Reason)
	act.Weights = maps.Clone(st.Previous)
	return st, act
}

// stepDown moves a gradual rollback one step lower, and ends it below the
// first step.
func (st State) stepDown(now time.Time) (State, Action) {
	if st.Step == 0 {
		st.Phase = RolledBack
		st.Weight = int(st.Previous[st.Canary])
		act := st.event(now, "rolled_back", st.Reason)
		act.Weights = maps.Clone(st.Previous)
		return st, act
	}
	return st, st.moveTo(st.Step-1, now, "rolling_back", fmt.Sprintf("%s down to %d%% (%s)", st.Canary, st.Spec.Steps[st.Step-1], st.Reason))
}

func (st *State) event(now time.Time, kind, msg string) Action {
	e := Event{Time: now, Type: kind, Weight: st.Weight, Message: msg}
	st.History = append(st.History, e)
	if len(st.History) > maxHistory {
		st.History = st.History[len(st.History)-maxHistory:]
	}
	return Action{Events: []Event{e}}
}

func (st State) clone() State {
	st.Previous = maps.Clone(st.Previous)
	st.History = slices.Clone(st.History)
	st.Gates = slices.Clone(st.Gates)
	return st
}

func sortedKeys(m map[string]uint32) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func joinAll(parts []string) string {
	out := ""
	for i, p := range parts {
		if i > 0 {
			out += "; "
		}
		out += p
	}
	return out
}

// FastCheck looks between evaluations at what the sidecars' stats stream
// already shows: an error-rate gate that fails on the part of the
// interval that has passed rolls back now, without waiting for the
// evaluation. It never advances a step: passing takes a whole interval.
func FastCheck(st State, obs []Observation, now time.Time) (State, Action) {
	if st.Phase != Progressing || st.Due(now) {
		return st, Action{}
	}
	byName := map[string]Observation{}
	for _, o := range obs {
		byName[o.Gate] = o
	}
	var failed []string
	critical := false
	var results []GateResult
	for _, g := range st.Spec.Gates {
		o, ok := byName[g.Name]
		if (g.Type != GateErrorRate && g.Type != GateDataProtection) || !ok || o.Err != "" {
			continue
		}
		r := g.Evaluate(o)
		results = append(results, r)
		if r.Verdict == analysis.Fail {
			failed = append(failed, g.Name+": "+r.Detail)
			critical = critical || g.Critical
		}
	}
	if len(failed) == 0 {
		return st, Action{}
	}
	st = st.clone()
	st.Gates = results
	st.LastEvaluated = now
	st.Reason = "gate failed between evaluations (sidecar stats): " + joinAll(failed)
	// Gradual rollback still steps down one interval at a time.
	return st.rollback(now, critical)
}
