package input

import (
	"encoding/base64"
	"encoding/json"
	"math"
	"strconv"

	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/structpb"
)

// toMap renders a message the way opa-envoy-plugin does, so a policy sees
// the same values: it walks the message with protoreflect (not protojson),
// so fields are keyed by their JSON names and only populated fields
// appear, but well-known types are plain messages — a Timestamp is
// {"seconds": …, "nanos": …}, a Duration likewise, an Any is {"typeUrl",
// "value"} — except Struct, which is its JSON object. Integers of every
// width are numbers (not protojson's strings for 64 bits), enums are their
// numbers and bytes are base64, as OPA's conversion of those Go values
// gives them.
func toMap(m protoreflect.Message) map[string]any {
	if s, ok := m.Interface().(*structpb.Struct); ok {
		return structObject(s)
	}
	out := make(map[string]any, m.Descriptor().Fields().Len())
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		switch {
		case fd.IsMap():
			mv := v.Map()
			obj := make(map[string]any, mv.Len())
			vd := fd.MapValue()
			mv.Range(func(k protoreflect.MapKey, x protoreflect.Value) bool {
				obj[k.String()] = fieldValue(vd, x)
				return true
			})
			out[fd.JSONName()] = obj
		case fd.IsList():
			l := v.List()
			arr := make([]any, l.Len())
			for i := range l.Len() {
				arr[i] = fieldValue(fd, l.Get(i))
			}
			out[fd.JSONName()] = arr
		default:
			out[fd.JSONName()] = fieldValue(fd, v)
		}
		return true
	})
	return out
}

func fieldValue(fd protoreflect.FieldDescriptor, v protoreflect.Value) any {
	switch fd.Kind() {
	case protoreflect.BoolKind:
		return v.Bool()
	case protoreflect.StringKind:
		return v.String()
	case protoreflect.BytesKind:
		return base64.StdEncoding.EncodeToString(v.Bytes())
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind,
		protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		return json.Number(strconv.FormatInt(v.Int(), 10))
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind, protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return json.Number(strconv.FormatUint(v.Uint(), 10))
	case protoreflect.EnumKind:
		return json.Number(strconv.FormatInt(int64(v.Enum()), 10))
	case protoreflect.FloatKind:
		return float32Number(float32(v.Float()))
	case protoreflect.DoubleKind:
		return float64Number(v.Float())
	case protoreflect.MessageKind, protoreflect.GroupKind:
		return toMap(v.Message())
	}
	return nil
}

// float64Number is how OPA writes a Go float64 as a Rego number.
// NaN and infinities, which no JSON number can hold, are kept as strings.
func float64Number(f float64) any {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return strconv.FormatFloat(f, 'g', -1, 64)
	}
	return json.Number(strconv.FormatFloat(f, 'g', -1, 64))
}

// float32Number is how a float32 reaches OPA: through encoding/json,
// which writes the shortest 32-bit form, in exponent notation only for
// very small or very large magnitudes. NaN and infinities have no JSON
// form; they are kept as strings rather than refusing the request.
func float32Number(f float32) any {
	x := float64(f)
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return strconv.FormatFloat(x, 'g', -1, 32)
	}
	b, _ := json.Marshal(f)
	return json.Number(b)
}

// structObject is Struct.AsMap with numbers as OPA writes float64s.
func structObject(s *structpb.Struct) map[string]any {
	obj := make(map[string]any, len(s.GetFields()))
	for k, v := range s.GetFields() {
		obj[k] = structValue(v)
	}
	return obj
}

func structValue(v *structpb.Value) any {
	switch k := v.GetKind().(type) {
	case *structpb.Value_StringValue:
		return k.StringValue
	case *structpb.Value_NumberValue:
		return float64Number(k.NumberValue)
	case *structpb.Value_BoolValue:
		return k.BoolValue
	case *structpb.Value_StructValue:
		return structObject(k.StructValue)
	case *structpb.Value_ListValue:
		arr := make([]any, len(k.ListValue.GetValues()))
		for i, x := range k.ListValue.GetValues() {
			arr[i] = structValue(x)
		}
		return arr
	}
	return nil
}
