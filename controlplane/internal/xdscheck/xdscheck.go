// Package xdscheck verifies generated Envoy resources the way Envoy would on
// receipt: every message satisfies its proto constraints (protoc-gen-validate
// ValidateAll), and every packed Any — typed_config, typed per-filter config,
// protocol options — names a type that is registered and belongs to Envoy's
// API, and itself validates. protoc-gen-validate does not look inside Any
// fields, so without the walk a broken filter config would pass.
package xdscheck

import (
	"errors"
	"fmt"
	"strings"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/known/anypb"
)

type validatorAll interface {
	ValidateAll() error
}

// allowedPackages are the proto packages a packed config may come from.
// google.protobuf is here for the wasm plugin's configuration, which Envoy
// takes as a StringValue.
var allowedPackages = []string{"envoy.", "xds.", "udpa.", "google.protobuf."}

// Validate checks m and everything packed inside it.
func Validate(m proto.Message) error {
	return validate(m, string(m.ProtoReflect().Descriptor().FullName()))
}

func validate(m proto.Message, path string) error {
	var errs []error
	if v, ok := m.(validatorAll); ok {
		if err := v.ValidateAll(); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", path, err))
		}
	}
	walk(m.ProtoReflect(), path, func(a *anypb.Any, p string) {
		if err := validateAny(a, p); err != nil {
			errs = append(errs, err)
		}
	})
	return errors.Join(errs...)
}

func validateAny(a *anypb.Any, path string) error {
	mt, err := protoregistry.GlobalTypes.FindMessageByURL(a.GetTypeUrl())
	if err != nil {
		return fmt.Errorf("%s: type %q is not a registered type: %w", path, a.GetTypeUrl(), err)
	}
	name := string(mt.Descriptor().FullName())
	ok := false
	for _, p := range allowedPackages {
		if strings.HasPrefix(name, p) {
			ok = true
		}
	}
	if !ok {
		return fmt.Errorf("%s: type %q is not part of Envoy's API", path, name)
	}
	inner := mt.New().Interface()
	if err := (proto.UnmarshalOptions{DiscardUnknown: false}).Unmarshal(a.GetValue(), inner); err != nil {
		return fmt.Errorf("%s: unpack %s: %w", path, name, err)
	}
	if len(inner.ProtoReflect().GetUnknown()) > 0 {
		return fmt.Errorf("%s: %s carries unknown fields", path, name)
	}
	return validate(inner, path+"("+name+")")
}

// walk calls fn for every Any directly reachable from m without crossing
// another Any (validateAny recurses into those).
func walk(m protoreflect.Message, path string, fn func(*anypb.Any, string)) {
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		p := path + "." + string(fd.Name())
		switch {
		case fd.IsMap():
			if fd.MapValue().Kind() != protoreflect.MessageKind {
				return true
			}
			v.Map().Range(func(k protoreflect.MapKey, mv protoreflect.Value) bool {
				visit(mv.Message(), fmt.Sprintf("%s[%s]", p, k.String()), fn)
				return true
			})
		case fd.IsList():
			if fd.Kind() != protoreflect.MessageKind {
				return true
			}
			l := v.List()
			for i := 0; i < l.Len(); i++ {
				visit(l.Get(i).Message(), fmt.Sprintf("%s[%d]", p, i), fn)
			}
		case fd.Kind() == protoreflect.MessageKind:
			visit(v.Message(), p, fn)
		}
		return true
	})
}

func visit(m protoreflect.Message, path string, fn func(*anypb.Any, string)) {
	if a, ok := m.Interface().(*anypb.Any); ok {
		fn(a, path)
		return
	}
	walk(m, path, fn)
}
