package input

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/url"
	"os"
	"strconv"
	"strings"

	"github.com/open-policy-agent/opa/v1/util"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"
)

// HeaderPartialBody is what Envoy sets to "true" when it cut the body it
// sends to ext_authz at with_request_body's max_request_bytes. It is the
// only sign of a cut that works without a content-length (HTTP/2,
// chunked).
const HeaderPartialBody = "x-envoy-auth-partial-body"

// errGRPCPath is a gRPC body on a path that is not /Service/Method.
var errGRPCPath = errors.New("invalid parsed path")

// parseBody parses the body by its content type as opa-envoy-plugin does:
// JSON, application/x-www-form-urlencoded and multipart/form-data always;
// application/grpc when a descriptor set is configured. Any other type,
// or no content type, leaves parsed_body null. A body shorter than its
// content-length, or one Envoy marked partial, is truncated and never
// parsed.
func parseBody(headers map[string]string, body string, rawBody []byte, path []any, opts Options) (any, bool, error) {
	if headers[HeaderPartialBody] == "true" {
		return nil, true, nil
	}
	ct, ok := headers["content-type"]
	if !ok {
		return nil, false, nil
	}
	payload := body
	if payload == "" {
		payload = string(rawBody)
	}
	switch {
	case strings.Contains(ct, "application/json"):
		if payload == "" {
			return nil, false, nil
		}
		if truncated, err := shorterThanDeclared(headers, payload); err != nil || truncated {
			return nil, truncated, err
		}
		return parseJSON(payload, opts)
	case strings.Contains(ct, "application/grpc"):
		// Envoy sends a gRPC body only as raw_body (pack_as_bytes).
		if opts.ProtoSet == nil || len(rawBody) == 0 {
			return nil, false, nil
		}
		if len(path) != 2 {
			return nil, false, errGRPCPath
		}
		return parseGRPC(rawBody, path[0].(string), path[1].(string), opts.ProtoSet)
	case strings.Contains(ct, "application/x-www-form-urlencoded"):
		if payload == "" {
			return nil, false, nil
		}
		if truncated, err := shorterThanDeclared(headers, payload); err != nil || truncated {
			return nil, truncated, err
		}
		values, err := url.ParseQuery(payload)
		if err != nil {
			return nil, false, err
		}
		return valueLists(values), false, nil
	case strings.Contains(ct, "multipart/form-data"):
		if payload == "" {
			return nil, false, nil
		}
		if truncated, err := shorterThanDeclared(headers, payload); err != nil || truncated {
			return nil, truncated, err
		}
		return parseMultipart(ct, payload)
	}
	return nil, false, nil
}

// shorterThanDeclared says whether Envoy cut the body: its content-length
// is more than was sent. A content-length that is not a number is an
// error, as in opa-envoy-plugin.
func shorterThanDeclared(headers map[string]string, payload string) (bool, error) {
	cl, ok := headers["content-length"]
	if !ok {
		return false, nil
	}
	n, err := strconv.ParseInt(cl, 10, 64)
	if err != nil {
		return false, err
	}
	return n != -1 && n > int64(len(payload)), nil
}

// parseJSON decodes a JSON body with OPA's decoder (numbers kept exact),
// so an invalid body is refused with the message opa-envoy-plugin gives.
func parseJSON(body string, opts Options) (any, bool, error) {
	if opts.LimitBody {
		members, isObject, err := bodyMembers(body, opts.BodyMembers)
		switch {
		case err == nil && isObject:
			return members, false, nil
		case err == nil:
			// Not an object: decoded whole below.
		default:
			// The fast validator found a fault; OPA's decoder words it.
			var v any
			if jerr := util.UnmarshalJSON([]byte(body), &v); jerr != nil {
				return nil, false, jerr
			}
			return nil, false, fmt.Errorf("%w: %v", ErrBody, err)
		}
	}
	var v any
	if err := util.UnmarshalJSON([]byte(body), &v); err != nil {
		return nil, false, err
	}
	return v, false, nil
}

// parseMultipart reads every named part: a part whose content type is
// JSON is decoded, any other is its text. Values are lists, as a form
// field may repeat.
func parseMultipart(contentType, payload string) (any, bool, error) {
	_, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		return nil, false, err
	}
	boundary, ok := params["boundary"]
	if !ok {
		return nil, false, nil
	}
	values := map[string]any{}
	mr := multipart.NewReader(strings.NewReader(payload), boundary)
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, false, err
		}
		name := p.FormName()
		if name == "" {
			continue
		}
		raw, err := io.ReadAll(p)
		if err != nil {
			return nil, false, err
		}
		var v any = string(raw)
		if strings.Contains(p.Header.Get("Content-Type"), "application/json") {
			if err := util.UnmarshalJSON(raw, &v); err != nil {
				return nil, false, err
			}
		}
		list, _ := values[name].([]any)
		values[name] = append(list, v)
	}
	return values, false, nil
}

// parseGRPC decodes the first message of a gRPC request body (5-byte
// frame header, then the message) as the input type of /service/method.
// A compressed message, an unknown service or method, or a streaming
// client method leaves parsed_body null; a frame longer than what was
// sent is truncated.
func parseGRPC(raw []byte, service, method string, files *protoregistry.Files) (any, bool, error) {
	if len(raw) < 5 {
		return nil, false, errors.New("less than 5 bytes")
	}
	if raw[0] != 0 {
		return nil, false, nil
	}
	size := binary.BigEndian.Uint32(raw[1:5])
	if uint64(size) > uint64(len(raw)-5) {
		return nil, true, nil
	}
	desc, err := files.FindDescriptorByName(protoreflect.FullName(service))
	if err != nil {
		return nil, false, nil
	}
	svc, ok := desc.(protoreflect.ServiceDescriptor)
	if !ok {
		return nil, false, nil
	}
	m := svc.Methods().ByName(protoreflect.Name(method))
	if m == nil || m.IsStreamingClient() {
		return nil, false, nil
	}
	msg := dynamicpb.NewMessage(m.Input())
	if err := proto.Unmarshal(raw[5:5+size], msg); err != nil {
		return nil, false, err
	}
	js, err := protojson.Marshal(msg)
	if err != nil {
		return nil, false, err
	}
	var v any
	if err := util.UnmarshalJSON(js, &v); err != nil {
		return nil, false, err
	}
	return v, false, nil
}

// LoadProtoSet reads a FileDescriptorSet (protoc --descriptor_set_out,
// with --include_imports) for decoding gRPC bodies.
func LoadProtoSet(path string) (*protoregistry.Files, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("proto descriptor set: %w", err)
	}
	var set descriptorpb.FileDescriptorSet
	if err := proto.Unmarshal(raw, &set); err != nil {
		return nil, fmt.Errorf("proto descriptor set %s: not a FileDescriptorSet: %w", path, err)
	}
	files, err := protodesc.NewFiles(&set)
	if err != nil {
		return nil, fmt.Errorf("proto descriptor set %s: %w", path, err)
	}
	return files, nil
}
