package piiguard_test

import (
	"os"
	"sync"
	"testing"

	sdk "github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm"
	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/proxytest"
	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/types"

	"github.com/secureai-nexus/nexus/filters/internal/wasmexport"
	"github.com/secureai-nexus/nexus/filters/piiguard"
	"github.com/secureai-nexus/nexus/filters/proxywasm"
)

// Every filter test runs twice, as coraza-proxy-wasm does: the plugin as
// Go code in-process, and the compiled piiguard.wasm under wazero — both
// against proxy-wasm-go-sdk's host emulator.
var runners = []string{"go", "wasm"}

const wasmPath = "../piiguard.wasm"

var (
	wasmOnce  sync.Once
	wasmBytes []byte
	wasmErr   error
)

// wasmModule reads the compiled filter once. A missing module fails the
// test: it must never be skipped.
func wasmModule(t testing.TB) []byte {
	t.Helper()
	wasmOnce.Do(func() {
		raw, err := os.ReadFile(wasmPath)
		if err != nil {
			wasmErr = err
			return
		}
		// The emulator starts modules through _start only; the reactor's
		// initializer is _initialize.
		wasmBytes, wasmErr = wasmexport.Alias(raw, "_initialize", "_start")
	})
	if wasmErr != nil {
		t.Fatalf("piiguard.wasm: %v (run `make wasm` first)", wasmErr)
	}
	return wasmBytes
}

// newHost starts an emulator with the plugin configured by cfg.
func newHost(t testing.TB, runner, cfg string) (proxytest.HostEmulator, types.OnPluginStartStatus) {
	t.Helper()
	var vm types.VMContext
	switch runner {
	case "go":
		vm = &goVM{}
	case "wasm":
		v, err := proxytest.NewWasmVMContext(wasmModule(t))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { v.Close() })
		vm = v
	}
	host, reset := proxytest.NewHostEmulator(proxytest.NewEmulatorOption().WithVMContext(vm).WithPluginConfiguration([]byte(cfg)))
	t.Cleanup(reset)
	return host, host.StartPlugin()
}

// goVM adapts the plugin to the SDK's Go interfaces, with a Host that
// calls the SDK's host functions (the emulator, natively).
type goVM struct{ types.DefaultVMContext }

func (*goVM) NewPluginContext(uint32) types.PluginContext { return &goPlugin{p: &piiguard.Plugin{}} }

type goPlugin struct {
	types.DefaultPluginContext
	p  *piiguard.Plugin
	ok bool
}

func (g *goPlugin) OnPluginStart(int) types.OnPluginStartStatus {
	cfg, _ := sdk.GetPluginConfiguration()
	if err := g.p.OnConfigure(cfg); err != nil {
		sdk.LogError("piiguard: bad plugin configuration: " + err.Error())
		return types.OnPluginStartStatusFailed
	}
	g.ok = true
	return types.OnPluginStartStatusOK
}

func (g *goPlugin) NewHttpContext(uint32) types.HttpContext {
	return &goStream{s: g.p.NewHTTPContext(sdkHost{})}
}

type goStream struct {
	types.DefaultHttpContext
	s proxywasm.HTTPContext
}

func (g *goStream) OnHttpRequestHeaders(n int, eos bool) types.Action {
	return types.Action(g.s.OnRequestHeaders(n, eos))
}
func (g *goStream) OnHttpRequestBody(n int, eos bool) types.Action {
	return types.Action(g.s.OnRequestBody(n, eos))
}
func (g *goStream) OnHttpResponseHeaders(n int, eos bool) types.Action {
	return types.Action(g.s.OnResponseHeaders(n, eos))
}
func (g *goStream) OnHttpResponseBody(n int, eos bool) types.Action {
	return types.Action(g.s.OnResponseBody(n, eos))
}
func (g *goStream) OnHttpStreamDone() { g.s.OnDone() }

type sdkHost struct{}

func (sdkHost) GetBuffer(t proxywasm.BufferType, start, size int) ([]byte, error) {
	if t == proxywasm.BufferHTTPRequestBody {
		return sdk.GetHttpRequestBody(start, size)
	}
	return sdk.GetHttpResponseBody(start, size)
}

func (sdkHost) SetBuffer(t proxywasm.BufferType, _, _ int, data []byte) error {
	if t == proxywasm.BufferHTTPRequestBody {
		return sdk.ReplaceHttpRequestBody(data)
	}
	return sdk.ReplaceHttpResponseBody(data)
}

func (sdkHost) GetHeader(m proxywasm.MapType, k string) (string, error) {
	if m == proxywasm.MapHTTPRequestHeaders {
		return sdk.GetHttpRequestHeader(k)
	}
	return sdk.GetHttpResponseHeader(k)
}

func (sdkHost) GetHeaders(m proxywasm.MapType) ([][2]string, error) {
	if m == proxywasm.MapHTTPRequestHeaders {
		return sdk.GetHttpRequestHeaders()
	}
	return sdk.GetHttpResponseHeaders()
}

func (sdkHost) ReplaceHeader(m proxywasm.MapType, k, v string) error {
	if m == proxywasm.MapHTTPRequestHeaders {
		return sdk.ReplaceHttpRequestHeader(k, v)
	}
	return sdk.ReplaceHttpResponseHeader(k, v)
}

func (sdkHost) RemoveHeader(m proxywasm.MapType, k string) error {
	if m == proxywasm.MapHTTPRequestHeaders {
		return sdk.RemoveHttpRequestHeader(k)
	}
	return sdk.RemoveHttpResponseHeader(k)
}

func (sdkHost) SendLocalResponse(status int, _ string, body []byte, headers [][2]string) error {
	return sdk.SendHttpResponse(uint32(status), headers, body, -1)
}

func (sdkHost) Log(level proxywasm.LogLevel, msg string) {
	if level >= proxywasm.LogError {
		sdk.LogError(msg)
		return
	}
	sdk.LogInfo(msg)
}

func (sdkHost) DefineMetric(t proxywasm.MetricType, name string) (uint32, error) {
	switch t {
	case proxywasm.MetricCounter:
		return uint32(sdk.DefineCounterMetric(name)), nil
	case proxywasm.MetricGauge:
		return uint32(sdk.DefineGaugeMetric(name)), nil
	}
	return uint32(sdk.DefineHistogramMetric(name)), nil
}

func (sdkHost) IncrementMetric(id uint32, delta int64) error {
	sdk.MetricCounter(id).Increment(uint64(delta))
	return nil
}
