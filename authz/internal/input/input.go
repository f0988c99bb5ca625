// Package input builds the policy input from an Envoy CheckRequest: exactly
// the document opa-envoy-plugin gives its policies (the request as
// protojson under "attributes", "parsed_path", "parsed_query",
// "parsed_body", "truncated_body", "version"), plus a "nexus" object with
// what Nexus knows about the call: the caller's SPIFFE id, the model and
// version, piiguard's findings and verified end-user claims.
package input

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/known/structpb"
)

// Names shared with the control plane's translation and piiguard.
const (
	HeaderModel   = "x-nexus-model"
	HeaderVersion = "x-nexus-model-version"
	HeaderPurpose = "x-nexus-purpose"
	// HeaderPII is piiguard's report: "EMAIL=2,US_SSN=1", "none" or
	// "oversize". piiguard always overwrites a caller's value.
	HeaderPII = "x-nexus-pii"

	// PIIGuardNamespace is the dynamic metadata namespace piiguard writes
	// its findings to: {"findings": {"EMAIL": 2, …}}.
	PIIGuardNamespace = "piiguard"
	// JWTNamespace is jwt_authn's namespace; the control plane sets
	// payload_in_metadata to "claims".
	JWTNamespace = "envoy.filters.http.jwt_authn"
)

// Options changes how the input is built.
type Options struct {
	// SkipRequestBodyParse leaves parsed_body and truncated_body out of the
	// input, as opa-envoy-plugin's skip-request-body-parse does.
	SkipRequestBodyParse bool
	// LimitBody decodes, of a JSON object body, only the top-level members
	// named in BodyMembers; the whole body is still checked to be JSON
	// (and refused if not). For when nothing else reads parsed_body.
	LimitBody   bool
	BodyMembers []string
	// ProtoSet decodes application/grpc request bodies (Envoy's raw_body,
	// pack_as_bytes) into parsed_body, as opa-envoy-plugin's
	// proto-descriptor does. Nil leaves gRPC bodies unparsed.
	ProtoSet *protoregistry.Files
	// SubjectKey, when set, keys the pseudonymous id of the verified JWT
	// sub the input carries as nexus.subject (what consent and
	// break-glass data are keyed by); without it there is no
	// nexus.subject and calls that need consent are denied.
	SubjectKey []byte
}

// ParseError is a request opa-envoy-plugin refuses to build an input for:
// an invalid path escape, a query with a semicolon, a body that does not
// parse as its content type says, a non-numeric content-length. The
// request is denied with HTTP 400 without evaluating the policy.
type ParseError struct{ Err error }

func (e *ParseError) Error() string { return e.Err.Error() }
func (e *ParseError) Unwrap() error { return e.Err }

// ErrBody marks a JSON body that does not parse.
var ErrBody = errors.New("request body is not valid JSON")

var piiClassRE = regexp.MustCompile(`^[A-Z][A-Z0-9_]{0,63}$`)

// Build returns the input document for req. A request whose path, query
// or body does not parse is a *ParseError.
func Build(req *authv3.CheckRequest, opts Options) (map[string]any, error) {
	in := toMap(req.ProtoReflect())
	in["version"] = map[string]any{"ext_authz": "v3", "encoding": "protojson"}

	http := req.GetAttributes().GetRequest().GetHttp()
	parsedPath, parsedQuery, err := ParsePath(http.GetPath())
	if err != nil {
		return nil, &ParseError{Err: err}
	}
	in["parsed_path"] = parsedPath
	in["parsed_query"] = parsedQuery

	if !opts.SkipRequestBodyParse {
		body, truncated, err := parseBody(http.GetHeaders(), http.GetBody(), http.GetRawBody(), parsedPath, opts)
		if err != nil {
			return nil, &ParseError{Err: err}
		}
		in["parsed_body"] = body
		in["truncated_body"] = truncated
	}
	if p := req.GetAttributes().GetSource().GetPrincipal(); p != "" {
		in["source_principal"] = p
	}
	in["nexus"] = nexus(req, opts.SubjectKey)
	return in, nil
}

// ParsePath splits a request path as opa-envoy-plugin does: everything
// before the first "?" is unescaped and split on "/" after its leading
// slashes, and the rest is a query of value lists. A "#" is not special
// (Envoy does not send fragments; one that arrives is part of the path or
// query). No segment is ever read as a host, so "//admin/x" is
// ["admin", "x"].
func ParsePath(p string) ([]any, map[string]any, error) {
	rawPath, rawQuery, _ := strings.Cut(p, "?")
	path, err := url.PathUnescape(rawPath)
	if err != nil {
		return nil, nil, err
	}
	segs := strings.Split(strings.TrimLeft(path, "/"), "/")
	out := make([]any, len(segs))
	for i, s := range segs {
		out[i] = s
	}
	values, err := url.ParseQuery(rawQuery)
	if err != nil {
		return nil, nil, err
	}
	return out, valueLists(values), nil
}

func valueLists(values map[string][]string) map[string]any {
	out := make(map[string]any, len(values))
	for k, vs := range values {
		list := make([]any, len(vs))
		for i, v := range vs {
			list[i] = v
		}
		out[k] = list
	}
	return out
}

// Caller is the calling workload's SPIFFE identity.
type Caller struct {
	SPIFFEID    string `json:"spiffe_id"`
	TrustDomain string `json:"trust_domain"`
	Path        string `json:"path"`
}

// ParseSPIFFEID splits a SPIFFE id; ok is false for anything that is not
// one (a DNS SAN, an empty principal).
func ParseSPIFFEID(id string) (Caller, bool) {
	rest, ok := strings.CutPrefix(id, "spiffe://")
	if !ok {
		return Caller{}, false
	}
	td, path, _ := strings.Cut(rest, "/")
	if td == "" || strings.ToLower(td) != td {
		return Caller{}, false
	}
	return Caller{SPIFFEID: id, TrustDomain: td, Path: "/" + path}, true
}

func nexus(req *authv3.CheckRequest, subjectKey []byte) map[string]any {
	attrs := req.GetAttributes()
	headers := attrs.GetRequest().GetHttp().GetHeaders()
	ext := attrs.GetContextExtensions()

	var caller any
	if c, ok := ParseSPIFFEID(attrs.GetSource().GetPrincipal()); ok {
		caller = map[string]any{"spiffe_id": c.SPIFFEID, "trust_domain": c.TrustDomain, "path": c.Path}
	}
	// The route's context_extensions come from the control plane; headers
	// are the fallback for routes without them.
	model := ext["model"]
	if model == "" {
		model = headers[HeaderModel]
	}
	version := ext["version"]
	if version == "" {
		version = headers[HeaderVersion]
	}

	meta := attrs.GetMetadataContext().GetFilterMetadata()
	var claims, subject any
	if jwt := meta[JWTNamespace]; jwt != nil {
		if c := jwt.GetFields()["claims"].GetStructValue(); c != nil {
			claims = c.AsMap()
			if sub := c.GetFields()["sub"].GetStringValue(); sub != "" && len(subjectKey) > 0 {
				subject = PseudonymousSubject(subjectKey, sub)
			}
		}
	}
	return map[string]any{
		"caller":  caller,
		"model":   model,
		"version": version,
		// The version's life-cycle state, from the route (the control
		// plane), when the request is pinned to a version.
		"version_state": ext["version_state"],
		"policy":        ext["policy"],
		"purpose":       headers[HeaderPurpose],
		"pii":           pii(meta[PIIGuardNamespace], headers[HeaderPII]),
		"claims":        claims,
		// The end user's keyed hash, from the verified sub only.
		"subject": subject,
	}
}

// PseudonymousSubject is the keyed hash an end user appears as: in the
// input (nexus.subject), in spans (enduser.pseudo.id) and in the control
// plane's consent data, which hashes the same sub with the same key. The
// same user is the same id everywhere, and without the key the id does
// not lead back to the user.
func PseudonymousSubject(key []byte, sub string) string {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(sub))
	return hex.EncodeToString(mac.Sum(nil)[:16])
}

// pii reads piiguard's findings — from its dynamic metadata, else from its
// x-nexus-pii header: class names and counts only. Anything else — a
// value, by mistake — is not passed on.
func pii(s *structpb.Struct, header string) map[string]any {
	counts := map[string]any{}
	classes := []any{}
	var names []string
	add := func(class string, n int64) {
		if !piiClassRE.MatchString(class) || n < 1 {
			return
		}
		if _, dup := counts[class]; !dup {
			names = append(names, class)
		}
		counts[class] = json.Number(strconv.FormatInt(n, 10))
	}
	for class, v := range s.GetFields()["findings"].GetStructValue().GetFields() {
		if n, ok := v.GetKind().(*structpb.Value_NumberValue); ok {
			add(class, int64(n.NumberValue))
		}
	}
	if len(names) == 0 && header != "none" && header != "oversize" {
		for _, part := range strings.Split(header, ",") {
			class, n, ok := strings.Cut(strings.TrimSpace(part), "=")
			if v, err := strconv.ParseInt(n, 10, 64); ok && err == nil {
				add(class, v)
			}
		}
	}
	slices.Sort(names)
	for _, n := range names {
		classes = append(classes, n)
	}
	return map[string]any{"classes": classes, "counts": counts, "oversize": header == "oversize"}
}
