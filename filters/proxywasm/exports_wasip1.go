//go:build wasip1

package proxywasm

import (
	"runtime"
	"unsafe"
)

// The host calls the exported functions below with context ids; they need
// one VM to dispatch to. In a wasm module that state can only be global:
// it is set once by Start and touched only from the host's single thread.
var (
	vm *VM
	// allocs keeps blocks the host asked for (proxy_on_memory_allocate,
	// called re-entrantly from inside host calls) reachable until the
	// callback that caused them returns; the guest copies what it needs.
	allocs [][]byte
	// kept holds, per stream, memory passed to the host, until the stream
	// ends: hosts may read it after the call returns.
	kept    = map[uint32][][]byte{}
	current uint32
)

// Start installs the plugin. Call it from main (or init) of the filter.
func Start(newPlugin func() Plugin) {
	vm = NewVM(wasmHost{}, newPlugin)
}

func keep(b []byte) {
	if len(b) > 0 {
		kept[current] = append(kept[current], b)
	}
}

// enter marks the context a callback runs for; leave releases the
// callback's allocations. The host never runs the Go scheduler between
// callbacks, so the callbacks that end a stream (and configuration) also
// yield, which lets the GC's background work finish: once per request is
// enough to keep memory flat (TestGuestMemoryStaysFlat), and yielding in
// every callback cost a scheduler round trip each.
func enter(id uint32) { current = id }

func leave() { allocs = nil }

func leaveAndYield() {
	allocs = nil
	runtime.Gosched()
}

//go:wasmexport proxy_abi_version_0_2_1
func proxyABIVersion() {}

//go:wasmexport proxy_on_memory_allocate
func proxyOnMemoryAllocate(size uint32) unsafe.Pointer {
	if size == 0 {
		size = 1
	}
	b := make([]byte, size)
	allocs = append(allocs, b)
	return unsafe.Pointer(&b[0])
}

//go:wasmexport proxy_on_context_create
func proxyOnContextCreate(id, parent uint32) {
	enter(id)
	defer leave()
	vm.OnContextCreate(id, parent)
}

//go:wasmexport proxy_on_vm_start
func proxyOnVMStart(id, size uint32) uint32 {
	return 1
}

//go:wasmexport proxy_on_configure
func proxyOnConfigure(id, size uint32) uint32 {
	enter(id)
	defer leaveAndYield()
	if vm.OnConfigure(id, int(size)) {
		return 1
	}
	return 0
}

//go:wasmexport proxy_on_request_headers
func proxyOnRequestHeaders(id, n, eos uint32) uint32 {
	enter(id)
	defer leave()
	return uint32(vm.OnRequestHeaders(id, int(n), eos != 0))
}

//go:wasmexport proxy_on_request_body
func proxyOnRequestBody(id, size, eos uint32) uint32 {
	enter(id)
	defer leave()
	return uint32(vm.OnRequestBody(id, int(size), eos != 0))
}

//go:wasmexport proxy_on_request_trailers
func proxyOnRequestTrailers(id, n uint32) uint32 { return uint32(ActionContinue) }

//go:wasmexport proxy_on_response_headers
func proxyOnResponseHeaders(id, n, eos uint32) uint32 {
	enter(id)
	defer leave()
	return uint32(vm.OnResponseHeaders(id, int(n), eos != 0))
}

//go:wasmexport proxy_on_response_body
func proxyOnResponseBody(id, size, eos uint32) uint32 {
	enter(id)
	defer leave()
	return uint32(vm.OnResponseBody(id, int(size), eos != 0))
}

//go:wasmexport proxy_on_response_trailers
func proxyOnResponseTrailers(id, n uint32) uint32 { return uint32(ActionContinue) }

//go:wasmexport proxy_on_log
func proxyOnLog(id uint32) {
	enter(id)
	defer leaveAndYield()
	vm.OnDone(id)
	delete(kept, id)
}

//go:wasmexport proxy_on_done
func proxyOnDone(id uint32) uint32 {
	enter(id)
	defer leaveAndYield()
	vm.OnDone(id)
	delete(kept, id)
	return 1
}

//go:wasmexport proxy_on_delete
func proxyOnDelete(id uint32) {
	enter(id)
	defer leaveAndYield()
	vm.OnDelete(id)
	delete(kept, id)
}

//go:wasmexport proxy_on_tick
func proxyOnTick(id uint32) {}

//go:wasmexport proxy_on_queue_ready
func proxyOnQueueReady(id, queue uint32) {}
