// Package decision evaluates a CheckRequest against the serving policy set
// and turns the policy's result into the CheckResponse Envoy expects. Every
// failure — no policy, a policy error, an undefined result, a timeout, an
// oversized input — is a deny with a reason for the decision log.
package decision

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"google.golang.org/genproto/googleapis/rpc/code"
	rpcstatus "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/protobuf/types/known/structpb"
)

// Result is a policy decision read from the value the query produced: a
// boolean, or an object as opa-envoy-plugin defines it.
type Result struct {
	Allowed bool
	// HTTPStatus is the status of a denial (default 403).
	HTTPStatus int
	Body       string
	// Headers go to the upstream when allowed, to the client when denied.
	Headers                 []Header
	ResponseHeadersToAdd    []Header
	RequestHeadersToRemove  []string
	QueryParametersToSet    []Header
	QueryParametersToRemove []string
	DynamicMetadata         map[string]any
	// Reason is the policy's own explanation (a "reason" string or
	// "reasons" list in the decision object), for the decision log.
	Reason string
	// Object is set for an object decision (and Nexus's own denials),
	// which answer with an HTTP response; a boolean decision answers with
	// the gRPC status alone.
	Object bool
	// ParseError is set when the request could not be parsed into an
	// input: a 400 whose body is the error, the policy never asked.
	ParseError bool
	// Failure is the reason code (ReasonPolicyError, …) when the result
	// is nexus-authz's fail-closed answer rather than the policy's
	// decision; never set from anything the policy returns.
	Failure string
}

// Header is one name/value pair, in the order the policy gave them.
type Header struct{ Key, Value string }

// Interpret reads a policy result. An object must have a boolean "allowed";
// anything malformed is an error, which the caller turns into a deny.
func Interpret(v any) (Result, error) {
	switch d := v.(type) {
	case bool:
		return Result{Allowed: d, HTTPStatus: http.StatusForbidden}, nil
	case map[string]any:
		return interpretObject(d)
	}
	return Result{}, fmt.Errorf("decision must be a boolean or an object with \"allowed\", got %s", typeName(v))
}

// interpretObject reads the fields opa-envoy-plugin reads, when it reads
// them: headers and dynamic_metadata always; what changes the upstream
// request only on an allow; body and http_status only on a deny. A field
// opa-envoy-plugin would not read is not checked, so a decision it
// accepts is never refused here.
func interpretObject(d map[string]any) (Result, error) {
	r := Result{HTTPStatus: http.StatusForbidden, Object: true}
	a, ok := d["allowed"]
	if !ok {
		return r, fmt.Errorf("decision object has no \"allowed\" key")
	}
	if r.Allowed, ok = a.(bool); !ok {
		return r, fmt.Errorf("decision \"allowed\" must be a boolean, got %s", typeName(a))
	}
	var err error
	if r.Headers, err = headers(d, "headers"); err != nil {
		return r, err
	}
	if md, ok := d["dynamic_metadata"]; ok {
		m, ok := md.(map[string]any)
		if !ok {
			return r, fmt.Errorf("decision \"dynamic_metadata\" must be an object, got %s", typeName(md))
		}
		r.DynamicMetadata = m
	}
	if r.Allowed {
		if r.ResponseHeadersToAdd, err = headers(d, "response_headers_to_add"); err != nil {
			return r, err
		}
		if r.RequestHeadersToRemove, err = strings_(d, "request_headers_to_remove"); err != nil {
			return r, err
		}
		if r.QueryParametersToRemove, err = strings_(d, "query_parameters_to_remove"); err != nil {
			return r, err
		}
		if qs, ok := d["query_parameters_to_set"]; ok {
			m, ok := qs.(map[string]any)
			if !ok {
				return r, fmt.Errorf("decision \"query_parameters_to_set\" must be an object, got %s", typeName(qs))
			}
			if r.QueryParametersToSet, err = pairs("query_parameters_to_set", m); err != nil {
				return r, err
			}
		}
	} else {
		if s, ok := d["http_status"]; ok {
			if r.HTTPStatus, err = HTTPStatus(s); err != nil {
				return r, err
			}
		}
		if b, ok := d["body"]; ok {
			s, ok := b.(string)
			if !ok {
				return r, fmt.Errorf("decision \"body\" must be a string, got %s", typeName(b))
			}
			r.Body = s
		}
	}
	switch reason := d["reason"].(type) {
	case string:
		r.Reason = reason
	}
	if rs, ok := d["reasons"].([]any); ok {
		var parts []string
		for _, x := range rs {
			if s, ok := x.(string); ok {
				parts = append(parts, s)
			}
		}
		if len(parts) > 0 {
			r.Reason = strings.Join(parts, "; ")
		}
	}
	return r, nil
}

// HTTPStatus reads a decision's http_status: an integer that is an HTTP
// status Envoy's StatusCode can carry (451, say, is HTTP but not one of
// Envoy's).
func HTTPStatus(v any) (int, error) {
	n, ok := v.(json.Number)
	if !ok {
		return 0, fmt.Errorf("decision \"http_status\" must be a number, got %s", typeName(v))
	}
	code, err := n.Int64()
	if err != nil || http.StatusText(int(code)) == "" {
		return 0, fmt.Errorf("decision \"http_status\" %s is not an HTTP status", n)
	}
	if _, known := typev3.StatusCode_name[int32(code)]; !known {
		return 0, fmt.Errorf("decision \"http_status\" %d is not a status Envoy can send", code)
	}
	return int(code), nil
}

// headers reads an object of name → string|[string], or a list of such
// objects (opa-envoy-plugin accepts both).
func headers(d map[string]any, field string) ([]Header, error) {
	v, ok := d[field]
	if !ok {
		return nil, nil
	}
	switch h := v.(type) {
	case map[string]any:
		return pairs(field, h)
	case []any:
		var out []Header
		for _, item := range h {
			m, ok := item.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("decision %q entries must be objects, got %s", field, typeName(item))
			}
			p, err := pairs(field, m)
			if err != nil {
				return nil, err
			}
			out = append(out, p...)
		}
		return out, nil
	}
	return nil, fmt.Errorf("decision %q must be an object or a list of objects, got %s", field, typeName(v))
}

// pairs flattens name → string|[string] in name order, so responses are
// deterministic.
func pairs(field string, m map[string]any) ([]Header, error) {
	var out []Header
	for _, k := range slices.Sorted(maps.Keys(m)) {
		switch v := m[k].(type) {
		case string:
			out = append(out, Header{k, v})
		case []any:
			for _, x := range v {
				s, ok := x.(string)
				if !ok {
					return nil, fmt.Errorf("decision %q value for %q must be strings, got %s", field, k, typeName(x))
				}
				out = append(out, Header{k, s})
			}
		default:
			return nil, fmt.Errorf("decision %q value for %q must be a string or a list of strings, got %s", field, k, typeName(v))
		}
	}
	return out, nil
}

func strings_(d map[string]any, field string) ([]string, error) {
	v, ok := d[field]
	if !ok {
		return nil, nil
	}
	list, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("decision %q must be a list of strings, got %s", field, typeName(v))
	}
	out := make([]string, 0, len(list))
	for _, x := range list {
		s, ok := x.(string)
		if !ok {
			return nil, fmt.Errorf("decision %q must be a list of strings, got an element of type %s", field, typeName(x))
		}
		out = append(out, s)
	}
	return out, nil
}

func typeName(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case string:
		return "string"
	case json.Number, float64, int, int64:
		return "number"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}

// HeaderDecisionID is the default header that carries the decision id to
// the upstream when allowed and to the client when denied, so either can
// quote it to an operator. The id is always in the response's dynamic
// metadata as decision_id, as opa-envoy-plugin puts it.
const HeaderDecisionID = "x-nexus-decision-id"

// MetadataDecisionID is the dynamic metadata key of the decision id.
const MetadataDecisionID = "decision_id"

// Response maps a result onto the CheckResponse opa-envoy-plugin gives
// for it: a boolean decision is only a gRPC status, an object decision
// adds the OK or denied HTTP response, and both carry decision_id in the
// dynamic metadata. A request that could not be parsed is a 400 with the
// parse error, and no metadata, as there. idHeader, when not empty, also
// sends the decision id as that header.
func Response(r Result, decisionID, idHeader string) (*authv3.CheckResponse, error) {
	resp := &authv3.CheckResponse{}
	var extra []*corev3.HeaderValueOption
	if idHeader != "" {
		extra = []*corev3.HeaderValueOption{{
			Header:       &corev3.HeaderValue{Key: idHeader, Value: decisionID},
			AppendAction: corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD,
		}}
	}
	if r.ParseError {
		resp.Status = &rpcstatus.Status{Code: int32(code.Code_PERMISSION_DENIED), Message: r.Body}
		resp.HttpResponse = &authv3.CheckResponse_DeniedResponse{DeniedResponse: &authv3.DeniedHttpResponse{
			Status:  &typev3.HttpStatus{Code: typev3.StatusCode_BadRequest},
			Headers: extra,
			Body:    r.Body,
		}}
		return resp, nil
	}
	md, err := structpb.NewStruct(r.DynamicMetadata)
	if err != nil {
		return nil, fmt.Errorf("decision \"dynamic_metadata\": %w", err)
	}
	md.Fields[MetadataDecisionID] = structpb.NewStringValue(decisionID)
	resp.DynamicMetadata = md
	if r.Allowed {
		resp.Status = &rpcstatus.Status{Code: int32(code.Code_OK)}
		if !r.Object && extra == nil {
			return resp, nil
		}
		ok := &authv3.OkHttpResponse{
			Headers:                 append(options(r.Headers), extra...),
			HeadersToRemove:         r.RequestHeadersToRemove,
			ResponseHeadersToAdd:    options(r.ResponseHeadersToAdd),
			QueryParametersToRemove: r.QueryParametersToRemove,
		}
		for _, q := range r.QueryParametersToSet {
			ok.QueryParametersToSet = append(ok.QueryParametersToSet, &corev3.QueryParameter{Key: q.Key, Value: q.Value})
		}
		resp.HttpResponse = &authv3.CheckResponse_OkResponse{OkResponse: ok}
		return resp, nil
	}
	resp.Status = &rpcstatus.Status{Code: int32(code.Code_PERMISSION_DENIED)}
	if !r.Object && extra == nil {
		return resp, nil
	}
	resp.HttpResponse = &authv3.CheckResponse_DeniedResponse{DeniedResponse: &authv3.DeniedHttpResponse{
		Status:  &typev3.HttpStatus{Code: typev3.StatusCode(r.HTTPStatus)},
		Headers: append(options(r.Headers), extra...),
		Body:    r.Body,
	}}
	return resp, nil
}

func options(hs []Header) []*corev3.HeaderValueOption {
	if len(hs) == 0 {
		return nil
	}
	out := make([]*corev3.HeaderValueOption, 0, len(hs)+1)
	for _, h := range hs {
		out = append(out, &corev3.HeaderValueOption{Header: &corev3.HeaderValue{Key: h.Key, Value: h.Value}})
	}
	return out
}
