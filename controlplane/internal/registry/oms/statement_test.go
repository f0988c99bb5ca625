package oms

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// validStatement builds a well-formed statement's JSON from parts, so each
// case changes one thing.
func validStatement(edit func(st map[string]any)) []byte {
	d1 := strings.Repeat("ab", 32)
	d2 := strings.Repeat("cd", 32)
	root := rootOf(d1, d2)
	st := map[string]any{
		"_type":         StatementType,
		"subject":       []any{map[string]any{"name": "m", "digest": map[string]any{"sha256": root}}},
		"predicateType": PredicateType,
		"predicate": map[string]any{
			"serialization": map[string]any{"method": "files", "hash_type": "sha256", "allow_symlinks": false, "ignore_paths": []any{".git"}},
			"resources": []any{
				map[string]any{"name": "a", "algorithm": "sha256", "digest": d1},
				map[string]any{"name": "b/c", "algorithm": "sha256", "digest": d2},
			},
		},
	}
	if edit != nil {
		edit(st)
	}
	b, err := json.Marshal(st)
	if err != nil {
		panic(err)
	}
	return b
}

// rootOf is SHA-256 over the raw digests.
func rootOf(hexDigests ...string) string {
	h := sha256.New()
	for _, d := range hexDigests {
		b, err := hex.DecodeString(d)
		if err != nil {
			panic(err)
		}
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil))
}

func pred(st map[string]any) map[string]any { return st["predicate"].(map[string]any) }
func ser(st map[string]any) map[string]any  { return pred(st)["serialization"].(map[string]any) }
func res(st map[string]any, i int) map[string]any {
	return pred(st)["resources"].([]any)[i].(map[string]any)
}

// shardStatement is a shards statement over one 10-byte file, size 4.
func shardStatement(names ...string) []byte {
	return validStatement(func(st map[string]any) {
		s := ser(st)
		s["method"], s["shard_size"] = "shards", 4
		var rs []any
		var ds []string
		for i, n := range names {
			d := strings.Repeat(string("0123456789"[i]), 64)
			ds = append(ds, d)
			rs = append(rs, map[string]any{"name": n, "algorithm": "sha256-sharded-4", "digest": d})
		}
		pred(st)["resources"] = rs
		st["subject"].([]any)[0].(map[string]any)["digest"].(map[string]any)["sha256"] = rootOf(ds...)
	})
}

func TestParseStatement(t *testing.T) {
	st, err := ParseStatement(validStatement(nil))
	if err != nil {
		t.Fatal(err)
	}
	if st.ModelName != "m" || len(st.Resources) != 2 || st.Resources[1].Name != "b/c" || st.Serialization.Method != MethodFiles || len(st.Serialization.IgnorePaths) != 1 {
		t.Fatalf("%+v", st)
	}
	// Unknown predicate and statement fields are ignored (v1.0 says so).
	if _, err := ParseStatement(validStatement(func(st map[string]any) {
		pred(st)["model_card"] = map[string]any{"license": "apache-2.0"}
		st["extra"] = 1
	})); err != nil {
		t.Errorf("extra fields: %v", err)
	}
	// shard_size as the reference implementation writes it: a double.
	raw := bytes.Replace(shardStatement("f:0:4", "f:4:8", "f:8:10"), []byte(`"shard_size":4`), []byte(`"shard_size":4.0`), 1)
	if st, err := ParseStatement(raw); err != nil || st.Serialization.ShardSize != 4 {
		t.Errorf("shard_size 4.0: %v %+v", err, st)
	}
	// Hex digits in either case, as bytes.fromhex reads them.
	if _, err := ParseStatement(validStatement(func(st map[string]any) { res(st, 0)["digest"] = strings.Repeat("AB", 32) })); err != nil {
		t.Errorf("upper-case digest: %v", err)
	}
	if _, err := ParseStatement(shardStatement("a:b:0:4")); err != nil {
		t.Errorf("colon in a shard path: %v", err)
	}
}

func TestParseStatementRefusals(t *testing.T) {
	cases := map[string][]byte{
		"not json":         []byte("{"),
		"trailing data":    append(validStatement(nil), []byte(" {}")...),
		"invalid utf-8":    bytes.Replace(validStatement(nil), []byte(`"name":"m"`), []byte("\"name\":\"m\xff\""), 1),
		"duplicate key":    bytes.Replace(validStatement(nil), []byte(`"_type":`), []byte(`"_type":"x","_type":`), 1),
		"case-folded dup":  bytes.Replace(validStatement(nil), []byte(`"predicate":{`), []byte(`"Predicate":{},"predicate":{`), 1),
		"nested dup":       bytes.Replace(validStatement(nil), []byte(`"method":"files"`), []byte(`"method":"shards","method":"files"`), 1),
		"deep":             []byte(strings.Repeat("[", 100) + strings.Repeat("]", 100)),
		"wrong type":       validStatement(func(st map[string]any) { st["_type"] = "https://in-toto.io/Statement/v0.1" }),
		"legacy predicate": validStatement(func(st map[string]any) { st["predicateType"] = "https://model_signing/Digests/v0.1" }),
		"other predicate":  validStatement(func(st map[string]any) { st["predicateType"] = "https://slsa.dev/provenance/v1" }),
		"two subjects":     validStatement(func(st map[string]any) { st["subject"] = append(st["subject"].([]any), st["subject"].([]any)[0]) }),
		"no subject":       validStatement(func(st map[string]any) { st["subject"] = []any{} }),
		"subject not sha": validStatement(func(st map[string]any) {
			st["subject"].([]any)[0].(map[string]any)["digest"] = map[string]any{"sha512": "00"}
		}),
		"bad root hex": validStatement(func(st map[string]any) {
			st["subject"].([]any)[0].(map[string]any)["digest"] = map[string]any{"sha256": strings.Repeat("zz", 32)}
		}),
		"wrong root": validStatement(func(st map[string]any) {
			st["subject"].([]any)[0].(map[string]any)["digest"] = map[string]any{"sha256": strings.Repeat("00", 32)}
		}),
		"no predicate":      validStatement(func(st map[string]any) { delete(st, "predicate") }),
		"no serialization":  validStatement(func(st map[string]any) { delete(pred(st), "serialization") }),
		"no resources":      validStatement(func(st map[string]any) { delete(pred(st), "resources") }),
		"resources object":  validStatement(func(st map[string]any) { pred(st)["resources"] = map[string]any{} }),
		"unknown method":    validStatement(func(st map[string]any) { ser(st)["method"] = "tensors" }),
		"unknown hash":      validStatement(func(st map[string]any) { ser(st)["hash_type"] = "blake3" }),
		"files shard size":  validStatement(func(st map[string]any) { ser(st)["shard_size"] = 10 }),
		"symlinks string":   validStatement(func(st map[string]any) { ser(st)["allow_symlinks"] = "false" }),
		"ignore dot":        validStatement(func(st map[string]any) { ser(st)["ignore_paths"] = []any{"."} }),
		"ignore escape":     validStatement(func(st map[string]any) { ser(st)["ignore_paths"] = []any{"../x"} }),
		"ignore absolute":   validStatement(func(st map[string]any) { ser(st)["ignore_paths"] = []any{"/etc"} }),
		"name escapes":      validStatement(func(st map[string]any) { res(st, 0)["name"] = "../a" }),
		"name absolute":     validStatement(func(st map[string]any) { res(st, 0)["name"] = "/a" }),
		"name not clean":    validStatement(func(st map[string]any) { res(st, 1)["name"] = "b//c" }),
		"name dot slash":    validStatement(func(st map[string]any) { res(st, 1)["name"] = "./b/c" }),
		"name empty":        validStatement(func(st map[string]any) { res(st, 0)["name"] = "" }),
		"name NUL":          validStatement(func(st map[string]any) { res(st, 0)["name"] = "a\x00" }),
		"duplicate name":    validStatement(func(st map[string]any) { res(st, 1)["name"] = "a" }),
		"algorithm":         validStatement(func(st map[string]any) { res(st, 0)["algorithm"] = "md5" }),
		"short digest":      validStatement(func(st map[string]any) { res(st, 0)["digest"] = "abab" }),
		"shard no range":    shardStatement("f"),
		"shard bad range":   shardStatement("f:4:0"),
		"shard too long":    shardStatement("f:0:5"),
		"shard unaligned":   shardStatement("f:1:4"),
		"shard signed":      shardStatement("f:+0:4"),
		"shard zero-padded": shardStatement("f:00:4"),
		"shard float size":  bytes.Replace(shardStatement("f:0:4"), []byte(`"shard_size":4`), []byte(`"shard_size":4.5`), 1),
		"shard zero size":   bytes.Replace(shardStatement("f:0:4"), []byte(`"shard_size":4`), []byte(`"shard_size":0`), 1),
		"shard size string": bytes.Replace(shardStatement("f:0:4"), []byte(`"shard_size":4`), []byte(`"shard_size":"4"`), 1),
		"shard algorithm":   bytes.ReplaceAll(shardStatement("f:0:4"), []byte(`sha256-sharded-4`), []byte(`sha256-sharded-8`)),
	}
	for name, in := range cases {
		st, err := ParseStatement(in)
		if !errors.Is(err, ErrStatement) {
			t.Errorf("%s: want ErrStatement, got %v (%+v)", name, err, st)
		}
	}
	st, err := ParseStatement(validStatement(func(st map[string]any) { st["predicateType"] = "https://model_signing/Digests/v0.1" }))
	if err == nil || !strings.Contains(err.Error(), "deprecated") {
		t.Errorf("legacy: %v %v", st, err)
	}
}
