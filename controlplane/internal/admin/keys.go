package admin

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/secureai-nexus/nexus/controlplane/internal/keys"
)

// Keys is the data-protection keyring's admin surface; nil serves no key
// endpoints.
type Keys interface {
	Inventory(ctx context.Context) (keys.Inventory, error)
	RotateKEK(ctx context.Context, actor string) (keys.Rotation, error)
	Holds(ctx context.Context) ([]keys.Hold, error)
	PlaceHold(ctx context.Context, actor string, r keys.HoldRequest) (keys.Hold, error)
	LiftHold(ctx context.Context, actor, id string) (keys.Hold, error)
	LeaseDataKey(ctx context.Context, actor string, c keys.Context) (keys.Lease, error)
	LeasedKey(ctx context.Context, actor, id string) (keys.Lease, error)
}

func (a *API) keyRoutes(mux *http.ServeMux) {
	if a.Keys == nil {
		return
	}
	mux.Handle("GET /api/v1/admin/keys", a.authed(a.listKeys))
	mux.Handle("POST /api/v1/admin/keys/rotate", a.authed(a.rotateKEK))
	mux.Handle("GET /api/v1/admin/keys/legal-holds", a.authed(a.listHolds))
	mux.Handle("POST /api/v1/admin/keys/legal-holds", a.authed(a.placeHold))
	mux.Handle("DELETE /api/v1/admin/keys/legal-holds/{id}", a.authed(a.liftHold))
	mux.Handle("POST /api/v1/admin/keys/leases", a.leaseAuthed(a.leaseKey))
	// Reading a key back opens what was sealed under it: an admin act.
	mux.Handle("GET /api/v1/admin/keys/leases/{id}", a.authed(a.readLeasedKey))
}

// leaseAuthed accepts LeaseAuth's credential (nexus-authz's), else the
// admin one.
func (a *API) leaseAuthed(h func(http.ResponseWriter, *http.Request, Principal)) http.Handler {
	admin := a.authed(h)
	if a.LeaseAuth == nil {
		return admin
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p, err := a.LeaseAuth.Authenticate(r); err == nil {
			h(w, r, p)
			return
		}
		admin.ServeHTTP(w, r)
	})
}

type leaseBody struct {
	Class   string `json:"class"`
	Purpose string `json:"purpose"`
}

func (a *API) leaseKey(w http.ResponseWriter, r *http.Request, p Principal) {
	var body leaseBody
	if err := decodeJSON(r, &body); err != nil {
		writeBodyError(w, err)
		return
	}
	if body.Class == "" {
		body.Class = keys.ClassLogs
	}
	if strings.TrimSpace(body.Purpose) == "" {
		writeError(w, http.StatusBadRequest, "invalid_argument", "purpose", "purpose is required (what the key seals, e.g. decision-log)")
		return
	}
	ctx, cancel := commitContext(r)
	defer cancel()
	l, err := a.Keys.LeaseDataKey(ctx, p.String(), keys.Context{Purpose: body.Purpose, Class: body.Class})
	var fe *keys.FieldError
	switch {
	case errors.As(err, &fe):
		writeError(w, http.StatusBadRequest, "invalid_argument", fe.Field, fe.Error())
		return
	case err != nil:
		a.Log.Error("lease data key", "error", err)
		writeError(w, http.StatusServiceUnavailable, "keys_unavailable", "", "could not lease a data key: "+err.Error())
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, l)
}

func (a *API) readLeasedKey(w http.ResponseWriter, r *http.Request, p Principal) {
	ctx, cancel := commitContext(r)
	defer cancel()
	l, err := a.Keys.LeasedKey(ctx, p.String(), r.PathValue("id"))
	var fe *keys.FieldError
	switch {
	case errors.As(err, &fe):
		writeError(w, http.StatusBadRequest, "invalid_argument", fe.Field, fe.Error())
		return
	case errors.Is(err, keys.ErrUnknownKey):
		writeError(w, http.StatusNotFound, "not_found", "id", "no such data key")
		return
	case errors.Is(err, keys.ErrDestroyed), errors.Is(err, keys.ErrExpired):
		writeError(w, http.StatusGone, "key_destroyed", "id", err.Error())
		return
	case errors.Is(err, keys.ErrContext):
		writeError(w, http.StatusBadRequest, "invalid_argument", "id", "this data key is not a leased key")
		return
	case err != nil:
		a.Log.Error("read leased data key", "error", err)
		writeError(w, http.StatusServiceUnavailable, "keys_unavailable", "", "could not read the data key: "+err.Error())
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, l)
}

func (a *API) listKeys(w http.ResponseWriter, r *http.Request, _ Principal) {
	ctx, cancel := commitContext(r)
	defer cancel()
	inv, err := a.Keys.Inventory(ctx)
	if err != nil {
		a.Log.Error("read data keys", "error", err)
		writeError(w, http.StatusServiceUnavailable, "keys_unavailable", "", "could not read the data keys: "+err.Error())
		return
	}
	writeJSON(w, http.StatusOK, inv)
}

func (a *API) rotateKEK(w http.ResponseWriter, r *http.Request, p Principal) {
	ctx, cancel := commitContext(r)
	defer cancel()
	rot, err := a.Keys.RotateKEK(ctx, p.String())
	if err != nil {
		a.Log.Error("KEK rotation", "error", err, "from", rot.From, "to", rot.To)
		writeError(w, http.StatusServiceUnavailable, "rotation_incomplete", "",
			fmt.Sprintf("KEK rotation incomplete (now version %d, %d data keys rewrapped); data keys on older versions still open; retry: %v", rot.To, rot.Rewrapped, err))
		return
	}
	writeJSON(w, http.StatusOK, rot)
}

func (a *API) listHolds(w http.ResponseWriter, r *http.Request, _ Principal) {
	ctx, cancel := commitContext(r)
	defer cancel()
	holds, err := a.Keys.Holds(ctx)
	if err != nil {
		a.Log.Error("read legal holds", "error", err)
		writeError(w, http.StatusInternalServerError, "internal", "", "could not read the legal holds")
		return
	}
	writeJSON(w, http.StatusOK, struct {
		Holds []keys.Hold `json:"legal_holds"`
	}{holds})
}

// holdBody is POST legal-holds' body; times stay strings so a bad one is
// answered naming its field.
type holdBody struct {
	Class   string `json:"class"`
	Subject string `json:"subject"`
	From    string `json:"from"`
	To      string `json:"to"`
	Reason  string `json:"reason"`
}

func (a *API) placeHold(w http.ResponseWriter, r *http.Request, p Principal) {
	var body holdBody
	if err := decodeJSON(r, &body); err != nil {
		writeBodyError(w, err)
		return
	}
	req := keys.HoldRequest{Class: body.Class, Subject: body.Subject, Reason: body.Reason}
	for _, f := range []struct {
		name, val string
		into      **time.Time
	}{{"from", body.From, &req.From}, {"to", body.To, &req.To}} {
		if f.val == "" {
			continue
		}
		t, err := time.Parse(time.RFC3339, f.val)
		if err != nil {
			writeError(w, http.StatusBadRequest, "invalid_argument", f.name, f.name+": must be an RFC 3339 time such as 2026-03-01T00:00:00Z, got "+quote(f.val))
			return
		}
		*f.into = &t
	}
	if req.Class == "" {
		writeError(w, http.StatusBadRequest, "invalid_argument", "class", "class: is required (a retention class, e.g. inference, logs or subject)")
		return
	}
	ctx, cancel := commitContext(r)
	defer cancel()
	h, err := a.Keys.PlaceHold(ctx, p.String(), req)
	if err != nil {
		a.keysError(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, h)
}

func (a *API) liftHold(w http.ResponseWriter, r *http.Request, p Principal) {
	id := r.PathValue("id")
	if !strings.HasPrefix(id, "hold_") || len(id) > 64 {
		writeError(w, http.StatusNotFound, "hold_not_found", "id", "no legal hold "+quote(id))
		return
	}
	ctx, cancel := commitContext(r)
	defer cancel()
	h, err := a.Keys.LiftHold(ctx, p.String(), id)
	if err != nil {
		a.keysError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, h)
}

func (a *API) keysError(w http.ResponseWriter, err error) {
	var fe *keys.FieldError
	switch {
	case errors.As(err, &fe):
		writeError(w, http.StatusBadRequest, "invalid_argument", fe.Field, err.Error())
	case errors.Is(err, keys.ErrHoldNotFound):
		writeError(w, http.StatusNotFound, "hold_not_found", "id", err.Error())
	case errors.Is(err, keys.ErrHeld):
		writeError(w, http.StatusConflict, "legal_hold", "", err.Error())
	default:
		a.Log.Error("key change failed", "error", err)
		writeError(w, http.StatusInternalServerError, "internal", "", "the change was not applied: "+err.Error())
	}
}
