// Package protoset builds, by hand, the FileDescriptorSet of the .proto
// files in internal/compat/testdata/proto: the gRPC services the
// differential suite's application/grpc body fixtures call. There is no
// protoc here, so each file's descriptor is written out with descriptorpb;
// the well-known types they import come from the Go protobuf runtime.
package protoset

import (
	"fmt"
	"strconv"
	"strings"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// Own returns the names of the files this package writes (the rest of the
// set is their well-known imports).
func Own() []string {
	return []string{"nexus/compat/v1/compat.proto", "com/book/book.proto", "example/example.proto", "test/kitchensink.proto"}
}

// Set returns the descriptor set: the well-known files first, then
// compat.proto, book.proto, example.proto and kitchensink.proto, each
// after its imports (as protoc --include_imports writes them).
func Set() *descriptorpb.FileDescriptorSet {
	set := &descriptorpb.FileDescriptorSet{}
	for _, fd := range []protoreflect.FileDescriptor{
		anypb.File_google_protobuf_any_proto,
		durationpb.File_google_protobuf_duration_proto,
		emptypb.File_google_protobuf_empty_proto,
		structpb.File_google_protobuf_struct_proto,
		timestamppb.File_google_protobuf_timestamp_proto,
		wrapperspb.File_google_protobuf_wrappers_proto,
	} {
		set.File = append(set.File, protodesc.ToFileDescriptorProto(fd))
	}
	set.File = append(set.File, compatFile(), bookFile(), exampleFile(), kitchenSinkFile())
	return set
}

// Marshal returns Set encoded deterministically, as compat.pb holds it.
func Marshal() ([]byte, error) {
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(Set())
	if err != nil {
		return nil, fmt.Errorf("marshal descriptor set: %w", err)
	}
	return b, nil
}

// Files resolves Set into a registry, as opa-envoy-plugin's
// proto-descriptor option does with a .pb file.
func Files() (*protoregistry.Files, error) {
	files, err := protodesc.NewFiles(Set())
	if err != nil {
		return nil, fmt.Errorf("resolve descriptor set: %w", err)
	}
	return files, nil
}

const (
	wktAny       = ".google.protobuf.Any"
	wktDuration  = ".google.protobuf.Duration"
	wktEmpty     = ".google.protobuf.Empty"
	wktStruct    = ".google.protobuf.Struct"
	wktValue     = ".google.protobuf.Value"
	wktListValue = ".google.protobuf.ListValue"
	wktTimestamp = ".google.protobuf.Timestamp"
)

func wrapper(name string) string { return ".google.protobuf." + name }

type (
	fieldType = descriptorpb.FieldDescriptorProto_Type
	label     = descriptorpb.FieldDescriptorProto_Label
)

const (
	tString  = descriptorpb.FieldDescriptorProto_TYPE_STRING
	tBytes   = descriptorpb.FieldDescriptorProto_TYPE_BYTES
	tBool    = descriptorpb.FieldDescriptorProto_TYPE_BOOL
	tInt32   = descriptorpb.FieldDescriptorProto_TYPE_INT32
	tInt64   = descriptorpb.FieldDescriptorProto_TYPE_INT64
	tUint64  = descriptorpb.FieldDescriptorProto_TYPE_UINT64
	tSint64  = descriptorpb.FieldDescriptorProto_TYPE_SINT64
	tFixed64 = descriptorpb.FieldDescriptorProto_TYPE_FIXED64
	tDouble  = descriptorpb.FieldDescriptorProto_TYPE_DOUBLE
	tFloat   = descriptorpb.FieldDescriptorProto_TYPE_FLOAT
	tMessage = descriptorpb.FieldDescriptorProto_TYPE_MESSAGE
	tEnum    = descriptorpb.FieldDescriptorProto_TYPE_ENUM

	optional = descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL
	repeated = descriptorpb.FieldDescriptorProto_LABEL_REPEATED
)

// jsonName is protoc's json_name: underscores dropped, the letter after
// each one upper-cased, everything else as written.
func jsonName(name string) string {
	var b strings.Builder
	up := false
	for _, r := range name {
		switch {
		case r == '_':
			up = true
		case up && r >= 'a' && r <= 'z':
			b.WriteRune(r - 'a' + 'A')
			up = false
		default:
			b.WriteRune(r)
			up = false
		}
	}
	return b.String()
}

func field(name string, num int32, l label, t fieldType, typeName string) *descriptorpb.FieldDescriptorProto {
	f := &descriptorpb.FieldDescriptorProto{
		Name:     proto.String(name),
		Number:   proto.Int32(num),
		Label:    l.Enum(),
		Type:     t.Enum(),
		JsonName: proto.String(jsonName(name)),
	}
	if typeName != "" {
		f.TypeName = proto.String(typeName)
	}
	return f
}

func scalar(name string, num int32, t fieldType) *descriptorpb.FieldDescriptorProto {
	return field(name, num, optional, t, "")
}

func msg(name string, num int32, typeName string) *descriptorpb.FieldDescriptorProto {
	return field(name, num, optional, tMessage, typeName)
}

func inOneof(f *descriptorpb.FieldDescriptorProto, index int32) *descriptorpb.FieldDescriptorProto {
	f.OneofIndex = proto.Int32(index)
	return f
}

func message(name string, fields ...*descriptorpb.FieldDescriptorProto) *descriptorpb.DescriptorProto {
	return &descriptorpb.DescriptorProto{Name: proto.String(name), Field: fields}
}

// mapEntry is the nested message protoc writes for map<K, V> field name.
func mapEntry(field string, key *descriptorpb.FieldDescriptorProto, value *descriptorpb.FieldDescriptorProto) *descriptorpb.DescriptorProto {
	m := message(jsonNameUpper(field)+"Entry", key, value)
	m.Options = &descriptorpb.MessageOptions{MapEntry: proto.Bool(true)}
	return m
}

// jsonNameUpper is the map entry message name protoc derives: the field
// name in CamelCase.
func jsonNameUpper(name string) string {
	j := jsonName(name)
	return strings.ToUpper(j[:1]) + j[1:]
}

func enum(name string, values ...string) *descriptorpb.EnumDescriptorProto {
	e := &descriptorpb.EnumDescriptorProto{Name: proto.String(name)}
	for _, v := range values {
		n, num, _ := strings.Cut(v, "=")
		i, err := strconv.ParseInt(num, 10, 32)
		if err != nil {
			panic(fmt.Sprintf("enum %s value %q: %v", name, v, err))
		}
		e.Value = append(e.Value, &descriptorpb.EnumValueDescriptorProto{Name: proto.String(n), Number: proto.Int32(int32(i))})
	}
	return e
}

func method(name, in, out string, clientStreaming, serverStreaming bool) *descriptorpb.MethodDescriptorProto {
	m := &descriptorpb.MethodDescriptorProto{Name: proto.String(name), InputType: proto.String(in), OutputType: proto.String(out)}
	if clientStreaming {
		m.ClientStreaming = proto.Bool(true)
	}
	if serverStreaming {
		m.ServerStreaming = proto.Bool(true)
	}
	return m
}

func file(name, pkg string, deps []string) *descriptorpb.FileDescriptorProto {
	return &descriptorpb.FileDescriptorProto{
		Name:       proto.String(name),
		Package:    proto.String(pkg),
		Dependency: deps,
		Syntax:     proto.String("proto3"),
	}
}

func compatFile() *descriptorpb.FileDescriptorProto {
	const p = ".nexus.compat.v1."
	f := file("nexus/compat/v1/compat.proto", "nexus.compat.v1", []string{
		"google/protobuf/any.proto", "google/protobuf/duration.proto", "google/protobuf/empty.proto",
		"google/protobuf/struct.proto", "google/protobuf/timestamp.proto", "google/protobuf/wrappers.proto",
	})
	f.EnumType = []*descriptorpb.EnumDescriptorProto{enum("Priority", "PRIORITY_UNSPECIFIED=0", "PRIORITY_LOW=1", "PRIORITY_HIGH=2")}
	req := message("PredictRequest",
		scalar("model", 1, tString),
		field("messages", 2, repeated, tMessage, p+"ChatMessage"),
		scalar("max_tokens", 3, tInt32),
		scalar("budget", 4, tInt64),
		scalar("request_number", 5, tUint64),
		scalar("temperature", 6, tDouble),
		scalar("top_p", 7, tFloat),
		scalar("stream", 8, tBool),
		scalar("payload", 9, tBytes),
		field("priority", 10, optional, tEnum, p+"Priority"),
		field("labels", 11, repeated, tMessage, p+"PredictRequest.LabelsEntry"),
		field("by_index", 12, repeated, tMessage, p+"PredictRequest.ByIndexEntry"),
		msg("deadline", 13, wktTimestamp),
		msg("timeout", 14, wktDuration),
		msg("options", 15, wktStruct),
		msg("user", 16, wrapper("StringValue")),
		msg("extra", 17, wktAny),
		inOneof(scalar("deployment", 18, tString), 0),
		inOneof(scalar("shard", 19, tInt32), 0),
		scalar("offset", 21, tSint64),
		scalar("checksum", 22, tFixed64),
		field("fallbacks", 23, repeated, tEnum, p+"Priority"),
	)
	req.NestedType = []*descriptorpb.DescriptorProto{
		mapEntry("labels", scalar("key", 1, tString), scalar("value", 2, tString)),
		mapEntry("by_index", scalar("key", 1, tInt32), msg("value", 2, p+"ChatMessage")),
	}
	req.OneofDecl = []*descriptorpb.OneofDescriptorProto{{Name: proto.String("target")}}
	f.MessageType = []*descriptorpb.DescriptorProto{
		message("ChatMessage",
			scalar("role", 1, tString),
			scalar("content", 2, tString),
			field("replies", 3, repeated, tMessage, p+"ChatMessage"),
		),
		req,
		message("PredictResponse", scalar("text", 1, tString)),
	}
	f.Service = []*descriptorpb.ServiceDescriptorProto{{
		Name: proto.String("Inference"),
		Method: []*descriptorpb.MethodDescriptorProto{
			method("Predict", p+"PredictRequest", p+"PredictResponse", false, false),
			method("StreamPredict", p+"PredictRequest", p+"PredictResponse", true, false),
			method("Watch", p+"PredictRequest", p+"PredictResponse", false, true),
			method("Ping", wktEmpty, wktEmpty, false, false),
		},
	}}
	return f
}

func bookFile() *descriptorpb.FileDescriptorProto {
	const p = ".com.book."
	f := file("com/book/book.proto", "com.book", nil)
	f.MessageType = []*descriptorpb.DescriptorProto{
		message("Book", scalar("isbn", 1, tInt64), scalar("title", 2, tString), scalar("author", 3, tString)),
		message("GetBookRequest", scalar("isbn", 1, tInt64)),
		message("GetBookViaAuthor", scalar("author", 1, tString)),
	}
	f.Service = []*descriptorpb.ServiceDescriptorProto{{
		Name: proto.String("BookService"),
		Method: []*descriptorpb.MethodDescriptorProto{
			method("GetBook", p+"GetBookRequest", p+"Book", false, false),
			method("GetBooksViaAuthor", p+"GetBookViaAuthor", p+"Book", false, true),
			method("GetGreatestBook", p+"GetBookRequest", p+"Book", true, false),
		},
	}}
	return f
}

func exampleFile() *descriptorpb.FileDescriptorProto {
	const p = ".Example.Test.GRPC."
	f := file("example/example.proto", "Example.Test.GRPC", []string{"google/protobuf/empty.proto", "google/protobuf/wrappers.proto"})
	f.MessageType = []*descriptorpb.DescriptorProto{
		message("InputRegisterDTOExample", msg("Metadata", 1, p+"InputMetadataExample"), msg("Data", 2, p+"InputRegisterExample")),
		message("InputMetadataExample", msg("SeverityText", 1, wrapper("StringValue")), msg("SeverityNumber", 2, wrapper("StringValue"))),
		message("InputRegisterExample", msg("Body", 1, wrapper("StringValue")), msg("Name", 2, wrapper("StringValue"))),
	}
	f.Service = []*descriptorpb.ServiceDescriptorProto{{
		Name:   proto.String("ProtoServiceIExampleApplication"),
		Method: []*descriptorpb.MethodDescriptorProto{method("RegisterExample", p+"InputRegisterDTOExample", wktEmpty, false, false)},
	}}
	return f
}

func kitchenSinkFile() *descriptorpb.FileDescriptorProto {
	const p = ".test."
	f := file("test/kitchensink.proto", "test", []string{
		"google/protobuf/any.proto", "google/protobuf/duration.proto", "google/protobuf/empty.proto",
		"google/protobuf/struct.proto", "google/protobuf/timestamp.proto", "google/protobuf/wrappers.proto",
	})
	f.EnumType = []*descriptorpb.EnumDescriptorProto{enum("State", "INVALID=0", "PENDING=2", "RUNNING=3", "AWAITING_INPUT=5")}
	person := message("Person",
		scalar("id", 1, tUint64),
		scalar("name", 2, tString),
		inOneof(msg("parent", 9, p+"Person"), 0),
		inOneof(msg("sibling", 10, p+"Person"), 0),
	)
	person.OneofDecl = []*descriptorpb.OneofDescriptorProto{{Name: proto.String("relative")}}
	f.MessageType = []*descriptorpb.DescriptorProto{
		person,
		message("WellKnowns",
			msg("now", 1, wktTimestamp),
			msg("period", 4, wktDuration),
			msg("neat", 7, wktAny),
			msg("object", 10, wktStruct),
			msg("value", 13, wktValue),
			msg("list", 16, wktListValue),
			msg("bytes", 19, wrapper("BytesValue")),
			msg("string", 22, wrapper("StringValue")),
			msg("bool", 25, wrapper("BoolValue")),
			msg("double", 28, wrapper("DoubleValue")),
			msg("float", 31, wrapper("FloatValue")),
			msg("small_int", 34, wrapper("Int32Value")),
			msg("big_int", 37, wrapper("Int64Value")),
			msg("small_id", 40, wrapper("UInt32Value")),
			msg("big_id", 43, wrapper("UInt64Value")),
		),
		message("TestMessage",
			msg("person", 4, p+"Person"),
			field("state", 5, optional, tEnum, p+"State"),
			scalar("needed_num_a", 9, tFloat),
			scalar("needed_num_b", 12, tDouble),
			scalar("opaque_id", 15, tBytes),
			msg("wk", 16, p+"WellKnowns"),
		),
	}
	f.Service = []*descriptorpb.ServiceDescriptorProto{{
		Name: proto.String("KitchenSink"),
		Method: []*descriptorpb.MethodDescriptorProto{
			method("Ping", wktEmpty, wktEmpty, false, false),
			method("Exchange", p+"TestMessage", p+"TestMessage", false, false),
			method("UploadMany", p+"TestMessage", p+"TestMessage", true, false),
		},
	}}
	return f
}
