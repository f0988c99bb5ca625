package input

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

// fullDecode is how parsed_body is built without a limit.
func fullDecode(body string) (any, error) {
	dec := json.NewDecoder(strings.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if strings.TrimLeft(body[dec.InputOffset():], " \t\r\n") != "" {
		return nil, errSyntax
	}
	return v, nil
}

// FuzzBodyMembers holds the limited body decoding to encoding/json: the
// same bodies are refused, and each member kept is exactly the member the
// full decode gives.
func FuzzBodyMembers(f *testing.F) {
	for _, s := range []string{
		`{"model":"triage","max_tokens":512,"stream":false,"messages":[{"role":"user","content":"hi \"there\" \u00e9\n"}]}`,
		`{"max_tokens":1,"max_tokens":2e5}`, `{"a\u0062c":1}`, `{"\u006dodel":"x"}`,
		`[1,2]`, `"str"`, `  {} `, `{"a":1,}`, `{"a":01}`, `{"a":-}`, `{"a":1.}`, `{"a":"\x01"}`, `{"a":"\q"}`,
		`{"a":"\ud800"}`, `{"model":"\xff\xfe"}`, `{"a":[` + strings.Repeat("[", 20) + strings.Repeat("]", 20) + `]}`,
		`{"a":1} {}`, `{"a":tru}`, `nul`, `{"stream":true,"model":null}`, "{\"max_tokens\":\t12\r\n}",
	} {
		f.Add(s)
	}
	names := []string{"model", "max_tokens", "stream", "abc", "\ufffd"}
	f.Fuzz(func(t *testing.T, body string) {
		want, wantErr := fullDecode(body)
		got, isObject, err := bodyMembers(body, names)
		if (err != nil) != (wantErr != nil) {
			t.Fatalf("%q: limited error %v, encoding/json %v", body, err, wantErr)
		}
		if err != nil {
			return
		}
		obj, ok := want.(map[string]any)
		if ok != isObject {
			t.Fatalf("%q: isObject %v, decoded %T", body, isObject, want)
		}
		if !ok {
			return
		}
		for _, n := range names {
			wv, wok := obj[n]
			gv, gok := got[n]
			if wok != gok || !reflect.DeepEqual(wv, gv) {
				t.Fatalf("%q member %q: limited %v %v, encoding/json %v %v", body, n, gv, gok, wv, wok)
			}
		}
		if len(got) > len(names) {
			t.Fatalf("%q: kept more than asked: %v", body, got)
		}
	})
}

// TestBodyMembersDepth: nesting past encoding/json's limit is refused, as
// encoding/json refuses it.
func TestBodyMembersDepth(t *testing.T) {
	for _, depth := range []int{maxNesting - 1, maxNesting + 1} {
		body := `{"a":` + strings.Repeat("[", depth) + strings.Repeat("]", depth) + `}`
		_, wantErr := fullDecode(body)
		_, _, err := bodyMembers(body, []string{"a"})
		if (err != nil) != (wantErr != nil) {
			t.Errorf("depth %d: limited error %v, encoding/json %v", depth, err, wantErr)
		}
	}
}

func BenchmarkBody16KiB(b *testing.B) {
	var sb strings.Builder
	for sb.Len() < 16<<10 {
		sb.WriteString("The patient reports mild chest pain since Tuesday and asks about the dose. ")
	}
	body := `{"model":"triage","max_tokens":512,"stream":false,"messages":[{"role":"system","content":"You are a triage assistant."},{"role":"user","content":"` + sb.String() + `"}]}`
	b.Run("full", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			if _, err := fullDecode(body); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("members", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			if _, _, err := bodyMembers(body, []string{"max_tokens", "stream"}); err != nil {
				b.Fatal(err)
			}
		}
	})
}
