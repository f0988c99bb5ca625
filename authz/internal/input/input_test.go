package input_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/secureai-nexus/nexus/authz/internal/input"
)

// envoyRequest is a CheckRequest as Envoy builds it for a model sidecar:
// peer principal from the client certificate's URI SAN, lower-cased
// headers, the body under with_request_body, context_extensions from the
// route, and dynamic metadata from jwt_authn and piiguard.
func envoyRequest() *authv3.CheckRequest {
	claims, _ := structpb.NewStruct(map[string]any{"sub": "nurse-7", "roles": []any{"nurse"}})
	findings, _ := structpb.NewStruct(map[string]any{"findings": map[string]any{"EMAIL": 2.0, "MEDICAL_RECORD_NUMBER": 1.0, "bogus class": 3.0, "PHONE": "0412"}})
	return &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
		Source: &authv3.AttributeContext_Peer{
			Address:   &corev3.Address{Address: &corev3.Address_SocketAddress{SocketAddress: &corev3.SocketAddress{Address: "10.0.0.7", PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: 41234}}}},
			Principal: "spiffe://nexus.local/ns/clinic/sa/frontdesk",
		},
		Destination: &authv3.AttributeContext_Peer{
			Address:   &corev3.Address{Address: &corev3.Address_SocketAddress{SocketAddress: &corev3.SocketAddress{Address: "127.0.0.1", PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: 10000}}}},
			Principal: "spiffe://nexus.local/model/triage",
		},
		Request: &authv3.AttributeContext_Request{
			Time: &timestamppb.Timestamp{Seconds: 1764000000, Nanos: 120000000},
			Http: &authv3.AttributeContext_HttpRequest{
				Id:     "8762138",
				Method: "POST",
				Path:   "/v1/chat/completions?trace=1&tag=a&tag=b",
				Host:   "triage.models.nexus.local",
				Scheme: "https",
				Headers: map[string]string{
					":authority": "triage.models.nexus.local", ":method": "POST", ":path": "/v1/chat/completions?trace=1&tag=a&tag=b",
					"content-type": "application/json", "content-length": "62", "x-nexus-purpose": "treatment",
					"x-nexus-model": "triage", "authorization": "Bearer abc",
				},
				Body:     `{"model":"triage","max_tokens":100,"messages":[{"role":"user"}]}`,
				Size:     62,
				Protocol: "HTTP/2",
			},
		},
		ContextExtensions: map[string]string{"model": "triage", "policy": "nexus.models.triage"},
		MetadataContext: &corev3.Metadata{FilterMetadata: map[string]*structpb.Struct{
			"envoy.filters.http.jwt_authn": {Fields: map[string]*structpb.Value{"claims": structpb.NewStructValue(claims)}},
			"piiguard":                     findings,
		}},
	}}
}

func roundTrip(t testing.TB, v any) any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func get(doc any, path ...string) any {
	for _, p := range path {
		m, ok := doc.(map[string]any)
		if !ok {
			return nil
		}
		doc = m[p]
	}
	return doc
}

// TestInputShape pins every field a policy written for opa-envoy-plugin
// reads, in the plugin's encoding (the proto walked by reflection: JSON
// field names, every integer a number, a Timestamp as seconds and nanos),
// and the nexus object.
func TestInputShape(t *testing.T) {
	in, err := input.Build(envoyRequest(), input.Options{})
	if err != nil {
		t.Fatal(err)
	}
	doc := roundTrip(t, in)
	tests := []struct {
		path []string
		want any
	}{
		{[]string{"version"}, map[string]any{"ext_authz": "v3", "encoding": "protojson"}},
		{[]string{"attributes", "source", "principal"}, "spiffe://nexus.local/ns/clinic/sa/frontdesk"},
		{[]string{"attributes", "source", "address", "socketAddress", "address"}, "10.0.0.7"},
		{[]string{"attributes", "source", "address", "socketAddress", "portValue"}, 41234.0},
		{[]string{"attributes", "destination", "principal"}, "spiffe://nexus.local/model/triage"},
		{[]string{"attributes", "request", "http", "method"}, "POST"},
		{[]string{"attributes", "request", "http", "path"}, "/v1/chat/completions?trace=1&tag=a&tag=b"},
		{[]string{"attributes", "request", "http", "host"}, "triage.models.nexus.local"},
		{[]string{"attributes", "request", "http", "scheme"}, "https"},
		{[]string{"attributes", "request", "http", "protocol"}, "HTTP/2"},
		{[]string{"attributes", "request", "http", "id"}, "8762138"},
		{[]string{"attributes", "request", "http", "size"}, 62.0},
		{[]string{"attributes", "request", "time"}, map[string]any{"seconds": 1764000000.0, "nanos": 120000000.0}},
		{[]string{"source_principal"}, "spiffe://nexus.local/ns/clinic/sa/frontdesk"},
		{[]string{"attributes", "request", "http", "headers", "content-type"}, "application/json"},
		{[]string{"attributes", "request", "http", "headers", ":method"}, "POST"},
		{[]string{"attributes", "request", "http", "body"}, `{"model":"triage","max_tokens":100,"messages":[{"role":"user"}]}`},
		{[]string{"attributes", "contextExtensions", "model"}, "triage"},
		{[]string{"attributes", "metadataContext", "filterMetadata", "envoy.filters.http.jwt_authn", "claims", "sub"}, "nurse-7"},
		{[]string{"parsed_path"}, []any{"v1", "chat", "completions"}},
		{[]string{"parsed_query"}, map[string]any{"trace": []any{"1"}, "tag": []any{"a", "b"}}},
		{[]string{"parsed_body", "max_tokens"}, 100.0},
		{[]string{"parsed_body", "model"}, "triage"},
		{[]string{"truncated_body"}, false},
		{[]string{"nexus", "caller"}, map[string]any{"spiffe_id": "spiffe://nexus.local/ns/clinic/sa/frontdesk", "trust_domain": "nexus.local", "path": "/ns/clinic/sa/frontdesk"}},
		{[]string{"nexus", "model"}, "triage"},
		{[]string{"nexus", "version"}, ""},
		{[]string{"nexus", "policy"}, "nexus.models.triage"},
		{[]string{"nexus", "purpose"}, "treatment"},
		// Class names and counts only; a malformed class or a non-number
		// (a value, by mistake) is not passed on.
		{[]string{"nexus", "pii"}, map[string]any{"classes": []any{"EMAIL", "MEDICAL_RECORD_NUMBER"}, "counts": map[string]any{"EMAIL": 2.0, "MEDICAL_RECORD_NUMBER": 1.0}, "oversize": false}},
		{[]string{"nexus", "claims"}, map[string]any{"sub": "nurse-7", "roles": []any{"nurse"}}},
	}
	for _, tt := range tests {
		if got := get(doc, tt.path...); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("input.%v = %#v, want %#v", tt.path, got, tt.want)
		}
	}
}

func TestInputVariants(t *testing.T) {
	t.Run("truncated body", func(t *testing.T) {
		r := envoyRequest()
		r.Attributes.Request.Http.Headers["content-length"] = "100000"
		in, err := input.Build(r, input.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if in["truncated_body"] != true || in["parsed_body"] != nil {
			t.Errorf("truncated: %v %v", in["truncated_body"], in["parsed_body"])
		}
	})
	t.Run("raw body", func(t *testing.T) {
		r := envoyRequest()
		r.Attributes.Request.Http.RawBody = []byte(r.Attributes.Request.Http.Body)
		r.Attributes.Request.Http.Body = ""
		in, err := input.Build(r, input.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if get(roundTrip(t, in), "parsed_body", "model") != "triage" {
			t.Errorf("raw body not parsed: %v", in["parsed_body"])
		}
	})
	t.Run("skip body parse", func(t *testing.T) {
		in, err := input.Build(envoyRequest(), input.Options{SkipRequestBodyParse: true})
		if err != nil {
			t.Fatal(err)
		}
		// opa-envoy-plugin leaves both out, so a policy sees them undefined.
		if _, ok := in["parsed_body"]; ok {
			t.Errorf("parsed_body = %v", in["parsed_body"])
		}
		if _, ok := in["truncated_body"]; ok {
			t.Errorf("truncated_body = %v", in["truncated_body"])
		}
	})
	t.Run("not JSON content", func(t *testing.T) {
		r := envoyRequest()
		r.Attributes.Request.Http.Headers["content-type"] = "text/plain"
		r.Attributes.Request.Http.Body = "hello"
		in, err := input.Build(r, input.Options{})
		if err != nil || in["parsed_body"] != nil {
			t.Errorf("parsed_body = %v, %v", in["parsed_body"], err)
		}
	})
	t.Run("invalid JSON body", func(t *testing.T) {
		r := envoyRequest()
		r.Attributes.Request.Http.Body = `{"model":`
		delete(r.Attributes.Request.Http.Headers, "content-length")
		_, err := input.Build(r, input.Options{})
		var pe *input.ParseError
		if !errors.As(err, &pe) || err.Error() != "unexpected EOF" {
			t.Errorf("invalid JSON body: %v, want a ParseError with the decoder's message", err)
		}
	})
	t.Run("headers fallback for model and version", func(t *testing.T) {
		r := envoyRequest()
		r.Attributes.ContextExtensions = nil
		r.Attributes.Request.Http.Headers["x-nexus-model-version"] = "v2"
		in, err := input.Build(r, input.Options{})
		if err != nil {
			t.Fatal(err)
		}
		nx := in["nexus"].(map[string]any)
		if nx["model"] != "triage" || nx["version"] != "v2" {
			t.Errorf("nexus = %v", nx)
		}
	})
	t.Run("findings from the x-nexus-pii header", func(t *testing.T) {
		r := envoyRequest()
		r.Attributes.MetadataContext = nil
		r.Attributes.Request.Http.Headers["x-nexus-pii"] = "EMAIL=2,US_SSN=1,bad class=3,PHONE=x"
		in, err := input.Build(r, input.Options{})
		if err != nil {
			t.Fatal(err)
		}
		got := roundTrip(t, in["nexus"].(map[string]any)["pii"])
		want := map[string]any{"classes": []any{"EMAIL", "US_SSN"}, "counts": map[string]any{"EMAIL": 2.0, "US_SSN": 1.0}, "oversize": false}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("pii = %v", got)
		}
	})
	t.Run("no client certificate", func(t *testing.T) {
		r := envoyRequest()
		r.Attributes.Source.Principal = ""
		in, err := input.Build(r, input.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if in["nexus"].(map[string]any)["caller"] != nil {
			t.Error("caller should be null without a SPIFFE principal")
		}
		if _, ok := in["source_principal"]; ok {
			t.Error("source_principal should be absent without a principal")
		}
	})
	t.Run("empty request", func(t *testing.T) {
		in, err := input.Build(&authv3.CheckRequest{}, input.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(in["parsed_path"], []any{""}) {
			t.Errorf("parsed_path = %v", in["parsed_path"])
		}
	})
}

func TestParseSPIFFEID(t *testing.T) {
	for id, want := range map[string]bool{
		"spiffe://nexus.local/ns/a/sa/b": true,
		"spiffe://nexus.local":           true,
		"https://nexus.local/x":          false,
		"spiffe://Nexus.local/x":         false,
		"spiffe:///x":                    false,
		"":                               false,
	} {
		if _, ok := input.ParseSPIFFEID(id); ok != want {
			t.Errorf("%q: ok = %v", id, ok)
		}
	}
}

// FuzzBuild feeds arbitrary headers, bodies and paths: no panic, and the
// result (input or error) is always usable.
func FuzzBuild(f *testing.F) {
	f.Add("/v1/chat/completions?x=1", "application/json", `{"a":1}`, "12", "spiffe://a/b")
	f.Add("%zz/../", "application/json; charset=utf-8", `[1,2`, "-5", "spiffe://")
	f.Add("", "text/plain", "", "", "")
	f.Fuzz(func(t *testing.T, path, ctype, body, clen, principal string) {
		r := &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
			Source: &authv3.AttributeContext_Peer{Principal: principal},
			Request: &authv3.AttributeContext_Request{Http: &authv3.AttributeContext_HttpRequest{
				Path: path, Body: body, Headers: map[string]string{"content-type": ctype, "content-length": clen},
			}},
		}}
		in, err := input.Build(r, input.Options{})
		if err != nil {
			return
		}
		if _, err := json.Marshal(in); err != nil {
			t.Fatalf("input does not encode: %v", err)
		}
	})
}

// nexus.subject is the keyed hash of the verified sub, the value the
// control plane keys consent data by (its consent package asserts the
// same vector), and absent without a key.
func TestInputSubject(t *testing.T) {
	if got := input.PseudonymousSubject([]byte("test-subject-key"), "user-42"); got != "e276c0424e9d311032e6cec71a104033" {
		t.Fatalf("PseudonymousSubject = %s", got)
	}
	in, err := input.Build(envoyRequest(), input.Options{SubjectKey: []byte("k1")})
	if err != nil {
		t.Fatal(err)
	}
	nx := in["nexus"].(map[string]any)
	if nx["subject"] != input.PseudonymousSubject([]byte("k1"), "nurse-7") {
		t.Fatalf("nexus.subject = %v", nx["subject"])
	}
	in, err = input.Build(envoyRequest(), input.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if s := in["nexus"].(map[string]any)["subject"]; s != nil {
		t.Fatalf("nexus.subject without a key = %v", s)
	}
}
