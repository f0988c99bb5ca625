// Package wasmexport edits a compiled module's export section. Tests use
// it to give proxy-wasm-go-sdk's host emulator, which starts modules
// through _start only, a reactor module whose _initialize is also
// exported as _start; the shipped .wasm stays a reactor.
package wasmexport

import (
	"bytes"
	"errors"
	"fmt"
)

// Alias returns a copy of module with function export `from` also
// exported under the name `to`.
func Alias(module []byte, from, to string) ([]byte, error) {
	if len(module) < 8 || !bytes.Equal(module[:4], []byte("\x00asm")) {
		return nil, errors.New("not a wasm module")
	}
	out := append([]byte(nil), module[:8]...)
	p := 8
	found := false
	for p < len(module) {
		id := module[p]
		size, n, err := uleb(module[p+1:])
		if err != nil {
			return nil, fmt.Errorf("section at %d: %w", p, err)
		}
		start := p + 1 + n
		end := start + int(size)
		if end > len(module) {
			return nil, fmt.Errorf("section at %d overruns the module", p)
		}
		body := module[start:end]
		if id == 7 { // export section
			nb, ok, err := addAlias(body, from, to)
			if err != nil {
				return nil, err
			}
			found = ok
			body = nb
		}
		out = append(out, id)
		out = appendULEB(out, uint64(len(body)))
		out = append(out, body...)
		p = end
	}
	if !found {
		return nil, fmt.Errorf("no function export named %q", from)
	}
	return out, nil
}

func addAlias(body []byte, from, to string) ([]byte, bool, error) {
	count, n, err := uleb(body)
	if err != nil {
		return nil, false, err
	}
	p := n
	var index uint64
	found := false
	for i := uint64(0); i < count; i++ {
		nameLen, n, err := uleb(body[p:])
		if err != nil {
			return nil, false, err
		}
		p += n
		if p+int(nameLen)+1 > len(body) {
			return nil, false, errors.New("export entry overruns the section")
		}
		name := string(body[p : p+int(nameLen)])
		p += int(nameLen)
		kind := body[p]
		p++
		idx, n, err := uleb(body[p:])
		if err != nil {
			return nil, false, err
		}
		p += n
		if name == to {
			return body, true, nil // already there
		}
		if name == from && kind == 0 {
			index, found = idx, true
		}
	}
	if !found {
		return body, false, nil
	}
	out := appendULEB(nil, count+1)
	out = append(out, body[len(appendULEB(nil, count)):]...)
	out = appendULEB(out, uint64(len(to)))
	out = append(out, to...)
	out = append(out, 0)
	out = appendULEB(out, index)
	return out, true, nil
}

func uleb(b []byte) (uint64, int, error) {
	var v uint64
	for i := 0; i < len(b) && i < 10; i++ {
		v |= uint64(b[i]&0x7f) << (7 * i)
		if b[i]&0x80 == 0 {
			return v, i + 1, nil
		}
	}
	return 0, 0, errors.New("bad LEB128")
}

func appendULEB(b []byte, v uint64) []byte {
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if v != 0 {
			b = append(b, c|0x80)
			continue
		}
		return append(b, c)
	}
}
