package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/secureai-nexus/nexus/controlplane/internal/consent"
)

// BreakGlassUses counts the decisions each break-glass grant touched, for
// review (nexus-authz's nexus_authz_break_glass_decisions_total).
type BreakGlassUses interface {
	BreakGlassUses(ctx context.Context, grantID string) (n int64, ok bool, err error)
}

func (a *API) consentRoutes(mux *http.ServeMux) {
	mux.Handle("POST /api/v1/admin/consents", a.authed(a.createConsent))
	mux.Handle("GET /api/v1/admin/consents", a.authed(a.listConsents))
	mux.Handle("GET /api/v1/admin/consents/{id}", a.authed(a.getConsent))
	mux.Handle("DELETE /api/v1/admin/consents/{id}", a.authed(a.revokeConsent))
	mux.Handle("GET /api/v1/admin/subjects/{subject}/export", a.authed(a.exportSubject))
	mux.Handle("POST /api/v1/admin/subjects/{subject}/erase", a.authed(a.eraseSubject))
	mux.Handle("POST /api/v1/admin/break-glass", a.authed(a.requestBreakGlass))
	mux.Handle("GET /api/v1/admin/break-glass", a.authed(a.listBreakGlass))
	mux.Handle("GET /api/v1/admin/break-glass/{id}", a.authed(a.getBreakGlass))
	mux.Handle("POST /api/v1/admin/break-glass/{id}/review", a.authed(a.reviewBreakGlass))
	mux.Handle("DELETE /api/v1/admin/break-glass/{id}", a.authed(a.endBreakGlass))
	// nexus-authz long-polls this with the bearer token it is given.
	mux.Handle("GET /api/v1/bundles/nexus-consent.tar.gz", a.bundleAuthed(a.Consents.Publisher()))
}

// writeConsentError maps the consent package's errors to statuses.
func (a *API) writeConsentError(w http.ResponseWriter, what string, err error) {
	var fe *consent.FieldError
	switch {
	case errors.As(err, &fe):
		writeError(w, http.StatusBadRequest, "invalid_argument", fe.Field, fe.Error())
	case errors.Is(err, consent.ErrNotFound):
		writeError(w, http.StatusNotFound, "not_found", "id", err.Error())
	case errors.Is(err, consent.ErrEnded):
		writeError(w, http.StatusConflict, "already_ended", "id", err.Error())
	default:
		// The error can name ids, never a subject: those are hashed.
		a.Log.Error(what+" failed", "error", err)
		writeError(w, http.StatusInternalServerError, "internal", "", what+" failed: "+err.Error())
	}
}

// rawBody reads a JSON body with decodeJSON's checks (size, content type,
// one value), leaving its fields to the consent package's parser.
func rawBody(r *http.Request) (json.RawMessage, error) {
	var raw json.RawMessage
	if err := decodeJSON(r, &raw); err != nil {
		return nil, err
	}
	return raw, nil
}

func (a *API) createConsent(w http.ResponseWriter, r *http.Request, p Principal) {
	raw, err := rawBody(r)
	if err != nil {
		writeBodyError(w, err)
		return
	}
	ctx, cancel := commitContext(r)
	defer cancel()
	req, err := consent.ParseRequest(raw, a.now())
	if err != nil {
		a.writeConsentError(w, "record consent", err)
		return
	}
	rec, ar, err := a.Consents.Grant(ctx, p.String(), req)
	if err != nil {
		a.writeConsentError(w, "record consent", err)
		return
	}
	w.Header().Set("Location", "/api/v1/admin/consents/"+rec.ID)
	writeJSON(w, http.StatusCreated, struct {
		Consent  consent.Record `json:"consent"`
		Revision string         `json:"bundle_revision"`
		AuditSeq int64          `json:"audit_seq"`
	}{rec, a.Consents.Publisher().Revision(), ar.Seq})
}

func (a *API) listConsents(w http.ResponseWriter, r *http.Request, _ Principal) {
	q := r.URL.Query()
	if len(q["subject"]) != 1 {
		writeError(w, http.StatusBadRequest, "invalid_argument", "subject", "subject: give exactly one ?subject= (the data subject's JWT sub); consents are listed per subject")
		return
	}
	ctx, cancel := commitContext(r)
	defer cancel()
	rs, err := a.Consents.List(ctx, q.Get("subject"))
	if err != nil {
		a.writeConsentError(w, "list consents", err)
		return
	}
	if rs == nil {
		rs = []consent.Record{}
	}
	writeJSON(w, http.StatusOK, struct {
		Consents []consent.Record `json:"consents"`
	}{rs})
}

func (a *API) getConsent(w http.ResponseWriter, r *http.Request, _ Principal) {
	ctx, cancel := commitContext(r)
	defer cancel()
	rec, err := a.Consents.Get(ctx, r.PathValue("id"))
	if err != nil {
		a.writeConsentError(w, "read consent", err)
		return
	}
	writeJSON(w, http.StatusOK, struct {
		Consent consent.Record `json:"consent"`
		Active  bool           `json:"active"`
	}{rec, rec.Active(a.now())})
}

func (a *API) revokeConsent(w http.ResponseWriter, r *http.Request, p Principal) {
	ctx, cancel := commitContext(r)
	defer cancel()
	rec, ar, err := a.Consents.Revoke(ctx, p.String(), r.PathValue("id"))
	if err != nil {
		a.writeConsentError(w, "revoke consent", err)
		return
	}
	writeJSON(w, http.StatusOK, struct {
		Consent  consent.Record `json:"consent"`
		Revision string         `json:"bundle_revision"`
		AuditSeq int64          `json:"audit_seq"`
	}{rec, a.Consents.Publisher().Revision(), ar.Seq})
}

func (a *API) exportSubject(w http.ResponseWriter, r *http.Request, _ Principal) {
	ctx, cancel := commitContext(r)
	defer cancel()
	exp, err := a.Consents.Export(ctx, r.PathValue("subject"))
	if err != nil {
		a.writeConsentError(w, "export subject", err)
		return
	}
	w.Header().Set("Content-Disposition", `attachment; filename="subject-`+exp.SubjectID+`.json"`)
	writeJSON(w, http.StatusOK, exp)
}

func (a *API) eraseSubject(w http.ResponseWriter, r *http.Request, p Principal) {
	ctx, cancel := commitContext(r)
	defer cancel()
	out, err := a.Consents.Erase(ctx, p.String(), r.PathValue("subject"))
	if err != nil {
		a.writeConsentError(w, "erase subject", err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// GrantView is a break-glass grant with what review needs.
type GrantView struct {
	consent.Grant
	Active bool `json:"active"`
	// Uses is the number of decisions the grant touched, when a counter
	// is configured.
	Uses *int64 `json:"uses,omitempty"`
}

func (a *API) grantView(ctx context.Context, g consent.Grant) GrantView {
	v := GrantView{Grant: g, Active: g.Active(a.now())}
	if a.BreakGlassUses != nil {
		if n, ok, err := a.BreakGlassUses.BreakGlassUses(ctx, g.ID); err != nil {
			a.Log.Warn("break-glass uses unavailable", "grant", g.ID, "error", err)
		} else if ok {
			v.Uses = &n
		}
	}
	return v
}

func (a *API) requestBreakGlass(w http.ResponseWriter, r *http.Request, p Principal) {
	if !slices.Contains(a.BreakGlassRequesters, p.String()) {
		writeError(w, http.StatusForbidden, "forbidden", "", fmt.Sprintf("%s may not request break-glass access; the control plane's break-glass requesters are configured by the operator", p.String()))
		return
	}
	raw, err := rawBody(r)
	if err != nil {
		writeBodyError(w, err)
		return
	}
	req, err := consent.ParseBreakGlass(raw, a.Consents.MaxBreakGlass())
	if err != nil {
		a.writeConsentError(w, "break-glass", err)
		return
	}
	if a.Ctrl != nil {
		if _, ok := a.Ctrl.Mesh().Model(req.Model); !ok {
			writeError(w, http.StatusBadRequest, "invalid_argument", "model", fmt.Sprintf("model: no model named %q", req.Model))
			return
		}
	}
	ctx, cancel := commitContext(r)
	defer cancel()
	g, ar, err := a.Consents.RequestBreakGlass(ctx, p.String(), req)
	if err != nil {
		a.writeConsentError(w, "break-glass", err)
		return
	}
	w.Header().Set("Location", "/api/v1/admin/break-glass/"+g.ID)
	writeJSON(w, http.StatusCreated, struct {
		Grant    GrantView `json:"grant"`
		Revision string    `json:"bundle_revision"`
		AuditSeq int64     `json:"audit_seq"`
	}{a.grantView(ctx, g), a.Consents.Publisher().Revision(), ar.Seq})
}

func (a *API) listBreakGlass(w http.ResponseWriter, r *http.Request, _ Principal) {
	ctx, cancel := commitContext(r)
	defer cancel()
	gs, err := a.Consents.BreakGlassGrants(ctx)
	if err != nil {
		a.writeConsentError(w, "list break-glass grants", err)
		return
	}
	out := struct {
		Grants []GrantView `json:"grants"`
		// Unreviewed counts grants that are over and not yet reviewed.
		Unreviewed int `json:"unreviewed"`
	}{Grants: []GrantView{}}
	for _, g := range gs {
		v := a.grantView(ctx, g)
		if !v.Active && g.ReviewedAt == nil {
			out.Unreviewed++
		}
		out.Grants = append(out.Grants, v)
	}
	writeJSON(w, http.StatusOK, out)
}

func (a *API) getBreakGlass(w http.ResponseWriter, r *http.Request, _ Principal) {
	ctx, cancel := commitContext(r)
	defer cancel()
	g, err := a.Consents.BreakGlassGrant(ctx, r.PathValue("id"))
	if err != nil {
		a.writeConsentError(w, "read break-glass grant", err)
		return
	}
	writeJSON(w, http.StatusOK, struct {
		Grant GrantView `json:"grant"`
	}{a.grantView(ctx, g)})
}

func (a *API) reviewBreakGlass(w http.ResponseWriter, r *http.Request, p Principal) {
	var req struct {
		Note string `json:"note"`
	}
	if err := decodeJSON(r, &req); err != nil {
		writeBodyError(w, err)
		return
	}
	if req.Note == "" {
		writeError(w, http.StatusBadRequest, "invalid_argument", "note", "note: is required: what the review found")
		return
	}
	ctx, cancel := commitContext(r)
	defer cancel()
	g, ar, err := a.Consents.ReviewBreakGlass(ctx, p.String(), r.PathValue("id"), req.Note)
	if err != nil {
		a.writeConsentError(w, "review break-glass grant", err)
		return
	}
	writeJSON(w, http.StatusOK, struct {
		Grant    GrantView `json:"grant"`
		AuditSeq int64     `json:"audit_seq"`
	}{a.grantView(ctx, g), ar.Seq})
}

func (a *API) endBreakGlass(w http.ResponseWriter, r *http.Request, p Principal) {
	ctx, cancel := commitContext(r)
	defer cancel()
	g, ar, err := a.Consents.EndBreakGlass(ctx, p.String(), r.PathValue("id"))
	if err != nil {
		a.writeConsentError(w, "end break-glass grant", err)
		return
	}
	writeJSON(w, http.StatusOK, struct {
		Grant    GrantView `json:"grant"`
		Revision string    `json:"bundle_revision"`
		AuditSeq int64     `json:"audit_seq"`
	}{a.grantView(ctx, g), a.Consents.Publisher().Revision(), ar.Seq})
}

func (a *API) now() time.Time { return time.Now() }

// bundleAuthed accepts BundleAuth's credential, else the admin one.
func (a *API) bundleAuthed(h http.Handler) http.Handler {
	admin := a.authed(func(w http.ResponseWriter, r *http.Request, _ Principal) { h.ServeHTTP(w, r) })
	if a.BundleAuth == nil {
		return admin
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := a.BundleAuth.Authenticate(r); err == nil {
			h.ServeHTTP(w, r)
			return
		}
		admin.ServeHTTP(w, r)
	})
}
