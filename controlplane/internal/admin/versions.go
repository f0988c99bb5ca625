package admin

import (
	"context"
	"errors"
	"net/http"

	"github.com/secureai-nexus/nexus/controlplane/internal/mesh"
	"github.com/secureai-nexus/nexus/controlplane/internal/registry"
)

// Registry verifies and validates model versions; nil serves no version
// endpoints.
type Registry interface {
	Register(ctx context.Context, actor, model string, reg mesh.Registration) (registry.View, error)
	Versions(ctx context.Context, model string) ([]registry.View, error)
	Version(ctx context.Context, model, version string) (registry.View, error)
	Verify(ctx context.Context, actor, model, version string) (registry.View, error)
	Validate(ctx context.Context, actor, model, version string) (registry.View, error)
}

func (a *API) listVersions(w http.ResponseWriter, r *http.Request, _ Principal) {
	vs, err := a.Registry.Versions(r.Context(), r.PathValue("model"))
	if err != nil {
		a.versionError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"versions": vs})
}

func (a *API) registerVersion(w http.ResponseWriter, r *http.Request, p Principal) {
	var reg mesh.Registration
	if err := decodeJSON(r, &reg); err != nil {
		writeBodyError(w, err)
		return
	}
	ctx, cancel := commitContext(r)
	defer cancel()
	v, err := a.Registry.Register(ctx, p.String(), r.PathValue("model"), reg)
	if err != nil {
		a.versionError(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, v)
}

func (a *API) getVersion(w http.ResponseWriter, r *http.Request, _ Principal) {
	v, err := a.Registry.Version(r.Context(), r.PathValue("model"), r.PathValue("version"))
	if err != nil {
		a.versionError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

func (a *API) getValidation(w http.ResponseWriter, r *http.Request, _ Principal) {
	v, err := a.Registry.Version(r.Context(), r.PathValue("model"), r.PathValue("version"))
	if err != nil {
		a.versionError(w, err)
		return
	}
	if v.Record == nil || (v.Record.Verification == nil && v.Record.Validation == nil) {
		writeError(w, http.StatusNotFound, "validation_not_found", "", "version "+v.Name+" has not been verified or validated yet")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"state": v.State, "verification": v.Record.Verification, "validation": v.Record.Validation})
}

// checkVersion runs verify or validate; a version whose checks fail is
// answered 422 with the evidence, its state unchanged.
func (a *API) checkVersion(step string) func(http.ResponseWriter, *http.Request, Principal) {
	return func(w http.ResponseWriter, r *http.Request, p Principal) {
		ctx, cancel := commitContext(r)
		defer cancel()
		run := a.Registry.Verify
		if step == "validate" {
			run = a.Registry.Validate
		}
		v, err := run(ctx, p.String(), r.PathValue("model"), r.PathValue("version"))
		if err != nil {
			a.versionError(w, err)
			return
		}
		ok := v.Record != nil && ((step == "verify" && v.Record.Verification != nil && v.Record.Verification.OK) ||
			(step == "validate" && v.Record.Validation != nil && v.Record.Validation.OK))
		status := http.StatusOK
		if !ok {
			status = http.StatusUnprocessableEntity
		}
		writeJSON(w, status, v)
	}
}

func (a *API) versionError(w http.ResponseWriter, err error) {
	var ns *mesh.NotServableError
	var ve *mesh.ValidationError
	var ex *mesh.VersionExistsError
	switch {
	case errors.As(err, &ve):
		field := ""
		if len(ve.Errors) > 0 {
			field = ve.Errors[0].Path
		}
		writeError(w, http.StatusBadRequest, "invalid_argument", field, err.Error())
	case errors.As(err, &ex):
		writeError(w, http.StatusConflict, "version_exists", "name", err.Error())
	case errors.Is(err, mesh.ErrUnknownModel):
		writeError(w, http.StatusNotFound, "model_not_found", "model", err.Error())
	case errors.Is(err, mesh.ErrUnknownVersion):
		writeError(w, http.StatusNotFound, "version_not_found", "version", err.Error())
	case errors.Is(err, registry.ErrState), errors.As(err, &ns):
		writeError(w, http.StatusConflict, "version_state", "", err.Error())
	case errors.Is(err, registry.ErrNoArtifact):
		writeError(w, http.StatusConflict, "no_artifact", "artifact", err.Error())
	default:
		a.Log.Error("version change failed", "error", err)
		writeError(w, http.StatusInternalServerError, "internal", "", "the version change was not applied: "+err.Error())
	}
}
