package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/util"

	"github.com/secureai-nexus/nexus/authz/internal/bundles"
	"github.com/secureai-nexus/nexus/authz/internal/policy"
)

// OPA's REST API, where a user of opa-envoy-plugin expects it: GET /health
// for probes and POST /v1/data/{path} for policy authors to try a
// decision against the serving set.

// pluginState is a plugin's state as OPA names them.
type pluginState string

// Plugin names, as OPA and opa-envoy-plugin report them.
const (
	pluginExtAuthz      = "envoy_ext_authz_grpc"
	pluginBundle        = "bundle"
	pluginDecisionLogs  = "decision_logs"
	pluginStatusService = "status"
)

const (
	stateOK       pluginState = "OK"
	stateNotReady pluginState = "NOT_READY"
	stateErr      pluginState = "ERROR"
)

// healthSource says what /health reports: the plugins' states, and
// whether every configured bundle has been activated.
type healthSource interface {
	Plugins() map[string]pluginState
	BundlesActivated() bool
}

// opaError is OPA's error body.
type opaError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// handleHealth is OPA's GET /health: 200 {} when a policy set serves;
// with ?bundles, only once every bundle has been activated; with
// ?plugins, only when every plugin (but those named by exclude-plugin) is
// OK; otherwise 500 {"error": …}, as OPA answers.
func handleHealth(hs healthSource) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		plugins := hs.Plugins()
		write := func(err error) {
			if err != nil {
				writeJSON(w, http.StatusInternalServerError, map[string]string{"error": err.Error()})
				return
			}
			writeJSON(w, http.StatusOK, struct{}{})
		}
		if plugins[pluginExtAuthz] != stateOK {
			write(errors.New("unable to perform evaluation"))
			return
		}
		if boolParam(q, "bundles") || boolParam(q, "bundle") {
			if !hs.BundlesActivated() {
				write(errors.New("one or more bundles are not activated"))
				return
			}
		}
		if boolParam(q, "plugins") {
			excluded := map[string]bool{}
			for _, name := range q["exclude-plugin"] {
				excluded[name] = true
			}
			for name, st := range plugins {
				if !excluded[name] && st != stateOK {
					write(errors.New("one or more plugins are not up"))
					return
				}
			}
		}
		write(nil)
	}
}

// boolParam reads an OPA flag parameter: present with no value, or a
// value strconv-style true.
func boolParam(q map[string][]string, name string) bool {
	vs, ok := q[name]
	if !ok {
		return false
	}
	for _, v := range vs {
		if v == "" || strings.EqualFold(v, "true") {
			return true
		}
	}
	return false
}

// dataAPI serves POST /v1/data/{path} (and GET without an input).
type dataAPI struct {
	current  func() *policy.Set
	maxBytes int64
	timeout  time.Duration
	loopback bool
	newID    func() string
}

func (d *dataAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// Evaluating any document of the policy set shows data and rules an
	// Envoy caller never sees: loopback only.
	if !d.loopback {
		writeJSON(w, http.StatusForbidden, opaError{"unauthorized", "the data API is served only on a loopback --http-addr"})
		return
	}
	// A loopback listener is still reachable from a browser on this host
	// through a name that resolves to 127.0.0.1 (DNS rebinding): only a
	// loopback Host is served.
	if !loopbackHost(r.Host) {
		writeJSON(w, http.StatusForbidden, opaError{"unauthorized", "the data API answers only requests addressed to a loopback host (localhost, 127.0.0.1, [::1])"})
		return
	}
	if r.Method != http.MethodPost && r.Method != http.MethodGet {
		w.Header().Set("Allow", "GET, POST")
		writeJSON(w, http.StatusMethodNotAllowed, opaError{"invalid_parameter", "method not allowed: use POST with {\"input\": …} or GET"})
		return
	}
	ref, err := dataRef(strings.TrimPrefix(r.URL.Path, "/v1/data"))
	if err != nil {
		writeJSON(w, http.StatusBadRequest, opaError{"invalid_parameter", err.Error()})
		return
	}
	var input any
	if r.Method == http.MethodPost {
		raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, d.maxBytes))
		var tooLarge *http.MaxBytesError
		switch {
		case errors.As(err, &tooLarge):
			writeJSON(w, http.StatusRequestEntityTooLarge, opaError{"invalid_parameter", fmt.Sprintf("request body is larger than %d bytes", d.maxBytes)})
			return
		case err != nil:
			writeJSON(w, http.StatusBadRequest, opaError{"invalid_parameter", "read body: " + err.Error()})
			return
		}
		if len(strings.TrimSpace(string(raw))) > 0 {
			var body map[string]any
			if err := util.UnmarshalJSON(raw, &body); err != nil {
				writeJSON(w, http.StatusBadRequest, opaError{"invalid_parameter", "body must be a JSON object {\"input\": …}: " + err.Error()})
				return
			}
			input = body["input"]
		}
	}
	set := d.current()
	if set == nil {
		writeJSON(w, http.StatusServiceUnavailable, opaError{"internal_error", "no policy set is loaded yet (see /readyz)"})
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), d.timeout)
	defer cancel()
	out, defined, err := set.Data(ctx, ref, input)
	id := d.newID()
	switch {
	case err != nil && ctx.Err() != nil:
		writeJSON(w, http.StatusServiceUnavailable, opaError{"internal_error", "evaluation did not finish: " + ctx.Err().Error()})
		return
	case err != nil:
		// The policy could not evaluate this input (a builtin error in
		// strict mode, conflicting values): the caller's to fix.
		writeJSON(w, http.StatusBadRequest, opaError{"evaluation_error", err.Error()})
		return
	}
	resp := map[string]any{"decision_id": id}
	if defined {
		resp["result"] = out
	}
	writeJSON(w, http.StatusOK, resp)
}

// loopbackHost says whether a Host header names this machine's loopback.
func loopbackHost(host string) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.Trim(host, "[]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

// dataRef turns /a/b/c into data.a.b.c; each segment is a string key, so
// any characters are allowed.
func dataRef(path string) (ast.Ref, error) {
	ref := ast.Ref{ast.DefaultRootDocument}
	for _, seg := range strings.Split(strings.Trim(path, "/"), "/") {
		if seg == "" {
			continue
		}
		ref = append(ref, ast.StringTerm(seg))
	}
	if len(ref) > 64 {
		return nil, errors.New("path has more than 64 segments")
	}
	return ref, nil
}

// managerHealth is the health of a server whose policies come from
// directories or a bundle file: the ext_authz plugin is OK once a set
// serves, and there are no bundles to activate beyond that one.
type managerHealth struct {
	mgr *policy.Manager
}

func (h managerHealth) Plugins() map[string]pluginState {
	st := stateNotReady
	if h.mgr.Current() != nil {
		st = stateOK
	}
	return map[string]pluginState{pluginExtAuthz: st}
}

func (h managerHealth) BundlesActivated() bool { return h.mgr.Current() != nil }

// bundleHealth is the health of a server fed by bundle services: the bundle
// plugin is OK once every bundle has been activated.
type bundleHealth struct {
	mgr *policy.Manager
	src *bundles.Source
}

func (h bundleHealth) Plugins() map[string]pluginState {
	out := managerHealth{mgr: h.mgr}.Plugins()
	out[pluginBundle] = stateNotReady
	if h.src.Activated() {
		out[pluginBundle] = stateOK
	}
	return out
}

func (h bundleHealth) BundlesActivated() bool { return h.src.Activated() }
