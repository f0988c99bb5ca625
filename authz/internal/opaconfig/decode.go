package opaconfig

import (
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// decoder fills Go values from a val tree by their json tags, the way
// encoding/json would, but reports every unknown key and wrong type with
// its full path and position instead of stopping at the first.
type decoder struct {
	problems []Problem
	warnings []string
}

func (d *decoder) fail(v *val, path, format string, args ...any) {
	p := Problem{Path: path, Msg: fmt.Sprintf(format, args...)}
	if v != nil {
		p.Line, p.Column, p.Origin = v.line, v.column, v.origin
	}
	d.problems = append(d.problems, p)
}

// unsupporter is implemented by decode targets that know OPA options
// nexus-authz refuses, so that such keys get a reason instead of "unknown".
type unsupporter interface {
	unsupported() map[string]string
}

// joinPath appends key to path, quoting keys that would make the dotted
// path ambiguous.
func joinPath(path, key string) string {
	if key == "" || strings.ContainsAny(key, ".[]\" ") || !utf8.ValidString(key) {
		return path + "[" + strconv.Quote(key) + "]"
	}
	if path == "" {
		return key
	}
	return path + "." + key
}

func indexPath(path string, i int) string { return path + "[" + strconv.Itoa(i) + "]" }

// field is one decodable field of a struct type.
type field struct {
	name  string
	index int
}

func fieldsOf(t reflect.Type) []field {
	var fs []field
	for i := range t.NumField() {
		sf := t.Field(i)
		if !sf.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(sf.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = sf.Name
		}
		fs = append(fs, field{name: name, index: i})
	}
	return fs
}

// decode fills rv (settable) from v.
func (d *decoder) decode(v *val, rv reflect.Value, path string) {
	if rv.Kind() == reflect.Pointer {
		if v.kind == kindNull {
			return
		}
		if rv.IsNil() {
			rv.Set(reflect.New(rv.Type().Elem()))
		}
		d.decode(v, rv.Elem(), path)
		return
	}
	if rv.Kind() == reflect.Interface && rv.NumMethod() == 0 {
		if g := v.generic(); g != nil {
			rv.Set(reflect.ValueOf(g))
		}
		return
	}
	if v.kind == kindNull {
		// As in encoding/json, null leaves the value as it was.
		return
	}
	switch rv.Kind() {
	case reflect.Struct:
		d.decodeStruct(v, rv, path)
	case reflect.Map:
		if v.kind != kindMap {
			d.fail(v, path, "must be a mapping, not %s", v.describe())
			return
		}
		if rv.Type().Key().Kind() != reflect.String {
			d.fail(v, path, "internal: map key type %s", rv.Type().Key())
			return
		}
		if rv.IsNil() {
			rv.Set(reflect.MakeMapWithSize(rv.Type(), len(v.keys)))
		}
		for i, k := range v.keys {
			e := reflect.New(rv.Type().Elem()).Elem()
			d.decode(v.vals[i], e, joinPath(path, k))
			rv.SetMapIndex(reflect.ValueOf(k).Convert(rv.Type().Key()), e)
		}
	case reflect.Slice:
		if v.kind != kindList {
			d.fail(v, path, "must be a list, not %s", v.describe())
			return
		}
		s := reflect.MakeSlice(rv.Type(), len(v.items), len(v.items))
		for i, it := range v.items {
			d.decode(it, s.Index(i), indexPath(path, i))
		}
		rv.Set(s)
	case reflect.String:
		s, ok := v.scalar.(string)
		if !ok {
			d.fail(v, path, "must be a string, not %s (quote it)", v.describe())
			return
		}
		rv.SetString(s)
	case reflect.Bool:
		b, ok := v.scalar.(bool)
		if !ok {
			d.fail(v, path, "must be true or false, not %s", v.describe())
			return
		}
		rv.SetBool(b)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		switch n := v.scalar.(type) {
		case int64:
			if rv.OverflowInt(n) {
				d.fail(v, path, "is out of range (at most %d)", int64(math.MaxInt64)>>(64-rv.Type().Bits()))
				return
			}
			rv.SetInt(n)
		case uint64:
			d.fail(v, path, "is out of range")
		default:
			d.fail(v, path, "must be an integer, not %s", v.describe())
		}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		var n uint64
		switch x := v.scalar.(type) {
		case int64:
			if x < 0 {
				d.fail(v, path, "must not be negative")
				return
			}
			n = uint64(x)
		case uint64:
			n = x
		default:
			d.fail(v, path, "must be an integer, not %s", v.describe())
			return
		}
		if rv.OverflowUint(n) {
			d.fail(v, path, "is too large")
			return
		}
		rv.SetUint(n)
	case reflect.Float32, reflect.Float64:
		var f float64
		switch x := v.scalar.(type) {
		case int64:
			f = float64(x)
		case uint64:
			f = float64(x)
		case float64:
			f = x
		default:
			d.fail(v, path, "must be a number, not %s", v.describe())
			return
		}
		if rv.OverflowFloat(f) {
			d.fail(v, path, "is out of range")
			return
		}
		rv.SetFloat(f)
	default:
		d.fail(v, path, "internal: cannot decode into %s", rv.Type())
	}
}

func (d *decoder) decodeStruct(v *val, rv reflect.Value, path string) {
	if v.kind != kindMap {
		d.fail(v, path, "must be a mapping, not %s", v.describe())
		return
	}
	fs := fieldsOf(rv.Type())
	var unsupported map[string]string
	if u, ok := rv.Addr().Interface().(unsupporter); ok {
		unsupported = u.unsupported()
	}
	for i, k := range v.keys {
		x := v.vals[i]
		p := joinPath(path, k)
		j := slices.IndexFunc(fs, func(f field) bool { return f.name == k })
		if j < 0 {
			if why, ok := unsupported[k]; ok {
				d.fail(x, p, "%s", why)
				continue
			}
			names := make([]string, len(fs))
			for i, f := range fs {
				names[i] = f.name
			}
			d.fail(x, p, "%s", unknownKey(k, names))
			continue
		}
		d.decode(x, rv.Field(fs[j].index), p)
	}
}

// unknownKey says a key is unknown, suggesting the nearest known one when
// it is plausibly a typo.
func unknownKey(key string, known []string) string {
	if s := suggest(key, known); s != "" {
		return fmt.Sprintf("unknown key; did you mean %q?", s)
	}
	if len(known) == 0 {
		return "unknown key"
	}
	sorted := slices.Clone(known)
	slices.Sort(sorted)
	return fmt.Sprintf("unknown key (known: %s)", strings.Join(sorted, ", "))
}

// suggest picks the known key nearest to key: one that differs only by
// case or by - versus _, else one within a small edit distance.
func suggest(key string, known []string) string {
	norm := func(s string) string { return strings.ReplaceAll(strings.ToLower(s), "-", "_") }
	for _, k := range known {
		if norm(k) == norm(key) {
			return k
		}
	}
	best, bestDist := "", 0
	limit := min(3, max(1, len(key)/2))
	for _, k := range known {
		if dist := editDistance(norm(key), norm(k)); dist <= limit && (best == "" || dist < bestDist) {
			best, bestDist = k, dist
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b, in bytes: keys
// are ASCII.
func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return math.MaxInt
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
