package admin

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/secureai-nexus/nexus/controlplane/internal/ca"
	"github.com/secureai-nexus/nexus/controlplane/internal/store"
)

// JoinTokenRequest asks for a join token bound to one SPIFFE id.
type JoinTokenRequest struct {
	SPIFFEID string `json:"spiffe_id"`
	TTL      string `json:"ttl,omitempty"` // Go duration; default 10m
}

// JoinTokenResponse carries the token: shown once, stored only hashed.
type JoinTokenResponse struct {
	Token     string    `json:"token"`
	SPIFFEID  string    `json:"spiffe_id"`
	ExpiresAt time.Time `json:"expires_at"`
}

func (a *API) identityOr404(w http.ResponseWriter) bool {
	if a.Identity == nil {
		writeError(w, http.StatusNotFound, "no_builtin_ca", "", "the mesh uses SPIRE: join tokens, bundles and root rotation are SPIRE's (spire-server token generate, spire-server bundle show)")
		return false
	}
	return true
}

func (a *API) createJoinToken(w http.ResponseWriter, r *http.Request, p Principal) {
	if !a.identityOr404(w) {
		return
	}
	var req JoinTokenRequest
	if err := decodeJSON(r, &req); err != nil {
		writeBodyError(w, err)
		return
	}
	id, err := spiffeid.FromString(req.SPIFFEID)
	if err != nil {
		writeError(w, http.StatusBadRequest, "invalid_argument", "spiffe_id", fmt.Sprintf("spiffe_id: %v", err))
		return
	}
	ttl := 10 * time.Minute
	if req.TTL != "" {
		if ttl, err = time.ParseDuration(req.TTL); err != nil {
			writeError(w, http.StatusBadRequest, "invalid_argument", "ttl", fmt.Sprintf("ttl: %v", err))
			return
		}
		if ttl <= 0 {
			writeError(w, http.StatusBadRequest, "invalid_argument", "ttl", fmt.Sprintf("ttl: %s is not a positive duration", req.TTL))
			return
		}
	}
	ctx, cancel := commitContext(r)
	defer cancel()
	tok, exp, err := a.Identity.MintJoinToken(ctx, p.String(), id, ttl)
	switch {
	case errors.Is(err, ca.ErrWrongTrustDomain), errors.Is(err, ca.ErrNoPath):
		writeError(w, http.StatusBadRequest, "invalid_argument", "spiffe_id", err.Error())
		return
	case err != nil && ttl > 0:
		writeError(w, http.StatusBadRequest, "invalid_argument", "ttl", err.Error())
		return
	case err != nil:
		writeError(w, http.StatusInternalServerError, "internal", "", err.Error())
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusCreated, JoinTokenResponse{Token: tok, SPIFFEID: id.String(), ExpiresAt: exp})
}

func (a *API) revokeJoinToken(w http.ResponseWriter, r *http.Request, p Principal) {
	if !a.identityOr404(w) {
		return
	}
	var req struct {
		Token string `json:"token"`
	}
	if err := decodeJSON(r, &req); err != nil {
		writeBodyError(w, err)
		return
	}
	if req.Token == "" {
		writeError(w, http.StatusBadRequest, "invalid_argument", "token", `token: is required, e.g. {"token":"nxjt_…"}`)
		return
	}
	ctx, cancel := commitContext(r)
	defer cancel()
	err := a.Identity.RevokeJoinToken(ctx, p.String(), req.Token)
	switch {
	case errors.Is(err, store.ErrTokenUnknown):
		writeError(w, http.StatusNotFound, "token_not_found", "token", "no unused, unrevoked join token matches")
	case err != nil:
		writeError(w, http.StatusInternalServerError, "internal", "", err.Error())
	default:
		writeJSON(w, http.StatusOK, map[string]bool{"revoked": true})
	}
}

func (a *API) rotateRoot(w http.ResponseWriter, r *http.Request, p Principal) {
	if !a.identityOr404(w) {
		return
	}
	ctx, cancel := commitContext(r)
	defer cancel()
	at, err := a.Identity.RotateRoot(ctx, p.String())
	if err != nil {
		writeError(w, http.StatusConflict, "rotation_refused", "", err.Error())
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]any{"activate_at": at})
}

func (a *API) getBundle(w http.ResponseWriter, _ *http.Request, _ Principal) {
	if !a.identityOr404(w) {
		return
	}
	pem, err := a.Identity.Bundle().Marshal()
	if err != nil {
		writeError(w, http.StatusInternalServerError, "internal", "", err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/x-pem-file")
	_, _ = w.Write(pem)
}
