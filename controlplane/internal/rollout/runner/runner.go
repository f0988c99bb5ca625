// Package runner carries out rollouts: it keeps each model's rollout
// state, asks the metric source for the gates' observations when an
// evaluation is due, lets rollout.Decide decide, pushes the weights it
// returns through the controller, and persists every state with its
// audit record, so a restarted control plane resumes where it was.
package runner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/secureai-nexus/nexus/controlplane/internal/audit"
	"github.com/secureai-nexus/nexus/controlplane/internal/mesh"
	"github.com/secureai-nexus/nexus/controlplane/internal/rollout"
)

// Traffic is the controller: the mesh served and the way to change it.
type Traffic interface {
	Mesh() *mesh.Mesh
	SetTraffic(ctx context.Context, actor, model string, weights map[string]int64) (mesh.Model, audit.Record, error)
}

// Store persists rollout states with their audit records.
type Store interface {
	Rollouts(ctx context.Context) (map[string][]byte, error)
	SaveRollout(ctx context.Context, model string, state []byte, at time.Time, e *audit.Entry) error
}

// Observer gathers a rollout's observations over the interval ending now.
type Observer interface {
	Observe(ctx context.Context, st rollout.State, now time.Time) []rollout.Observation
}

// Errors the admin API maps to status codes.
var (
	ErrInProgress = errors.New("a rollout is in progress")
	ErrNoRollout  = errors.New("no rollout")
	ErrNoModel    = errors.New("no such model")
)

// Runner runs every model's rollout.
type Runner struct {
	Log      *slog.Logger
	Traffic  Traffic
	Store    Store
	Observer Observer
	Now      func() time.Time
	// Tick is how often due evaluations are looked for (default 1s).
	Tick time.Duration
	// HTTP calls the webhooks (nil: http.DefaultClient).
	HTTP *http.Client
	// Fast, when set, is looked at on every tick between evaluations (the
	// sidecars' stats stream): a failing error-rate gate rolls back at
	// once.
	Fast Observer

	mu     sync.Mutex
	states map[string]rollout.State
}

// Load reads the persisted rollouts; those not over continue.
func (r *Runner) Load(ctx context.Context) error {
	raw, err := r.Store.Rollouts(ctx)
	if err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.states = map[string]rollout.State{}
	for model, b := range raw {
		var st rollout.State
		if err := json.Unmarshal(b, &st); err != nil {
			return fmt.Errorf("rollout of %s is corrupt: %w", model, err)
		}
		r.states[model] = st
		if !st.Phase.Terminal() {
			r.Log.Info("rollout resumed", "model", model, "version", st.Canary, "phase", st.Phase, "weight", st.Weight)
			r.restoreWeights(ctx, st)
		}
	}
	return nil
}

// restoreWeights serves a resumed rollout's weights. commit pushes a
// step's weights, then stores the step: a control plane stopped between
// the two served the new step's weights while the rollout resumed at the
// step before, and held them until its next decision. The stored step is
// the rollout's truth; its next evaluation decides again.
func (r *Runner) restoreWeights(ctx context.Context, st rollout.State) {
	md, ok := r.Traffic.Mesh().Model(st.Model)
	if !ok {
		r.Log.Error("rollout resumed for a model the mesh no longer has", "model", st.Model)
		return
	}
	want, have := st.Weights(), md.Weights()
	if have[st.Canary] == want[st.Canary] && have[st.Baseline] == want[st.Baseline] {
		return
	}
	w := make(map[string]int64, len(want))
	for v, x := range want {
		w[v] = int64(x)
	}
	if _, _, err := r.Traffic.SetTraffic(ctx, "rollout:"+st.Model, st.Model, w); err != nil {
		r.Log.Error("rollout's weights not restored", "model", st.Model, "weights", want, "serving", have, "error", err)
		return
	}
	r.Log.Warn("rollout's weights restored: the control plane stopped after pushing a step it did not record", "model", st.Model, "weights", want, "was", have)
}

// Start begins a rollout on behalf of actor.
func (r *Runner) Start(ctx context.Context, actor, model string, spec rollout.Spec) (rollout.State, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if cur, ok := r.states[model]; ok && !cur.Phase.Terminal() {
		return rollout.State{}, fmt.Errorf("%w for %s: %s is %s at %d%%; abort or promote it first", ErrInProgress, model, cur.Canary, cur.Phase, cur.Weight)
	}
	md, ok := r.Traffic.Mesh().Model(model)
	if !ok {
		return rollout.State{}, fmt.Errorf("%w: %q", ErrNoModel, model)
	}
	if v, ok := md.Version(spec.Version); ok && !v.MayServe() {
		return rollout.State{}, &mesh.NotServableError{Model: model, Version: spec.Version, State: v.State}
	}
	st, act, err := rollout.Start(model, spec, md.Weights(), r.Now())
	if err != nil {
		return rollout.State{}, err
	}
	if err := r.commit(ctx, actor, st, act); err != nil {
		return rollout.State{}, err
	}
	go r.announce(context.WithoutCancel(ctx), st, act)
	return st, nil
}

// Current returns model's rollout, over or not.
func (r *Runner) Current(model string) (rollout.State, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	st, ok := r.states[model]
	return st, ok
}

// Active says whether model has a rollout that is not over: its weights
// are the rollout's to set.
func (r *Runner) Active(model string) bool {
	st, ok := r.Current(model)
	return ok && !st.Phase.Terminal()
}

// Verbs an operator may apply to a rollout.
var Verbs = []string{"abort", "promote", "pause", "resume"}

// Act applies an operator's verb.
func (r *Runner) Act(ctx context.Context, actor, model, verb string) (rollout.State, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	st, ok := r.states[model]
	if !ok {
		return rollout.State{}, fmt.Errorf("%w for %s", ErrNoRollout, model)
	}
	now := r.Now()
	var (
		next rollout.State
		act  rollout.Action
		err  error
	)
	switch verb {
	case "abort":
		next, act, err = rollout.Abort(st, now, "aborted by "+actor)
	case "promote":
		next, act, err = rollout.Promote(st, now)
	case "pause":
		next, act, err = rollout.Pause(st, now)
	case "resume":
		next, act, err = rollout.Resume(st, now)
	default:
		return rollout.State{}, fmt.Errorf("unknown action %q (one of %v)", verb, Verbs)
	}
	if err != nil {
		return rollout.State{}, &StateError{err}
	}
	if err := r.commit(ctx, actor, next, act); err != nil {
		return rollout.State{}, err
	}
	go r.announce(context.WithoutCancel(ctx), next, act)
	return next, nil
}

// StateError is a verb that does not apply in the rollout's phase.
type StateError struct{ Err error }

func (e *StateError) Error() string { return e.Err.Error() }
func (e *StateError) Unwrap() error { return e.Err }

// Run evaluates due rollouts until ctx ends.
func (r *Runner) Run(ctx context.Context) {
	tick := r.Tick
	if tick <= 0 {
		tick = time.Second
	}
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			r.Step(ctx)
		}
	}
}

// Step evaluates every rollout that is due, once. Observations are
// gathered without the lock (they are queries to Prometheus); a rollout
// an operator changed meanwhile is left for the next tick.
func (r *Runner) Step(ctx context.Context) {
	now := r.Now()
	r.mu.Lock()
	var due, between []rollout.State
	for _, st := range r.states {
		switch {
		case st.Due(now):
			due = append(due, st)
		case st.Phase == rollout.Progressing && r.Fast != nil:
			between = append(between, st)
		}
	}
	r.mu.Unlock()
	for _, st := range between {
		obs := r.Fast.Observe(ctx, st, now)
		r.mu.Lock()
		if cur := r.states[st.Model]; cur.Phase == st.Phase && cur.LastEvaluated.Equal(st.LastEvaluated) {
			next, act := rollout.FastCheck(cur, obs, now)
			if act.Weights != nil {
				if err := r.commit(ctx, "rollout:"+st.Model, next, act); err != nil {
					r.Log.Error("fast rollback not applied; retried at the next tick", "model", st.Model, "error", err)
				} else {
					go r.announce(context.WithoutCancel(ctx), next, act)
				}
			}
		}
		r.mu.Unlock()
	}
	sort.Slice(due, func(i, j int) bool { return due[i].Model < due[j].Model })
	for _, st := range due {
		var obs []rollout.Observation
		if st.Phase == rollout.Progressing {
			obs = r.Observer.Observe(ctx, st, now)
		}
		hooks := r.callHooks(ctx, st, st.HooksDue())
		r.mu.Lock()
		var (
			next rollout.State
			act  rollout.Action
			ok   bool
		)
		if cur := r.states[st.Model]; cur.Phase == st.Phase && cur.LastEvaluated.Equal(st.LastEvaluated) {
			next, act = rollout.Decide(cur, obs, now, hooks...)
			if err := r.commit(ctx, "rollout:"+st.Model, next, act); err != nil {
				r.Log.Error("rollout step not applied; retried at the next tick", "model", st.Model, "error", err)
			} else {
				ok = true
			}
		}
		r.mu.Unlock()
		if ok {
			r.announce(ctx, next, act)
		}
	}
}

// commit pushes the action's weights, then stores the state with the
// action's event as its audit record. Called with r.mu held.
func (r *Runner) commit(ctx context.Context, actor string, st rollout.State, act rollout.Action) error {
	if act.Weights != nil {
		w := make(map[string]int64, len(act.Weights))
		for v, x := range act.Weights {
			w[v] = int64(x)
		}
		if _, _, err := r.Traffic.SetTraffic(ctx, actor, st.Model, w); err != nil {
			return fmt.Errorf("set %s's weights: %w", st.Model, err)
		}
	}
	raw, err := json.Marshal(st)
	if err != nil {
		return err
	}
	var entry *audit.Entry
	for i, ev := range act.Events {
		after, _ := json.Marshal(map[string]any{"version": st.Canary, "phase": st.Phase, "weight": ev.Weight, "message": ev.Message, "gates": st.Gates})
		e := audit.Entry{Time: ev.Time, Actor: actor, Action: "rollout." + ev.Type, Target: "models/" + st.Model, After: after}
		if i == 0 {
			entry = &e
		}
	}
	if err := r.Store.SaveRollout(ctx, st.Model, raw, r.Now(), entry); err != nil {
		return fmt.Errorf("persist rollout: %w", err)
	}
	if r.states == nil {
		r.states = map[string]rollout.State{}
	}
	r.states[st.Model] = st
	for _, ev := range act.Events {
		r.Log.Info("rollout "+ev.Type, "model", st.Model, "version", st.Canary, "weight", ev.Weight, "message", ev.Message)
	}
	return nil
}
