package input_test

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/secureai-nexus/nexus/authz/internal/input"
)

func TestParsePath(t *testing.T) {
	tests := []struct {
		path      string
		wantPath  []any
		wantQuery map[string]any
		wantErr   string
	}{
		{path: "/", wantPath: []any{""}, wantQuery: map[string]any{}},
		{path: "", wantPath: []any{""}, wantQuery: map[string]any{}},
		// Never a host: url.Parse would read "admin" as one.
		{path: "//admin/settings", wantPath: []any{"admin", "settings"}, wantQuery: map[string]any{}},
		{path: "///admin//x/", wantPath: []any{"admin", "", "x", ""}, wantQuery: map[string]any{}},
		{path: "/a%2Fb/c%20d", wantPath: []any{"a", "b", "c d"}, wantQuery: map[string]any{}},
		{path: "/a+b", wantPath: []any{"a+b"}, wantQuery: map[string]any{}},
		// Envoy sends no fragment; a "#" that arrives is data.
		{path: "/p#frag?x=1", wantPath: []any{"p#frag"}, wantQuery: map[string]any{"x": []any{"1"}}},
		{path: "/p?x=1#frag", wantPath: []any{"p"}, wantQuery: map[string]any{"x": []any{"1#frag"}}},
		{path: "/p?x=1&x=2&y=&z", wantPath: []any{"p"}, wantQuery: map[string]any{"x": []any{"1", "2"}, "y": []any{""}, "z": []any{""}}},
		{path: "/p?a+b=c%20d", wantPath: []any{"p"}, wantQuery: map[string]any{"a b": []any{"c d"}}},
		{path: "/p?q=a?b", wantPath: []any{"p"}, wantQuery: map[string]any{"q": []any{"a?b"}}},
		{path: "/café/ü", wantPath: []any{"café", "ü"}, wantQuery: map[string]any{}},
		{path: "/public/%zz", wantErr: `invalid URL escape "%zz"`},
		{path: "/public/%", wantErr: `invalid URL escape "%"`},
		{path: "/p?a=1;b=2", wantErr: "invalid semicolon separator in query"},
		{path: "/p?a=%zz", wantErr: `invalid URL escape "%zz"`},
	}
	for _, tt := range tests {
		gotPath, gotQuery, err := input.ParsePath(tt.path)
		if tt.wantErr != "" {
			if err == nil || err.Error() != tt.wantErr {
				t.Errorf("%q: err = %v, want %q", tt.path, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tt.path, err)
			continue
		}
		if !reflect.DeepEqual(gotPath, tt.wantPath) || !reflect.DeepEqual(gotQuery, tt.wantQuery) {
			t.Errorf("%q: path %#v query %#v, want %#v %#v", tt.path, gotPath, gotQuery, tt.wantPath, tt.wantQuery)
		}
	}
}

func bodyRequest(path string, headers map[string]string, body string, raw []byte) *authv3.CheckRequest {
	return &authv3.CheckRequest{Attributes: &authv3.AttributeContext{Request: &authv3.AttributeContext_Request{
		Http: &authv3.AttributeContext_HttpRequest{Method: "POST", Path: path, Headers: headers, Body: body, RawBody: raw},
	}}}
}

const multipartBody = "--XyZ\r\n" +
	"Content-Disposition: form-data; name=\"note\"\r\n\r\n" +
	"hello\r\n" +
	"--XyZ\r\n" +
	"Content-Disposition: form-data; name=\"meta\"\r\n" +
	"Content-Type: application/json\r\n\r\n" +
	"{\"n\":1}\r\n" +
	"--XyZ\r\n" +
	"Content-Disposition: form-data; name=\"note\"\r\n\r\n" +
	"again\r\n" +
	"--XyZ\r\n" +
	"Content-Disposition: attachment\r\n\r\n" +
	"unnamed parts are skipped\r\n" +
	"--XyZ--\r\n"

func TestBodies(t *testing.T) {
	const mp = "multipart/form-data; boundary=XyZ"
	const form = "application/x-www-form-urlencoded"
	tests := []struct {
		name          string
		headers       map[string]string
		body          string
		raw           []byte
		wantBody      any
		wantTruncated bool
		wantErr       string
	}{
		{name: "json", headers: map[string]string{"content-type": "application/json"}, body: `{"a":[1,2.5]}`, wantBody: map[string]any{"a": []any{1.0, 2.5}}},
		{name: "json raw body", headers: map[string]string{"content-type": "application/json"}, raw: []byte(`[true]`), wantBody: []any{true}},
		{name: "json empty", headers: map[string]string{"content-type": "application/json"}},
		{name: "json trailing value", headers: map[string]string{"content-type": "application/json"}, body: `{} {}`, wantErr: "error: invalid character '{' after top-level value"},
		{name: "json invalid", headers: map[string]string{"content-type": "application/json"}, body: `{"a":}`, wantErr: "invalid character '}' looking for beginning of value"},
		{name: "json cut by envoy", headers: map[string]string{"content-type": "application/json", "content-length": "100"}, body: `{"a":`, wantTruncated: true},
		{name: "json content-length -1", headers: map[string]string{"content-type": "application/json", "content-length": "-1"}, body: `{}`, wantBody: map[string]any{}},
		{name: "json content-length not a number", headers: map[string]string{"content-type": "application/json", "content-length": "ten"}, body: `{}`, wantErr: `strconv.ParseInt: parsing "ten": invalid syntax`},
		{name: "partial body header", headers: map[string]string{"content-type": "application/json", input.HeaderPartialBody: "true"}, body: `{"a":`, wantTruncated: true},
		{name: "no content type", headers: map[string]string{}, body: `{"a":1}`},
		{name: "text", headers: map[string]string{"content-type": "text/plain"}, body: `hello`},
		{name: "form", headers: map[string]string{"content-type": form}, body: "a=1&a=2&b=x+y&c=%41", wantBody: map[string]any{"a": []any{"1", "2"}, "b": []any{"x y"}, "c": []any{"A"}}},
		{name: "form semicolon", headers: map[string]string{"content-type": form}, body: "a=1;b=2", wantErr: "invalid semicolon separator in query"},
		{name: "form bad escape", headers: map[string]string{"content-type": form}, body: "a=%zz", wantErr: `invalid URL escape "%zz"`},
		{name: "form content-length not a number", headers: map[string]string{"content-type": form, "content-length": "x"}, body: "a=1", wantErr: `strconv.ParseInt: parsing "x": invalid syntax`},
		{name: "multipart", headers: map[string]string{"content-type": mp}, body: multipartBody, wantBody: map[string]any{"note": []any{"hello", "again"}, "meta": []any{map[string]any{"n": 1.0}}}},
		{name: "multipart no boundary", headers: map[string]string{"content-type": "multipart/form-data"}, body: multipartBody},
		{name: "multipart malformed", headers: map[string]string{"content-type": mp}, body: "--XyZ\r\nno headers end", wantErr: `malformed MIME header: missing colon: "no headers end"`},
		{name: "multipart bad json part", headers: map[string]string{"content-type": mp}, body: strings.Replace(multipartBody, `{"n":1}`, `{"n":`, 1), wantErr: "unexpected EOF"},
		{name: "multipart bad media type", headers: map[string]string{"content-type": "multipart/form-data; boundary"}, body: multipartBody, wantErr: "mime: invalid media parameter"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in, err := input.Build(bodyRequest("/submit", tt.headers, tt.body, tt.raw), input.Options{})
			if tt.wantErr != "" {
				var pe *input.ParseError
				if !errors.As(err, &pe) || err.Error() != tt.wantErr {
					t.Fatalf("err = %v, want ParseError %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := roundTrip(t, in["parsed_body"]); !reflect.DeepEqual(got, tt.wantBody) {
				t.Errorf("parsed_body = %#v, want %#v", got, tt.wantBody)
			}
			if in["truncated_body"] != tt.wantTruncated {
				t.Errorf("truncated_body = %v", in["truncated_body"])
			}
		})
	}
}

// kitchenSink is a descriptor set built in the test: service
// test.KitchenSink with a unary Exchange(Req) and a client-streaming
// Upload(Req).
func kitchenSink(t *testing.T) (*protoregistry.Files, protoreflect.MessageDescriptor) {
	t.Helper()
	s := proto.String
	fdp := &descriptorpb.FileDescriptorProto{
		Name: s("test.proto"), Package: s("test"), Syntax: s("proto3"),
		MessageType: []*descriptorpb.DescriptorProto{{
			Name: s("Req"),
			Field: []*descriptorpb.FieldDescriptorProto{
				{Name: s("name"), Number: proto.Int32(1), Type: descriptorpb.FieldDescriptorProto_TYPE_STRING.Enum(), Label: descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL.Enum(), JsonName: s("name")},
				{Name: s("big_id"), Number: proto.Int32(2), Type: descriptorpb.FieldDescriptorProto_TYPE_INT64.Enum(), Label: descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL.Enum(), JsonName: s("bigId")},
			},
		}},
		Service: []*descriptorpb.ServiceDescriptorProto{{
			Name: s("KitchenSink"),
			Method: []*descriptorpb.MethodDescriptorProto{
				{Name: s("Exchange"), InputType: s(".test.Req"), OutputType: s(".test.Req")},
				{Name: s("Upload"), InputType: s(".test.Req"), OutputType: s(".test.Req"), ClientStreaming: proto.Bool(true)},
			},
		}},
	}
	files, err := protodesc.NewFiles(&descriptorpb.FileDescriptorSet{File: []*descriptorpb.FileDescriptorProto{fdp}})
	if err != nil {
		t.Fatal(err)
	}
	d, err := files.FindDescriptorByName("test.Req")
	if err != nil {
		t.Fatal(err)
	}
	return files, d.(protoreflect.MessageDescriptor)
}

func frame(flag byte, msg []byte, declared int) []byte {
	out := make([]byte, 5, 5+len(msg))
	out[0] = flag
	binary.BigEndian.PutUint32(out[1:], uint32(declared))
	return append(out, msg...)
}

func TestGRPCBody(t *testing.T) {
	files, reqDesc := kitchenSink(t)
	msg := dynamicpb.NewMessage(reqDesc)
	msg.Set(reqDesc.Fields().ByName("name"), protoreflect.ValueOfString("alice"))
	msg.Set(reqDesc.Fields().ByName("big_id"), protoreflect.ValueOfInt64(101))
	wire, err := proto.Marshal(msg)
	if err != nil {
		t.Fatal(err)
	}
	grpc := map[string]string{"content-type": "application/grpc"}
	tests := []struct {
		name          string
		path          string
		raw           []byte
		files         *protoregistry.Files
		wantBody      any
		wantTruncated bool
		wantErr       string
	}{
		// protojson's form: a 64-bit integer is a string.
		{name: "unary", path: "/test.KitchenSink/Exchange", raw: frame(0, wire, len(wire)), files: files, wantBody: map[string]any{"name": "alice", "bigId": "101"}},
		{name: "no descriptor set", path: "/test.KitchenSink/Exchange", raw: frame(0, wire, len(wire))},
		{name: "truncated frame", path: "/test.KitchenSink/Exchange", raw: frame(0, wire, len(wire)+10), files: files, wantTruncated: true},
		{name: "compressed", path: "/test.KitchenSink/Exchange", raw: frame(1, wire, len(wire)), files: files},
		{name: "unknown service", path: "/test.Nope/Exchange", raw: frame(0, wire, len(wire)), files: files},
		{name: "unknown method", path: "/test.KitchenSink/Nope", raw: frame(0, wire, len(wire)), files: files},
		{name: "client streaming", path: "/test.KitchenSink/Upload", raw: frame(0, wire, len(wire)), files: files},
		{name: "short frame", path: "/test.KitchenSink/Exchange", raw: []byte{0, 0}, files: files, wantErr: "less than 5 bytes"},
		{name: "path not service/method", path: "/test.KitchenSink/Exchange/x", raw: frame(0, wire, len(wire)), files: files, wantErr: "invalid parsed path"},
		{name: "not the message", path: "/test.KitchenSink/Exchange", raw: frame(0, []byte{0xff, 0xff}, 2), files: files, wantErr: "cannot parse invalid wire-format data"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in, err := input.Build(bodyRequest(tt.path, grpc, "", tt.raw), input.Options{ProtoSet: tt.files})
			if tt.wantErr != "" {
				// protobuf words its errors with varying spaces.
				if err == nil || !strings.Contains(strings.ReplaceAll(err.Error(), "\u00a0", " "), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := roundTrip(t, in["parsed_body"]); !reflect.DeepEqual(got, tt.wantBody) {
				t.Errorf("parsed_body = %#v, want %#v", got, tt.wantBody)
			}
			if in["truncated_body"] != tt.wantTruncated {
				t.Errorf("truncated_body = %v", in["truncated_body"])
			}
		})
	}
}

// TestAttributesShape pins the whole attributes object for a full Envoy
// request, in opa-envoy-plugin's rendering (the compat suite holds the
// same against opa-envoy-plugin's own output).
func TestAttributesShape(t *testing.T) {
	req := envoyRequest()
	req.Attributes.Request.Http.RawBody = []byte{0, 1, 2, 250}
	req.Attributes.Request.Time = &timestamppb.Timestamp{Seconds: 1764000000}
	req.Attributes.Source.Labels = map[string]string{"app": "frontdesk"}
	req.Attributes.Destination.Address = &corev3.Address{Address: &corev3.Address_Pipe{Pipe: &corev3.Pipe{Path: "/run/x.sock", Mode: 0o600}}}
	in, err := input.Build(req, input.Options{})
	if err != nil {
		t.Fatal(err)
	}
	got := roundTrip(t, in["attributes"])
	var want any
	if err := json.Unmarshal([]byte(`{
	  "source": {"address": {"socketAddress": {"address": "10.0.0.7", "portValue": 41234}}, "principal": "spiffe://nexus.local/ns/clinic/sa/frontdesk", "labels": {"app": "frontdesk"}},
	  "destination": {"address": {"pipe": {"path": "/run/x.sock", "mode": 384}}, "principal": "spiffe://nexus.local/model/triage"},
	  "request": {
	    "time": {"seconds": 1764000000},
	    "http": {
	      "id": "8762138", "method": "POST", "path": "/v1/chat/completions?trace=1&tag=a&tag=b", "host": "triage.models.nexus.local",
	      "scheme": "https", "size": 62, "protocol": "HTTP/2", "rawBody": "AAEC+g==",
	      "body": "{\"model\":\"triage\",\"max_tokens\":100,\"messages\":[{\"role\":\"user\"}]}",
	      "headers": {":authority": "triage.models.nexus.local", ":method": "POST", ":path": "/v1/chat/completions?trace=1&tag=a&tag=b",
	        "content-type": "application/json", "content-length": "62", "x-nexus-purpose": "treatment", "x-nexus-model": "triage", "authorization": "Bearer abc"}
	    }
	  },
	  "contextExtensions": {"model": "triage", "policy": "nexus.models.triage"},
	  "metadataContext": {"filterMetadata": {
	    "envoy.filters.http.jwt_authn": {"claims": {"sub": "nurse-7", "roles": ["nurse"]}},
	    "piiguard": {"findings": {"EMAIL": 2, "MEDICAL_RECORD_NUMBER": 1, "bogus class": 3, "PHONE": "0412"}}
	  }}
	}`), &want); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		g, _ := json.MarshalIndent(got, "", " ")
		t.Fatalf("attributes:\n%s", g)
	}
}

// FuzzParsePath: never a panic; a path that parses has no segment with a
// "/" and never more segments than slashes plus one.
func FuzzParsePath(f *testing.F) {
	for _, s := range []string{"/", "//admin/x", "/a%2Fb?x=1&x=2", "/%zz", "/p?a;b", "/p#f?q", "?", "%"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		segs, q, err := input.ParsePath(p)
		if err != nil {
			if segs != nil || q != nil {
				t.Fatal("partial result with an error")
			}
			return
		}
		if len(segs) == 0 {
			t.Fatal("no segments")
		}
		if _, err := json.Marshal(q); err != nil {
			t.Fatal(err)
		}
	})
}

// FuzzParseBody: form and multipart bodies of any content never panic, and
// either parse to something encodable or are a ParseError.
func FuzzParseBody(f *testing.F) {
	f.Add("application/x-www-form-urlencoded", "a=1&b=%41", "")
	f.Add("multipart/form-data; boundary=XyZ", multipartBody, "")
	f.Add("multipart/form-data; boundary=XyZ", "--XyZ\r\n", "5")
	f.Add("application/json", `{"a":1}`, "x")
	f.Fuzz(func(t *testing.T, ctype, body, clen string) {
		h := map[string]string{"content-type": ctype}
		if clen != "" {
			h["content-length"] = clen
		}
		in, err := input.Build(bodyRequest("/", h, body, nil), input.Options{})
		if err != nil {
			var pe *input.ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("not a ParseError: %v", err)
			}
			return
		}
		if _, err := json.Marshal(in); err != nil {
			t.Fatalf("input does not encode: %v", err)
		}
	})
}
