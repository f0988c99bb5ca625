// Package proxywasm is Nexus's own small proxy-wasm ABI 0.2.1 layer for
// filters built with the standard Go compiler (GOOS=wasip1, reactor
// build): the host calls in host_wasip1.go, the exported callbacks in
// exports_wasip1.go, and, here, the platform-neutral part — context
// bookkeeping and dispatch — so it can be tested natively against a fake
// host.
package proxywasm

import (
	"encoding/binary"
	"errors"
)

// Action tells the host whether to continue the stream.
type Action uint32

const (
	ActionContinue Action = 0
	// ActionPause stops iteration; for a body it also buffers, so the next
	// callback sees the whole body so far.
	ActionPause Action = 1
)

// BufferType names a host buffer.
type BufferType uint32

const (
	BufferHTTPRequestBody     BufferType = 0
	BufferHTTPResponseBody    BufferType = 1
	BufferVMConfiguration     BufferType = 6
	BufferPluginConfiguration BufferType = 7
)

// MapType names a host header map.
type MapType uint32

const (
	MapHTTPRequestHeaders  MapType = 0
	MapHTTPResponseHeaders MapType = 2
)

// Status is a host call's result.
type Status uint32

const (
	StatusOK       Status = 0
	StatusNotFound Status = 1
	StatusEmpty    Status = 7
)

// LogLevel is proxy_log's level.
type LogLevel uint32

const (
	LogDebug LogLevel = 1
	LogInfo  LogLevel = 2
	LogWarn  LogLevel = 3
	LogError LogLevel = 4
)

// ErrStatus wraps a non-OK host status.
type ErrStatus Status

func (e ErrStatus) Error() string {
	switch Status(e) {
	case StatusNotFound:
		return "proxy-wasm: not found"
	case StatusEmpty:
		return "proxy-wasm: empty"
	}
	return "proxy-wasm: host call failed"
}

// ErrNotFound is returned for a missing header or buffer.
var ErrNotFound = ErrStatus(StatusNotFound)

// Host is what a filter may ask of the proxy.
type Host interface {
	GetBuffer(t BufferType, start, size int) ([]byte, error)
	// SetBuffer replaces size bytes at start with data (start 0 and the
	// current length replace the whole buffer).
	SetBuffer(t BufferType, start, size int, data []byte) error
	GetHeader(m MapType, key string) (string, error)
	GetHeaders(m MapType) ([][2]string, error)
	ReplaceHeader(m MapType, key, value string) error
	RemoveHeader(m MapType, key string) error
	SendLocalResponse(status int, details string, body []byte, headers [][2]string) error
	Log(level LogLevel, msg string)
}

// MetricType is a proxy-wasm metric's kind.
type MetricType uint32

const (
	MetricCounter   MetricType = 0
	MetricGauge     MetricType = 1
	MetricHistogram MetricType = 2
)

// Stats is the proxy's metric ABI (proxy_define_metric,
// proxy_increment_metric): the proxy keeps the metrics with its own and
// exports them (Envoy prefixes them wasmcustom.). A Host that does not
// implement it records no metrics.
type Stats interface {
	DefineMetric(t MetricType, name string) (uint32, error)
	IncrementMetric(id uint32, delta int64) error
}

// Plugin is a root context: configured once, it creates a context per
// HTTP stream.
type Plugin interface {
	// OnConfigure receives the plugin configuration; an error fails the
	// start, with its message logged.
	OnConfigure(config []byte) error
	NewHTTPContext(host Host) HTTPContext
}

// HTTPContext handles one HTTP stream.
type HTTPContext interface {
	OnRequestHeaders(numHeaders int, endOfStream bool) Action
	OnRequestBody(size int, endOfStream bool) Action
	OnResponseHeaders(numHeaders int, endOfStream bool) Action
	OnResponseBody(size int, endOfStream bool) Action
	// OnDone is the stream's end (proxy_on_log / proxy_on_done).
	OnDone()
}

// VM tracks contexts by id and dispatches the host's callbacks.
type VM struct {
	host      Host
	newPlugin func() Plugin
	roots     map[uint32]Plugin
	streams   map[uint32]HTTPContext
	// configured remembers roots whose OnConfigure succeeded.
	configured map[uint32]bool
}

// NewVM returns a VM creating plugins with newPlugin.
func NewVM(host Host, newPlugin func() Plugin) *VM {
	return &VM{host: host, newPlugin: newPlugin, roots: map[uint32]Plugin{}, streams: map[uint32]HTTPContext{}, configured: map[uint32]bool{}}
}

// OnContextCreate creates a root context (parent 0) or an HTTP context.
func (vm *VM) OnContextCreate(id, parent uint32) {
	if parent == 0 {
		vm.roots[id] = vm.newPlugin()
		return
	}
	root, ok := vm.roots[parent]
	if !ok || !vm.configured[parent] {
		// A stream of an unconfigured plugin: fail closed by refusing it.
		vm.streams[id] = refuse{host: vm.host}
		return
	}
	vm.streams[id] = root.NewHTTPContext(vm.host)
}

// OnConfigure reads the plugin configuration and configures the root.
func (vm *VM) OnConfigure(id uint32, size int) bool {
	root, ok := vm.roots[id]
	if !ok {
		return false
	}
	var cfg []byte
	if size > 0 {
		b, err := vm.host.GetBuffer(BufferPluginConfiguration, 0, size)
		if err != nil {
			vm.host.Log(LogError, "piiguard: cannot read plugin configuration: "+err.Error())
			return false
		}
		cfg = b
	}
	if err := root.OnConfigure(cfg); err != nil {
		vm.host.Log(LogError, "piiguard: bad plugin configuration: "+err.Error())
		return false
	}
	vm.configured[id] = true
	return true
}

func (vm *VM) stream(id uint32) HTTPContext {
	if s, ok := vm.streams[id]; ok {
		return s
	}
	return refuse{host: vm.host}
}

// OnRequestHeaders dispatches proxy_on_request_headers.
func (vm *VM) OnRequestHeaders(id uint32, n int, eos bool) Action {
	return vm.stream(id).OnRequestHeaders(n, eos)
}

// OnRequestBody dispatches proxy_on_request_body.
func (vm *VM) OnRequestBody(id uint32, size int, eos bool) Action {
	return vm.stream(id).OnRequestBody(size, eos)
}

// OnResponseHeaders dispatches proxy_on_response_headers.
func (vm *VM) OnResponseHeaders(id uint32, n int, eos bool) Action {
	return vm.stream(id).OnResponseHeaders(n, eos)
}

// OnResponseBody dispatches proxy_on_response_body.
func (vm *VM) OnResponseBody(id uint32, size int, eos bool) Action {
	return vm.stream(id).OnResponseBody(size, eos)
}

// OnDone ends a stream and forgets it.
func (vm *VM) OnDone(id uint32) {
	if s, ok := vm.streams[id]; ok {
		s.OnDone()
		delete(vm.streams, id)
	}
}

// OnDelete forgets any context.
func (vm *VM) OnDelete(id uint32) {
	delete(vm.streams, id)
	delete(vm.roots, id)
	delete(vm.configured, id)
}

// refuse answers every request with 500: the plugin never started.
type refuse struct{ host Host }

func (r refuse) OnRequestHeaders(int, bool) Action {
	_ = r.host.SendLocalResponse(500, "piiguard_not_configured", []byte(`{"error":{"code":"pii_filter_unavailable","message":"the PII filter is not configured; request refused"}}`), [][2]string{{"content-type", "application/json"}})
	return ActionPause
}
func (refuse) OnRequestBody(int, bool) Action     { return ActionPause }
func (refuse) OnResponseHeaders(int, bool) Action { return ActionContinue }
func (refuse) OnResponseBody(int, bool) Action    { return ActionContinue }
func (refuse) OnDone()                            {}

// EncodeHeaders serializes header pairs in the proxy-wasm map format:
// count, then (key length, value length) pairs, then NUL-terminated keys
// and values.
func EncodeHeaders(hs [][2]string) []byte {
	size := 4
	for _, h := range hs {
		size += 8 + len(h[0]) + 1 + len(h[1]) + 1
	}
	b := make([]byte, size)
	binary.LittleEndian.PutUint32(b, uint32(len(hs)))
	p := 4
	for _, h := range hs {
		binary.LittleEndian.PutUint32(b[p:], uint32(len(h[0])))
		binary.LittleEndian.PutUint32(b[p+4:], uint32(len(h[1])))
		p += 8
	}
	for _, h := range hs {
		p += copy(b[p:], h[0]) + 1
		p += copy(b[p:], h[1]) + 1
	}
	return b
}

// DecodeHeaders parses the proxy-wasm map format.
func DecodeHeaders(b []byte) ([][2]string, error) {
	bad := errors.New("proxy-wasm: malformed header map")
	if len(b) < 4 {
		if len(b) == 0 {
			return nil, nil
		}
		return nil, bad
	}
	n := int(binary.LittleEndian.Uint32(b))
	if n < 0 || 4+8*n > len(b) {
		return nil, bad
	}
	out := make([][2]string, n)
	p := 4 + 8*n
	for i := 0; i < n; i++ {
		kl := int(binary.LittleEndian.Uint32(b[4+8*i:]))
		vl := int(binary.LittleEndian.Uint32(b[8+8*i:]))
		if kl < 0 || vl < 0 || p+kl+1+vl+1 > len(b) {
			return nil, bad
		}
		out[i][0] = string(b[p : p+kl])
		p += kl + 1
		out[i][1] = string(b[p : p+vl])
		p += vl + 1
	}
	return out, nil
}
