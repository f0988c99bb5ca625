package piiguard_test

import (
	"context"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"github.com/secureai-nexus/nexus/filters/proxywasm"
)

// soakHost is a minimal proxy-wasm host on wazero, just enough for the
// filter's request and response path, kept separate from the SDK's
// emulator so the test can watch the guest's linear memory, which the
// emulator does not expose.
type soakHost struct {
	reqHeaders, respHeaders [][2]string
	reqBody, respBody       []byte
	config                  []byte
	localStatus             uint32
	// exports holds the guest's functions, each looked up once as
	// Envoy's host does: wazero's ExportedFunction builds a call engine
	// and stack on every lookup, host work a benchmark should not count.
	exports map[string]api.Function
	// metrics are the counters the guest defined, by id.
	metrics []int64
}

// export returns the guest's exported function name, looked up once.
func (h *soakHost) export(m api.Module, name string) api.Function {
	f, ok := h.exports[name]
	if !ok {
		if h.exports == nil {
			h.exports = map[string]api.Function{}
		}
		f = m.ExportedFunction(name)
		h.exports[name] = f
	}
	return f
}

func (h *soakHost) headers(m uint32) *[][2]string {
	if m == uint32(proxywasm.MapHTTPRequestHeaders) {
		return &h.reqHeaders
	}
	return &h.respHeaders
}

func (h *soakHost) buffer(t uint32) *[]byte {
	switch t {
	case uint32(proxywasm.BufferHTTPRequestBody):
		return &h.reqBody
	case uint32(proxywasm.BufferPluginConfiguration):
		return &h.config
	}
	return &h.respBody
}

// give copies data into guest memory allocated by the guest itself.
func (h *soakHost) give(ctx context.Context, m api.Module, data []byte, retPtr, retSize uint32) uint32 {
	res, err := h.export(m, "proxy_on_memory_allocate").Call(ctx, uint64(len(data)))
	if err != nil {
		return 2
	}
	p := uint32(res[0])
	m.Memory().Write(p, data)
	m.Memory().WriteUint32Le(retPtr, p)
	m.Memory().WriteUint32Le(retSize, uint32(len(data)))
	return 0
}

func read(m api.Module, p, n uint32) []byte {
	b, _ := m.Memory().Read(p, n)
	return append([]byte(nil), b...)
}

// hostFunc builds a host function that takes n i32 parameters and returns
// one i32, without wazero's reflection path (about 1 µs per call), so
// benchmarks on this host measure the guest.
func hostFunc(n int, f func(ctx context.Context, m api.Module, a []uint32) uint32) (api.GoModuleFunc, []api.ValueType, []api.ValueType) {
	params := make([]api.ValueType, n)
	for i := range params {
		params[i] = api.ValueTypeI32
	}
	return func(ctx context.Context, m api.Module, stack []uint64) {
		a := make([]uint32, n)
		for i := range a {
			a[i] = uint32(stack[i])
		}
		stack[0] = uint64(f(ctx, m, a))
	}, params, []api.ValueType{api.ValueTypeI32}
}

func (h *soakHost) instantiate(ctx context.Context, t testing.TB, r wazero.Runtime) {
	t.Helper()
	b := r.NewHostModuleBuilder("env")
	export := func(name string, n int, f func(ctx context.Context, m api.Module, a []uint32) uint32) {
		fn, params, results := hostFunc(n, f)
		b.NewFunctionBuilder().WithGoModuleFunction(fn, params, results).Export(name)
	}
	export("proxy_log", 3, func(context.Context, api.Module, []uint32) uint32 { return 0 })
	export("proxy_get_buffer_bytes", 5, func(ctx context.Context, m api.Module, a []uint32) uint32 {
		bt, start, max, rp, rs := a[0], a[1], a[2], a[3], a[4]
		buf := *h.buffer(bt)
		if int(start) > len(buf) {
			return 2
		}
		return h.give(ctx, m, buf[start:min(len(buf), int(start+max))], rp, rs)
	})
	export("proxy_set_buffer_bytes", 5, func(_ context.Context, m api.Module, a []uint32) uint32 {
		*h.buffer(a[0]) = read(m, a[3], a[4])
		return 0
	})
	export("proxy_get_header_map_value", 5, func(ctx context.Context, m api.Module, a []uint32) uint32 {
		k := string(read(m, a[1], a[2]))
		for _, kv := range *h.headers(a[0]) {
			if kv[0] == k {
				return h.give(ctx, m, []byte(kv[1]), a[3], a[4])
			}
		}
		return 1
	})
	export("proxy_get_header_map_pairs", 3, func(ctx context.Context, m api.Module, a []uint32) uint32 {
		return h.give(ctx, m, proxywasm.EncodeHeaders(*h.headers(a[0])), a[1], a[2])
	})
	export("proxy_replace_header_map_value", 5, func(_ context.Context, m api.Module, a []uint32) uint32 {
		k, v := string(read(m, a[1], a[2])), string(read(m, a[3], a[4]))
		hs := h.headers(a[0])
		for i := range *hs {
			if (*hs)[i][0] == k {
				(*hs)[i][1] = v
				return 0
			}
		}
		*hs = append(*hs, [2]string{k, v})
		return 0
	})
	export("proxy_remove_header_map_value", 3, func(_ context.Context, m api.Module, a []uint32) uint32 {
		k := string(read(m, a[1], a[2]))
		hs := h.headers(a[0])
		out := (*hs)[:0]
		for _, kv := range *hs {
			if kv[0] != k {
				out = append(out, kv)
			}
		}
		*hs = out
		return 0
	})
	export("proxy_send_local_response", 8, func(_ context.Context, _ api.Module, a []uint32) uint32 {
		h.localStatus = a[0]
		return 0
	})
	// The metric ABI: ids handed out in order, counters kept by id.
	b.NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(func(_ context.Context, m api.Module, stack []uint64) {
		h.metrics = append(h.metrics, 0)
		m.Memory().WriteUint32Le(uint32(stack[3]), uint32(len(h.metrics)-1))
		stack[0] = 0
	}), []api.ValueType{api.ValueTypeI32, api.ValueTypeI32, api.ValueTypeI32, api.ValueTypeI32}, []api.ValueType{api.ValueTypeI32}).Export("proxy_define_metric")
	b.NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(func(_ context.Context, _ api.Module, stack []uint64) {
		if id := uint32(stack[0]); int(id) < len(h.metrics) {
			h.metrics[id] += int64(stack[1])
			stack[0] = 0
			return
		}
		stack[0] = 2
	}), []api.ValueType{api.ValueTypeI32, api.ValueTypeI64}, []api.ValueType{api.ValueTypeI32}).Export("proxy_increment_metric")
	if _, err := b.Instantiate(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestGuestMemoryStaysFlat drives 55,000 requests through
// the compiled filter and checks the guest's linear memory stops growing:
// the Go runtime in wasm only collects when the filter yields at the end of
// each callback, and blocks handed to the host must be released.
func TestGuestMemoryStaysFlat(t *testing.T) {
	ctx := context.Background()
	r := wazero.NewRuntime(ctx)
	defer r.Close(ctx)
	wasi_snapshot_preview1.MustInstantiate(ctx, r)
	h := &soakHost{config: []byte(config)}
	h.instantiate(ctx, t, r)
	compiled, err := r.CompileModule(ctx, wasmModule(t))
	if err != nil {
		t.Fatal(err)
	}
	mod, err := r.InstantiateModule(ctx, compiled, wazero.NewModuleConfig())
	if err != nil {
		t.Fatal(err)
	}
	call := func(name string, args ...uint64) uint64 {
		res, err := h.export(mod, name).Call(ctx, args...)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(res) > 0 {
			return res[0]
		}
		return 0
	}
	call("proxy_on_context_create", 1, 0)
	if call("proxy_on_configure", 1, uint64(len(h.config))) != 1 {
		t.Fatal("configure failed")
	}
	body := chatBody(4 << 10)
	answer := []byte(`{"content":"hello [EMAIL_1]"}`)
	run := func(from, n int) {
		for id := uint64(from); id < uint64(from+n); id++ {
			h.reqHeaders = [][2]string{{":method", "POST"}, {"content-type", "application/json"}, {"content-length", "1"}}
			h.reqBody = body
			h.respHeaders = [][2]string{{":status", "200"}, {"content-type", "application/json"}}
			h.respBody = answer
			call("proxy_on_context_create", id, 1)
			call("proxy_on_request_headers", id, 3, 0)
			call("proxy_on_request_body", id, uint64(len(body)), 1)
			call("proxy_on_response_headers", id, 2, 0)
			call("proxy_on_response_body", id, uint64(len(answer)), 1)
			call("proxy_on_log", id)
			call("proxy_on_delete", id)
		}
	}
	run(2, 5000) // warm up: the heap settles at its working size
	if string(h.respBody) != `{"content":"hello jane@example.com"}` || h.localStatus != 0 {
		t.Fatalf("filter did not work in the soak host: %s (local %d)", h.respBody, h.localStatus)
	}
	warm := mod.Memory().Size()
	run(10000, 50000)
	after := mod.Memory().Size()
	t.Logf("guest memory %d KiB after warm-up, %d KiB after 50,000 more requests", warm>>10, after>>10)
	if after > warm+warm/4 {
		t.Errorf("guest memory grew from %d to %d KiB over 50,000 requests", warm>>10, after>>10)
	}
}
