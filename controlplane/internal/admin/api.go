// Package admin serves the control plane's REST admin API: models and their
// traffic split, the sidecars' sync status, and the audit log.
package admin

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"mime"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/secureai-nexus/nexus/controlplane/internal/accessreview"
	"github.com/secureai-nexus/nexus/controlplane/internal/anchor"
	"github.com/secureai-nexus/nexus/controlplane/internal/audit"
	"github.com/secureai-nexus/nexus/controlplane/internal/compliance"
	"github.com/secureai-nexus/nexus/controlplane/internal/consent"
	"github.com/secureai-nexus/nexus/controlplane/internal/controller"
	"github.com/secureai-nexus/nexus/controlplane/internal/mesh"
	"github.com/secureai-nexus/nexus/controlplane/internal/xds"
)

//go:embed openapi.json
var openAPI []byte

// OpenAPI returns the API's OpenAPI 3 document.
func OpenAPI() []byte { return bytes.Clone(openAPI) }

// Controller is what the API reads and changes.
type Controller interface {
	Mesh() *mesh.Mesh
	SetTraffic(ctx context.Context, actor, model string, weights map[string]int64) (mesh.Model, audit.Record, error)
}

// Status reports sidecar sync state.
type Status interface {
	Status(nodeID string) xds.NodeStatus
	Versions(nodeID string) map[string]string
}

// AuditLog reads the audit chain and its stored Merkle tree.
type AuditLog interface {
	Audit(ctx context.Context, after int64, limit int) ([]audit.Record, error)
	VerifyAudit(ctx context.Context) (audit.Verification, error)
	AuditSize(ctx context.Context) (int64, error)
	audit.Nodes
}

// Identity is the built-in CA's admin surface; nil with SPIRE.
type Identity interface {
	MintJoinToken(ctx context.Context, actor string, id spiffeid.ID, ttl time.Duration) (string, time.Time, error)
	RevokeJoinToken(ctx context.Context, actor, token string) error
	RotateRoot(ctx context.Context, actor string) (time.Time, error)
	Bundle() *x509bundle.Bundle
}

// API is the admin API's dependencies.
type API struct {
	Log      *slog.Logger
	Auth     Authenticator
	Ctrl     Controller
	Status   Status
	Audit    AuditLog
	Identity Identity
	// Tracer and Propagator trace every request (nil: no spans).
	Tracer     trace.Tracer
	Propagator propagation.TextMapPropagator
	// Metrics, when set, is served on GET /metrics to authenticated callers.
	Metrics http.Handler
	// Rollouts, when set, serves the rollout endpoints and keeps manual
	// traffic changes off a model under rollout.
	Rollouts Rollouts
	// Registry, when set, serves the version endpoints.
	Registry Registry
	// AuditSigner, when set, signs the audit log's checkpoints (origin
	// AuditOrigin) and serves its proofs.
	AuditSigner *audit.Signer
	AuditOrigin string
	// Anchors, when set, reports the nexus-authz audit feeds.
	Anchors interface{ Statuses() []anchor.Status }
	// AccessReview, when set, serves GET /api/v1/admin/access-review.
	AccessReview interface {
		Review(ctx context.Context) (accessreview.Report, error)
	}
	// Compliance, when set, serves the compliance report from these
	// evidence sources.
	Compliance *compliance.Sources
	// Consents, when set, serves the consent, data-subject and break-glass
	// endpoints and the consent bundle nexus-authz long-polls.
	Consents *consent.Service
	// BreakGlassRequesters are the principals, as the audit log names them
	// ("oidc:<sub>", "spiffe:<id>", "token:local-admin"), that may request
	// break-glass access. None by default.
	BreakGlassRequesters []string
	// BreakGlassUses, when set, counts each grant's decisions for review.
	BreakGlassUses BreakGlassUses
	// BundleAuth, when set, also authenticates the consent bundle
	// endpoint (and nothing else): nexus-authz's read-only credential, so
	// it need not hold an admin one.
	BundleAuth Authenticator
	// Keys, when set, serves the data-key and legal-hold endpoints.
	Keys Keys
	// LeaseAuth, when set, also authenticates POST …/keys/leases (and
	// nothing else): nexus-authz's credential for sealing its decision log.
	LeaseAuth Authenticator
}

// maxBodyBytes bounds request bodies; a traffic change is a few bytes.
const maxBodyBytes = 64 << 10

// Handler returns the API's routes.
func (a *API) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/openapi.json", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(openAPI)
	})
	mux.Handle("GET /api/v1/admin/models", a.authed(a.listModels))
	mux.Handle("GET /api/v1/admin/models/{model}", a.authed(a.getModel))
	mux.Handle("PUT /api/v1/admin/models/{model}/traffic", a.authed(a.setTraffic))
	mux.Handle("GET /api/v1/admin/nodes", a.authed(a.listNodes))
	mux.Handle("GET /api/v1/admin/audit", a.authed(a.listAudit))
	mux.Handle("GET /api/v1/admin/audit/verify", a.authed(a.verifyAudit))
	mux.Handle("POST /api/v1/admin/identity/join-tokens", a.authed(a.createJoinToken))
	mux.Handle("POST /api/v1/admin/identity/join-tokens/revoke", a.authed(a.revokeJoinToken))
	mux.Handle("POST /api/v1/admin/identity/rotate-root", a.authed(a.rotateRoot))
	mux.Handle("GET /api/v1/admin/identity/bundle", a.authed(a.getBundle))
	if a.AuditSigner != nil {
		mux.Handle("GET /api/v1/admin/audit/checkpoint", a.authed(a.auditCheckpoint))
		mux.Handle("GET /api/v1/admin/audit/verifier", a.authed(a.auditVerifier))
		mux.Handle("GET /api/v1/admin/audit/proof/inclusion", a.authed(a.auditInclusion))
		mux.Handle("GET /api/v1/admin/audit/proof/consistency", a.authed(a.auditConsistency))
	}
	if a.Anchors != nil {
		mux.Handle("GET /api/v1/admin/audit/anchors", a.authed(func(w http.ResponseWriter, _ *http.Request, _ Principal) {
			writeJSON(w, http.StatusOK, map[string]any{"feeds": a.Anchors.Statuses()})
		}))
	}
	if a.AccessReview != nil {
		mux.Handle("GET /api/v1/admin/access-review", a.authed(a.accessReview))
	}
	if a.Compliance != nil {
		mux.Handle("GET /api/v1/admin/compliance/report", a.authed(a.complianceReport))
	}
	if a.Registry != nil {
		mux.Handle("GET /api/v1/admin/models/{model}/versions", a.authed(a.listVersions))
		mux.Handle("POST /api/v1/admin/models/{model}/versions", a.authed(a.registerVersion))
		mux.Handle("GET /api/v1/admin/models/{model}/versions/{version}", a.authed(a.getVersion))
		mux.Handle("GET /api/v1/admin/models/{model}/versions/{version}/validation", a.authed(a.getValidation))
		mux.Handle("POST /api/v1/admin/models/{model}/versions/{version}/verify", a.authed(a.checkVersion("verify")))
		mux.Handle("POST /api/v1/admin/models/{model}/versions/{version}/validate", a.authed(a.checkVersion("validate")))
	}
	if a.Rollouts != nil {
		mux.Handle("POST /api/v1/admin/models/{model}/rollouts", a.authed(a.startRollout))
		mux.Handle("GET /api/v1/admin/models/{model}/rollouts/current", a.authed(a.currentRollout))
		mux.Handle("POST /api/v1/admin/models/{model}/rollouts/current/{action}", a.authed(a.actOnRollout))
	}
	if a.Consents != nil {
		a.consentRoutes(mux)
	}
	a.keyRoutes(mux)
	if a.Metrics != nil {
		mux.Handle("GET /metrics", a.authed(func(w http.ResponseWriter, r *http.Request, _ Principal) { a.Metrics.ServeHTTP(w, r) }))
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if allow := allowedMethods(mux, r); len(allow) > 0 {
			w.Header().Set("Allow", strings.Join(allow, ", "))
			writeError(w, http.StatusMethodNotAllowed, "method_not_allowed", "",
				fmt.Sprintf("%s is not allowed on %s; use %s", r.Method, r.URL.Path, strings.Join(allow, " or ")))
			return
		}
		writeError(w, http.StatusNotFound, "not_found", "", fmt.Sprintf("no such endpoint: %s %s", r.Method, r.URL.Path))
	})
	if a.Tracer == nil {
		return mux
	}
	return a.traced(mux)
}

// commitTimeout bounds a change's commit and a read of the store once the
// request is accepted.
const commitTimeout = 30 * time.Second

// commitContext is the context a validated request is carried out under:
// the request's values, not its cancellation. A client that half-closes
// its connection after sending a PUT (curl does, and so do some proxies)
// cancels the request's context, and a change cut off between BEGIN and
// COMMIT would be answered with a 500 though it was valid; it is applied
// and answered instead, within commitTimeout.
func commitContext(r *http.Request) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(r.Context()), commitTimeout)
}

// allowedMethods lists the methods a route of mux other than the
// catch-all serves at r's path: a wrong method on a real endpoint is a
// 405 naming them, not a 404.
func allowedMethods(mux *http.ServeMux, r *http.Request) []string {
	var allow []string
	for _, m := range [...]string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		if m == r.Method {
			continue
		}
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, pattern := mux.Handler(probe); pattern != "" && pattern != "/" {
			allow = append(allow, m)
		}
	}
	return allow
}

func (a *API) authed(h func(http.ResponseWriter, *http.Request, Principal)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := a.Auth.Authenticate(r)
		if err != nil {
			// The route, not the path: a path can carry a data subject's id.
			a.Log.Warn("admin request refused", "method", r.Method, "route", r.Pattern, "remote", r.RemoteAddr, "error", err)
			w.Header().Set("WWW-Authenticate", `Bearer realm="nexus-admin"`)
			writeError(w, http.StatusUnauthorized, "unauthenticated", "", err.Error())
			return
		}
		h(w, r, p)
	})
}

// ModelView is a model as the API shows it.
type ModelView struct {
	Name     string        `json:"name"`
	Hosts    []string      `json:"hosts"`
	Policy   string        `json:"policy"`
	Versions []VersionView `json:"versions"`
}

// VersionView is a version as the API shows it.
type VersionView struct {
	Name      string   `json:"name"`
	Weight    uint32   `json:"weight"`
	Endpoints []string `json:"endpoints"`
}

func modelView(m mesh.Model) ModelView {
	mv := ModelView{Name: m.Name, Hosts: m.Hosts, Policy: m.Policy, Versions: []VersionView{}}
	for _, v := range m.Versions {
		vv := VersionView{Name: v.Name, Weight: v.Weight, Endpoints: []string{}}
		for _, e := range v.Endpoints {
			vv.Endpoints = append(vv.Endpoints, e.String())
		}
		mv.Versions = append(mv.Versions, vv)
	}
	return mv
}

func (a *API) listModels(w http.ResponseWriter, _ *http.Request, _ Principal) {
	m := a.Ctrl.Mesh()
	out := struct {
		Models []ModelView `json:"models"`
	}{Models: []ModelView{}}
	for _, md := range m.Models {
		out.Models = append(out.Models, modelView(md))
	}
	writeJSON(w, http.StatusOK, out)
}

func (a *API) getModel(w http.ResponseWriter, r *http.Request, _ Principal) {
	name := r.PathValue("model")
	md, ok := a.Ctrl.Mesh().Model(name)
	if !ok {
		writeError(w, http.StatusNotFound, "model_not_found", "model", fmt.Sprintf("no model named %q", name))
		return
	}
	writeJSON(w, http.StatusOK, modelView(*md))
}

// trafficRequest is the body of PUT .../traffic. Weights stay raw so that
// 50.5 or "50" get a message naming the version rather than a generic type
// error.
type trafficRequest struct {
	Weights map[string]json.RawMessage `json:"weights"`
}

func (a *API) setTraffic(w http.ResponseWriter, r *http.Request, p Principal) {
	name := r.PathValue("model")
	if _, ok := a.Ctrl.Mesh().Model(name); !ok {
		writeError(w, http.StatusNotFound, "model_not_found", "model", fmt.Sprintf("no model named %q", name))
		return
	}
	var req trafficRequest
	if err := decodeJSON(r, &req); err != nil {
		writeBodyError(w, err)
		return
	}
	if a.Rollouts != nil && a.Rollouts.Active(name) {
		st, _ := a.Rollouts.Current(name)
		writeError(w, http.StatusConflict, "rollout_in_progress", "", "model "+name+" is under a rollout of "+st.Canary+" ("+string(st.Phase)+"); its weights are the rollout's: pause, promote or abort it first")
		return
	}
	if req.Weights == nil {
		writeError(w, http.StatusBadRequest, "invalid_argument", "weights", `weights: is required, e.g. {"weights":{"v1":90,"v2":10}}`)
		return
	}
	weights := make(map[string]int64, len(req.Weights))
	for _, v := range slices.Sorted(maps.Keys(req.Weights)) {
		raw := string(req.Weights[v])
		i, err := strconv.ParseInt(raw, 10, 64)
		if err != nil {
			writeError(w, http.StatusBadRequest, "invalid_argument", "weights."+v, fmt.Sprintf("weights.%s: must be an integer 0..100, got %s", v, raw))
			return
		}
		weights[v] = i
	}
	ctx, cancel := commitContext(r)
	defer cancel()
	md, rec, err := a.Ctrl.SetTraffic(ctx, p.String(), name, weights)
	var ve *mesh.ValidationError
	var ns *mesh.NotServableError
	switch {
	case errors.As(err, &ns):
		writeError(w, http.StatusConflict, "version_not_validated", "weights."+ns.Version, err.Error())
		return
	case errors.As(err, &ve):
		field := ""
		if len(ve.Errors) > 0 {
			field = ve.Errors[0].Path
		}
		msgs := make([]string, 0, len(ve.Errors))
		for _, fe := range ve.Errors {
			msgs = append(msgs, fe.Error())
		}
		writeError(w, http.StatusBadRequest, "invalid_argument", field, strings.Join(msgs, "; "))
		return
	case errors.Is(err, mesh.ErrUnknownModel):
		writeError(w, http.StatusNotFound, "model_not_found", "model", err.Error())
		return
	case errors.Is(err, controller.ErrNotPublished):
		a.Log.Error("traffic change stored but not published", "model", name, "error", err)
		writeError(w, http.StatusServiceUnavailable, "not_published", "", err.Error())
		return
	case err != nil:
		a.Log.Error("traffic change failed", "model", name, "error", err)
		writeError(w, http.StatusInternalServerError, "internal", "", "the change was not applied: "+err.Error())
		return
	}
	writeJSON(w, http.StatusOK, struct {
		Model ModelView `json:"model"`
		// AuditSeq is 0 when the request changed nothing.
		AuditSeq int64 `json:"audit_seq"`
	}{modelView(md), rec.Seq})
}

// NodeView is one sidecar's sync state, as istioctl proxy-status shows it.
type NodeView struct {
	ID        string              `json:"id"`
	Role      string              `json:"role"`
	Name      string              `json:"name"`
	Connected bool                `json:"connected"`
	Synced    bool                `json:"synced"`
	Published map[string]string   `json:"published"`
	Acked     map[string]string   `json:"acked"`
	Nacked    map[string]xds.Nack `json:"nacked"`
}

func (a *API) listNodes(w http.ResponseWriter, _ *http.Request, _ Principal) {
	out := struct {
		Nodes []NodeView `json:"nodes"`
	}{Nodes: []NodeView{}}
	for _, n := range a.Ctrl.Mesh().Nodes() {
		st := a.Status.Status(n.ID)
		pub := a.Status.Versions(n.ID)
		synced := st.Connected && len(st.Nacked) == 0
		for typ, v := range pub {
			if st.Acked[typ] != v {
				synced = false
			}
		}
		out.Nodes = append(out.Nodes, NodeView{
			ID: n.ID, Role: string(n.Role), Name: n.Name, Connected: st.Connected, Synced: synced,
			Published: pub, Acked: st.Acked, Nacked: st.Nacked,
		})
	}
	writeJSON(w, http.StatusOK, out)
}

const maxAuditPage = 1000

func (a *API) listAudit(w http.ResponseWriter, r *http.Request, _ Principal) {
	after, err := intParam(r, "after", 0)
	if err != nil {
		writeError(w, http.StatusBadRequest, "invalid_argument", "after", err.Error())
		return
	}
	limit, err := intParam(r, "limit", 100)
	if err != nil || limit < 1 || limit > maxAuditPage {
		writeError(w, http.StatusBadRequest, "invalid_argument", "limit", fmt.Sprintf("limit: must be 1..%d", maxAuditPage))
		return
	}
	ctx, cancel := commitContext(r)
	defer cancel()
	recs, err := a.Audit.Audit(ctx, after, int(limit))
	if err != nil {
		a.Log.Error("read audit log", "error", err)
		writeError(w, http.StatusInternalServerError, "internal", "", "could not read the audit log")
		return
	}
	writeJSON(w, http.StatusOK, struct {
		Records []audit.Record `json:"records"`
	}{recs})
}

func (a *API) verifyAudit(w http.ResponseWriter, r *http.Request, _ Principal) {
	ctx, cancel := commitContext(r)
	defer cancel()
	v, err := a.Audit.VerifyAudit(ctx)
	if err != nil {
		a.Log.Error("verify audit log", "error", err)
		writeError(w, http.StatusInternalServerError, "internal", "", "could not read the audit log")
		return
	}
	if !v.OK {
		a.Log.Error("audit chain is broken", "at", v.BrokenAt, "reason", v.Reason)
	}
	writeJSON(w, http.StatusOK, v)
}

func intParam(r *http.Request, name string, def int64) (int64, error) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return def, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%s: must be a non-negative integer, got %q", name, s)
	}
	return n, nil
}

// decodeJSON reads one JSON object, refusing unknown fields, trailing data
// and oversized bodies, with messages that say what was wrong.
func decodeJSON(r *http.Request, v any) error {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBodyBytes+1))
	if err != nil {
		return &bodyError{http.StatusBadRequest, "invalid_argument", "", fmt.Sprintf("read body: %v", err)}
	}
	if len(body) > maxBodyBytes {
		return &bodyError{http.StatusRequestEntityTooLarge, "body_too_large", "", fmt.Sprintf("body is larger than %d bytes", maxBodyBytes)}
	}
	if len(body) == 0 {
		return &bodyError{http.StatusBadRequest, "invalid_argument", "", "body is empty; send a JSON object"}
	}
	// A body is JSON only when it says so: a missing Content-Type is
	// refused like a wrong one.
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		got := r.Header.Get("Content-Type")
		if got == "" {
			got = "none"
		}
		return &bodyError{http.StatusUnsupportedMediaType, "unsupported_media_type", "", fmt.Sprintf("content-type must be application/json, got %s", got)}
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		switch {
		case errors.Is(err, io.ErrUnexpectedEOF):
			return &bodyError{http.StatusBadRequest, "invalid_argument", "", "body is not valid JSON: it ends early"}
		case errors.As(err, &se):
			return &bodyError{http.StatusBadRequest, "invalid_argument", "", fmt.Sprintf("body is not valid JSON at byte %d: %v", se.Offset, err)}
		case errors.As(err, &te):
			want := jsonKind(te.Type)
			if te.Field == "" {
				return &bodyError{http.StatusBadRequest, "invalid_argument", "", fmt.Sprintf("body: must be %s, got a JSON %s", want, te.Value)}
			}
			return &bodyError{http.StatusBadRequest, "invalid_argument", te.Field, fmt.Sprintf("%s: must be %s, got a JSON %s", te.Field, want, te.Value)}
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
			return &bodyError{http.StatusBadRequest, "invalid_argument", name, fmt.Sprintf("unknown field %q", name)}
		}
		return &bodyError{http.StatusBadRequest, "invalid_argument", "", fmt.Sprintf("body: %v", err)}
	}
	if dec.More() {
		return &bodyError{http.StatusBadRequest, "invalid_argument", "", "body has data after the JSON object"}
	}
	return nil
}

// bodyError is a request body refused, with the status and field its
// answer carries.
type bodyError struct {
	status      int
	code, field string
	msg         string
}

func (e *bodyError) Error() string { return e.msg }

// writeBodyError answers a refused body with its own status (413, 415 or
// 400) and field.
func writeBodyError(w http.ResponseWriter, err error) {
	var be *bodyError
	if errors.As(err, &be) {
		writeError(w, be.status, be.code, be.field, be.msg)
		return
	}
	writeError(w, http.StatusBadRequest, "invalid_argument", "", err.Error())
}

// jsonKind names what JSON a Go type takes, in the words of the API's
// schema rather than Go's ("a JSON object", not "admin.trafficRequest").
func jsonKind(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Struct, reflect.Map:
		return "a JSON object"
	case reflect.Slice, reflect.Array:
		return "a JSON array"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64, reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Float32, reflect.Float64:
		return "a number"
	}
	return "a JSON " + t.Kind().String()
}

// apiError is every error body. Field is always there: the request field
// the error concerns, or "" when it concerns the request as a whole (its
// size, content type, or JSON syntax), so a client reads one shape.
type apiError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field"`
}

func writeError(w http.ResponseWriter, status int, code, field, msg string) {
	writeJSON(w, status, struct {
		Error apiError `json:"error"`
	}{apiError{Code: code, Message: msg, Field: field}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func (a *API) accessReview(w http.ResponseWriter, r *http.Request, _ Principal) {
	rep, err := a.AccessReview.Review(r.Context())
	if err != nil {
		a.Log.Error("access review failed", "error", err)
		writeError(w, http.StatusServiceUnavailable, "unavailable", "", "the access review cannot be built: "+err.Error())
		return
	}
	writeJSON(w, http.StatusOK, rep)
}
