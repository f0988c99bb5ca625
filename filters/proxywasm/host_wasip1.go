//go:build wasip1

package proxywasm

import (
	"unsafe"
)

//go:wasmimport env proxy_log
func proxyLog(level uint32, msg unsafe.Pointer, size uint32) uint32

//go:wasmimport env proxy_get_buffer_bytes
func proxyGetBufferBytes(bt, start, maxSize uint32, retData, retSize unsafe.Pointer) uint32

//go:wasmimport env proxy_set_buffer_bytes
func proxySetBufferBytes(bt, start, size uint32, data unsafe.Pointer, dataSize uint32) uint32

//go:wasmimport env proxy_get_header_map_value
func proxyGetHeaderMapValue(mapType uint32, key unsafe.Pointer, keySize uint32, retData, retSize unsafe.Pointer) uint32

//go:wasmimport env proxy_get_header_map_pairs
func proxyGetHeaderMapPairs(mapType uint32, retData, retSize unsafe.Pointer) uint32

//go:wasmimport env proxy_replace_header_map_value
func proxyReplaceHeaderMapValue(mapType uint32, key unsafe.Pointer, keySize uint32, value unsafe.Pointer, valueSize uint32) uint32

//go:wasmimport env proxy_remove_header_map_value
func proxyRemoveHeaderMapValue(mapType uint32, key unsafe.Pointer, keySize uint32) uint32

//go:wasmimport env proxy_send_local_response
func proxySendLocalResponse(status uint32, details unsafe.Pointer, detailsSize uint32, body unsafe.Pointer, bodySize uint32, headers unsafe.Pointer, headersSize uint32, grpcStatus int32) uint32

//go:wasmimport env proxy_define_metric
func proxyDefineMetric(metricType uint32, name unsafe.Pointer, nameSize uint32, returnID unsafe.Pointer) uint32

//go:wasmimport env proxy_increment_metric
func proxyIncrementMetric(id uint32, offset int64) uint32

// wasmHost calls the proxy. Everything passed to the host is also kept in
// the current context's keep list: some hosts (the test emulator among
// them) hold on to guest memory instead of copying it.
type wasmHost struct{}

func ptr(b []byte) unsafe.Pointer {
	if len(b) == 0 {
		return nil
	}
	return unsafe.Pointer(&b[0])
}

// guestBytes returns the n bytes at a guest address the host returned. The
// host writes a 32-bit address into the low half of a zeroed pointer
// variable, which on wasm is that address. A well-behaved host returns a
// block it got from proxy_on_memory_allocate during this callback: that
// block is a Go slice already, so it is handed over as it is (a request
// body is not copied a second time); any other address is copied.
func guestBytes(addr unsafe.Pointer, n uint32) []byte {
	if n == 0 || addr == nil {
		return nil
	}
	for i := len(allocs) - 1; i >= 0; i-- {
		if b := allocs[i]; unsafe.Pointer(&b[0]) == addr && int(n) <= len(b) {
			return b[:n:n]
		}
	}
	return append([]byte(nil), unsafe.Slice((*byte)(addr), n)...)
}

// headerNames interns header names: a filter uses a handful, always the
// same, and a name passed once stays valid for any host that keeps the
// pointer, so it needs no per-call copy and no per-stream keep entry.
// Bounded, since names could come from configuration.
var headerNames = map[string][]byte{}

func nameBytes(s string) []byte {
	if b, ok := headerNames[s]; ok {
		return b
	}
	b := []byte(s)
	if len(headerNames) < 64 {
		headerNames[s] = b
	} else {
		keep(b)
	}
	return b
}

func keepBytes(s string) []byte {
	b := []byte(s)
	keep(b)
	return b
}

func (wasmHost) Log(level LogLevel, msg string) {
	b := keepBytes(msg)
	proxyLog(uint32(level), ptr(b), uint32(len(b)))
}

func (wasmHost) GetBuffer(t BufferType, start, size int) ([]byte, error) {
	var addr unsafe.Pointer
	var n uint32
	if st := Status(proxyGetBufferBytes(uint32(t), uint32(start), uint32(size), unsafe.Pointer(&addr), unsafe.Pointer(&n))); st != StatusOK {
		return nil, ErrStatus(st)
	}
	return guestBytes(addr, n), nil
}

func (wasmHost) SetBuffer(t BufferType, start, size int, data []byte) error {
	keep(data)
	if st := Status(proxySetBufferBytes(uint32(t), uint32(start), uint32(size), ptr(data), uint32(len(data)))); st != StatusOK {
		return ErrStatus(st)
	}
	return nil
}

func (wasmHost) GetHeader(m MapType, key string) (string, error) {
	k := nameBytes(key)
	var addr unsafe.Pointer
	var n uint32
	if st := Status(proxyGetHeaderMapValue(uint32(m), ptr(k), uint32(len(k)), unsafe.Pointer(&addr), unsafe.Pointer(&n))); st != StatusOK {
		return "", ErrStatus(st)
	}
	return string(guestBytes(addr, n)), nil
}

func (wasmHost) GetHeaders(m MapType) ([][2]string, error) {
	var addr unsafe.Pointer
	var n uint32
	if st := Status(proxyGetHeaderMapPairs(uint32(m), unsafe.Pointer(&addr), unsafe.Pointer(&n))); st != StatusOK {
		return nil, ErrStatus(st)
	}
	return DecodeHeaders(guestBytes(addr, n))
}

func (wasmHost) ReplaceHeader(m MapType, key, value string) error {
	k, v := nameBytes(key), keepBytes(value)
	if st := Status(proxyReplaceHeaderMapValue(uint32(m), ptr(k), uint32(len(k)), ptr(v), uint32(len(v)))); st != StatusOK {
		return ErrStatus(st)
	}
	return nil
}

func (wasmHost) RemoveHeader(m MapType, key string) error {
	k := nameBytes(key)
	if st := Status(proxyRemoveHeaderMapValue(uint32(m), ptr(k), uint32(len(k)))); st != StatusOK && st != StatusNotFound {
		return ErrStatus(st)
	}
	return nil
}

func (wasmHost) SendLocalResponse(status int, details string, body []byte, headers [][2]string) error {
	d := keepBytes(details)
	keep(body)
	h := EncodeHeaders(headers)
	keep(h)
	if st := Status(proxySendLocalResponse(uint32(status), ptr(d), uint32(len(d)), ptr(body), uint32(len(body)), ptr(h), uint32(len(h)), -1)); st != StatusOK {
		return ErrStatus(st)
	}
	return nil
}

func (wasmHost) DefineMetric(t MetricType, name string) (uint32, error) {
	n := keepBytes(name)
	var id uint32
	if st := Status(proxyDefineMetric(uint32(t), ptr(n), uint32(len(n)), unsafe.Pointer(&id))); st != StatusOK {
		return 0, ErrStatus(st)
	}
	return id, nil
}

func (wasmHost) IncrementMetric(id uint32, delta int64) error {
	if st := Status(proxyIncrementMetric(id, delta)); st != StatusOK {
		return ErrStatus(st)
	}
	return nil
}
