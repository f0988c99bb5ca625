package admin

import (
	"context"
	"errors"
	"net/http"
	"slices"

	"github.com/secureai-nexus/nexus/controlplane/internal/mesh"
	"github.com/secureai-nexus/nexus/controlplane/internal/rollout"
	"github.com/secureai-nexus/nexus/controlplane/internal/rollout/runner"
)

// Rollouts runs gradual rollouts; nil serves no rollout endpoints.
type Rollouts interface {
	Start(ctx context.Context, actor, model string, spec rollout.Spec) (rollout.State, error)
	Current(model string) (rollout.State, bool)
	Active(model string) bool
	Act(ctx context.Context, actor, model, verb string) (rollout.State, error)
}

func (a *API) startRollout(w http.ResponseWriter, r *http.Request, p Principal) {
	name := r.PathValue("model")
	var spec rollout.Spec
	if err := decodeJSON(r, &spec); err != nil {
		writeBodyError(w, err)
		return
	}
	ctx, cancel := commitContext(r)
	defer cancel()
	st, err := a.Rollouts.Start(ctx, p.String(), name, spec)
	if err != nil {
		a.rolloutError(w, name, err)
		return
	}
	writeJSON(w, http.StatusCreated, st)
}

func (a *API) currentRollout(w http.ResponseWriter, r *http.Request, _ Principal) {
	name := r.PathValue("model")
	if _, ok := a.Ctrl.Mesh().Model(name); !ok {
		writeError(w, http.StatusNotFound, "model_not_found", "model", "no model named "+quote(name))
		return
	}
	st, ok := a.Rollouts.Current(name)
	if !ok {
		writeError(w, http.StatusNotFound, "rollout_not_found", "", "model "+name+" has had no rollout; start one with POST /api/v1/admin/models/"+name+"/rollouts")
		return
	}
	writeJSON(w, http.StatusOK, st)
}

func (a *API) actOnRollout(w http.ResponseWriter, r *http.Request, p Principal) {
	name, verb := r.PathValue("model"), r.PathValue("action")
	if !slices.Contains(runner.Verbs, verb) {
		writeError(w, http.StatusNotFound, "not_found", "action", "no rollout action "+quote(verb)+"; use abort, promote, pause or resume")
		return
	}
	ctx, cancel := commitContext(r)
	defer cancel()
	st, err := a.Rollouts.Act(ctx, p.String(), name, verb)
	if err != nil {
		a.rolloutError(w, name, err)
		return
	}
	writeJSON(w, http.StatusOK, st)
}

func (a *API) rolloutError(w http.ResponseWriter, model string, err error) {
	var fe *rollout.FieldError
	var se *runner.StateError
	var ns *mesh.NotServableError
	switch {
	case errors.As(err, &ns):
		writeError(w, http.StatusConflict, "version_not_validated", "version", err.Error())
	case errors.As(err, &fe):
		writeError(w, http.StatusBadRequest, "invalid_argument", fe.Field, err.Error())
	case errors.Is(err, runner.ErrNoModel):
		writeError(w, http.StatusNotFound, "model_not_found", "model", err.Error())
	case errors.Is(err, runner.ErrNoRollout):
		writeError(w, http.StatusNotFound, "rollout_not_found", "", err.Error())
	case errors.Is(err, runner.ErrInProgress):
		writeError(w, http.StatusConflict, "rollout_in_progress", "", err.Error())
	case errors.As(err, &se):
		writeError(w, http.StatusConflict, "rollout_state", "", err.Error())
	default:
		a.Log.Error("rollout change failed", "model", model, "error", err)
		writeError(w, http.StatusInternalServerError, "internal", "", "the rollout change was not applied: "+err.Error())
	}
}

func quote(s string) string { return `"` + s + `"` }
