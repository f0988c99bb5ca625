package input

import (
	"encoding/base64"
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// toMap renders a message as the Go value encoding/json would decode from
// its protojson form (with UseNumber), without the text round trip: field
// JSON names, unpopulated fields omitted, 64-bit integers as strings, enums
// by name, bytes as base64, Timestamp as RFC 3339, Struct as an object. A
// differential test holds it to protojson's output. Well-known types it
// does not special-case go through protojson itself.
func toMap(m protoreflect.Message) (map[string]any, error) {
	out := make(map[string]any, m.Descriptor().Fields().Len())
	var err error
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		var val any
		switch {
		case fd.IsMap():
			mv := v.Map()
			obj := make(map[string]any, mv.Len())
			mv.Range(func(k protoreflect.MapKey, x protoreflect.Value) bool {
				var e any
				e, err = fieldValue(fd.MapValue(), x)
				obj[k.String()] = e
				return err == nil
			})
			val = obj
		case fd.IsList():
			l := v.List()
			arr := make([]any, l.Len())
			for i := 0; i < l.Len() && err == nil; i++ {
				arr[i], err = fieldValue(fd, l.Get(i))
			}
			val = arr
		default:
			val, err = fieldValue(fd, v)
		}
		out[fd.JSONName()] = val
		return err == nil
	})
	return out, err
}

func fieldValue(fd protoreflect.FieldDescriptor, v protoreflect.Value) (any, error) {
	switch fd.Kind() {
	case protoreflect.BoolKind:
		return v.Bool(), nil
	case protoreflect.StringKind:
		return v.String(), nil
	case protoreflect.BytesKind:
		return base64.StdEncoding.EncodeToString(v.Bytes()), nil
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		return json.Number(strconv.FormatInt(v.Int(), 10)), nil
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		return json.Number(strconv.FormatUint(v.Uint(), 10)), nil
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		return strconv.FormatInt(v.Int(), 10), nil
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return strconv.FormatUint(v.Uint(), 10), nil
	case protoreflect.FloatKind, protoreflect.DoubleKind:
		return float(v.Float(), fd.Kind() == protoreflect.FloatKind), nil
	case protoreflect.EnumKind:
		if ev := fd.Enum().Values().ByNumber(v.Enum()); ev != nil {
			return string(ev.Name()), nil
		}
		return json.Number(strconv.FormatInt(int64(v.Enum()), 10)), nil
	case protoreflect.MessageKind, protoreflect.GroupKind:
		return message(v.Message())
	}
	return nil, nil
}

func float(f float64, is32 bool) any {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	}
	bits := 64
	if is32 {
		bits = 32
	}
	return json.Number(strconv.FormatFloat(f, 'g', -1, bits))
}

func message(m protoreflect.Message) (any, error) {
	switch x := m.Interface().(type) {
	case *structpb.Struct:
		return structValue(structpb.NewStructValue(x)), nil
	case *structpb.Value:
		return structValue(x), nil
	case *structpb.ListValue:
		return structValue(structpb.NewListValue(x)), nil
	case *timestamppb.Timestamp:
		return timestamp(x)
	}
	if strings.HasPrefix(string(m.Descriptor().FullName()), "google.protobuf.") {
		return viaProtojson(m.Interface())
	}
	return toMap(m)
}

func structValue(v *structpb.Value) any {
	switch k := v.GetKind().(type) {
	case *structpb.Value_StringValue:
		return k.StringValue
	case *structpb.Value_NumberValue:
		return float(k.NumberValue, false)
	case *structpb.Value_BoolValue:
		return k.BoolValue
	case *structpb.Value_StructValue:
		obj := make(map[string]any, len(k.StructValue.GetFields()))
		for key, x := range k.StructValue.GetFields() {
			obj[key] = structValue(x)
		}
		return obj
	case *structpb.Value_ListValue:
		arr := make([]any, len(k.ListValue.GetValues()))
		for i, x := range k.ListValue.GetValues() {
			arr[i] = structValue(x)
		}
		return arr
	}
	return nil
}

// timestamp formats as protojson does: UTC, with 0, 3, 6 or 9 fractional
// digits.
func timestamp(ts *timestamppb.Timestamp) (any, error) {
	if err := ts.CheckValid(); err != nil {
		return viaProtojson(ts)
	}
	t := time.Unix(ts.GetSeconds(), int64(ts.GetNanos())).UTC()
	s := t.Format("2006-01-02T15:04:05.000000000")
	s = strings.TrimSuffix(s, "000")
	s = strings.TrimSuffix(s, "000")
	s = strings.TrimSuffix(s, ".000")
	return s + "Z", nil
}

func viaProtojson(m proto.Message) (any, error) {
	b, err := protojson.Marshal(m)
	if err != nil {
		return nil, err
	}
	var v any
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	return v, nil
}
