package wasmexport_test

import (
	"context"
	"strings"
	"testing"

	"github.com/tetratelabs/wazero"

	"github.com/secureai-nexus/nexus/filters/internal/wasmexport"
)

// reactor is the smallest module exporting a function as _initialize.
var reactor = []byte{
	0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // magic, version
	0x01, 0x04, 0x01, 0x60, 0x00, 0x00, // type: func() -> ()
	0x03, 0x02, 0x01, 0x00, // function 0 has type 0
	0x07, 0x0f, 0x01, 0x0b, '_', 'i', 'n', 'i', 't', 'i', 'a', 'l', 'i', 'z', 'e', 0x00, 0x00, // export
	0x0a, 0x04, 0x01, 0x02, 0x00, 0x0b, // code: empty body
}

func TestAlias(t *testing.T) {
	out, err := wasmexport.Alias(reactor, "_initialize", "_start")
	if err != nil {
		t.Fatal(err)
	}
	// A real runtime must accept the result and see both names.
	ctx := context.Background()
	r := wazero.NewRuntime(ctx)
	defer r.Close(ctx)
	c, err := r.CompileModule(ctx, out)
	if err != nil {
		t.Fatalf("rewritten module does not compile: %v", err)
	}
	exports := c.ExportedFunctions()
	if _, ok := exports["_initialize"]; !ok {
		t.Error("_initialize lost")
	}
	if _, ok := exports["_start"]; !ok {
		t.Error("_start not added")
	}
	// Aliasing twice is a no-op.
	again, err := wasmexport.Alias(out, "_initialize", "_start")
	if err != nil || string(again) != string(out) {
		t.Errorf("second alias changed the module: %v", err)
	}
}

func TestAliasErrors(t *testing.T) {
	for name, tc := range map[string]struct {
		mod  []byte
		from string
		want string
	}{
		"not wasm":       {[]byte("hello world!"), "_initialize", "not a wasm module"},
		"missing export": {reactor, "main", `no function export named "main"`},
		"truncated":      {reactor[:len(reactor)-3], "_initialize", "overruns"},
	} {
		if _, err := wasmexport.Alias(tc.mod, tc.from, "_start"); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", name, err, tc.want)
		}
	}
}
