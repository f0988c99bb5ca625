package registry

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
)

// Bounds on headers read from untrusted model files.
const (
	maxSafetensorsHeader = 100 << 20
	maxGGUFTensors       = 1 << 20
	maxGGUFKV            = 1 << 16
	maxGGUFString        = 1 << 20
	maxGGUFArray         = 1 << 24
	maxGGUFDims          = 4
)

var safetensorsDtypeSize = map[string]uint64{
	"BOOL": 1, "U8": 1, "I8": 1, "F8_E5M2": 1, "F8_E4M3": 1,
	"I16": 2, "U16": 2, "F16": 2, "BF16": 2,
	"I32": 4, "U32": 4, "F32": 4,
	"I64": 8, "U64": 8, "F64": 8,
}

// ParseSafetensors checks a safetensors file's header: its length within
// the file and the bound, every tensor's dtype known, its shape's size
// equal to its byte range, and every range inside the data and apart from
// the others. It returns the number of tensors.
func ParseSafetensors(r io.ReaderAt, size int64) (int, error) {
	var lenBuf [8]byte
	if _, err := r.ReadAt(lenBuf[:], 0); err != nil {
		return 0, errors.New("safetensors: shorter than its 8-byte header length")
	}
	n := binary.LittleEndian.Uint64(lenBuf[:])
	if n > maxSafetensorsHeader || n > uint64(size-8) {
		return 0, fmt.Errorf("safetensors: header of %d bytes in a file of %d (limit %d)", n, size, maxSafetensorsHeader)
	}
	raw := make([]byte, n)
	if _, err := r.ReadAt(raw, 8); err != nil {
		return 0, fmt.Errorf("safetensors: header: %w", err)
	}
	var header map[string]json.RawMessage
	if err := json.Unmarshal(raw, &header); err != nil {
		return 0, fmt.Errorf("safetensors: header is not a JSON object: %v", err)
	}
	data := uint64(size) - 8 - n
	type span struct {
		name       string
		begin, end uint64
	}
	var spans []span
	for name, v := range header {
		if name == "__metadata__" {
			var meta map[string]string
			if err := json.Unmarshal(v, &meta); err != nil {
				return 0, errors.New("safetensors: __metadata__ must map strings to strings")
			}
			continue
		}
		var t struct {
			Dtype       string   `json:"dtype"`
			Shape       []uint64 `json:"shape"`
			DataOffsets []uint64 `json:"data_offsets"`
		}
		if err := json.Unmarshal(v, &t); err != nil {
			return 0, fmt.Errorf("safetensors: tensor %q: %v", name, err)
		}
		es, ok := safetensorsDtypeSize[t.Dtype]
		if !ok {
			return 0, fmt.Errorf("safetensors: tensor %q: unknown dtype %q", name, t.Dtype)
		}
		if len(t.DataOffsets) != 2 || t.DataOffsets[0] > t.DataOffsets[1] || t.DataOffsets[1] > data {
			return 0, fmt.Errorf("safetensors: tensor %q: data_offsets %v outside the %d bytes of data", name, t.DataOffsets, data)
		}
		want := es
		for _, d := range t.Shape {
			if d != 0 && want > math.MaxUint64/d {
				return 0, fmt.Errorf("safetensors: tensor %q: shape %v overflows", name, t.Shape)
			}
			want *= d
		}
		if got := t.DataOffsets[1] - t.DataOffsets[0]; got != want {
			return 0, fmt.Errorf("safetensors: tensor %q: shape %v of %s is %d bytes, data_offsets hold %d", name, t.Shape, t.Dtype, want, got)
		}
		spans = append(spans, span{name, t.DataOffsets[0], t.DataOffsets[1]})
	}
	sort.Slice(spans, func(i, j int) bool { return spans[i].begin < spans[j].begin })
	for i := 1; i < len(spans); i++ {
		if spans[i].begin < spans[i-1].end {
			return 0, fmt.Errorf("safetensors: tensors %q and %q overlap", spans[i-1].name, spans[i].name)
		}
	}
	return len(spans), nil
}

type ggufReader struct {
	r    io.ReaderAt
	off  int64
	size int64
}

func (g *ggufReader) read(n int64) ([]byte, error) {
	if n < 0 || g.off+n > g.size {
		return nil, fmt.Errorf("gguf: truncated at offset %d", g.off)
	}
	b := make([]byte, n)
	if _, err := g.r.ReadAt(b, g.off); err != nil {
		return nil, fmt.Errorf("gguf: %w", err)
	}
	g.off += n
	return b, nil
}

func (g *ggufReader) u32() (uint32, error) {
	b, err := g.read(4)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint32(b), nil
}

func (g *ggufReader) u64() (uint64, error) {
	b, err := g.read(8)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint64(b), nil
}

func (g *ggufReader) str() (string, error) {
	n, err := g.u64()
	if err != nil {
		return "", err
	}
	if n > maxGGUFString {
		return "", fmt.Errorf("gguf: string of %d bytes at offset %d (limit %d)", n, g.off, maxGGUFString)
	}
	b, err := g.read(int64(n))
	return string(b), err
}

// ggufScalar are the sizes of GGUF's fixed-size value types.
var ggufScalar = map[uint32]int64{0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}

func (g *ggufReader) value(t uint32, depth int) error {
	if n, ok := ggufScalar[t]; ok {
		_, err := g.read(n)
		return err
	}
	switch t {
	case 8: // string
		_, err := g.str()
		return err
	case 9: // array
		if depth > 2 {
			return fmt.Errorf("gguf: arrays nested deeper than 2 at offset %d", g.off)
		}
		et, err := g.u32()
		if err != nil {
			return err
		}
		n, err := g.u64()
		if err != nil {
			return err
		}
		if n > maxGGUFArray {
			return fmt.Errorf("gguf: array of %d values at offset %d (limit %d)", n, g.off, maxGGUFArray)
		}
		if es, ok := ggufScalar[et]; ok {
			_, err := g.read(int64(n) * es)
			return err
		}
		for range n {
			if err := g.value(et, depth+1); err != nil {
				return err
			}
		}
		return nil
	}
	return fmt.Errorf("gguf: unknown value type %d at offset %d", t, g.off)
}

// ParseGGUF checks a GGUF file's header: magic, version, bounded counts,
// every metadata value's type and length, every tensor's dimensions and
// data offset inside the file. It returns the number of tensors.
func ParseGGUF(r io.ReaderAt, size int64) (int, error) {
	g := &ggufReader{r: r, size: size}
	magic, err := g.read(4)
	if err != nil || string(magic) != "GGUF" {
		return 0, errors.New("gguf: no GGUF magic")
	}
	version, err := g.u32()
	if err != nil {
		return 0, err
	}
	if version < 2 || version > 3 {
		return 0, fmt.Errorf("gguf: version %d (read 2 and 3)", version)
	}
	tensors, err := g.u64()
	if err != nil {
		return 0, err
	}
	kvs, err := g.u64()
	if err != nil {
		return 0, err
	}
	if tensors > maxGGUFTensors || kvs > maxGGUFKV {
		return 0, fmt.Errorf("gguf: %d tensors and %d metadata keys (limits %d, %d)", tensors, kvs, maxGGUFTensors, maxGGUFKV)
	}
	alignment := uint64(32)
	for range kvs {
		key, err := g.str()
		if err != nil {
			return 0, err
		}
		t, err := g.u32()
		if err != nil {
			return 0, err
		}
		start := g.off
		if err := g.value(t, 0); err != nil {
			return 0, fmt.Errorf("%w (key %q)", err, key)
		}
		if key == "general.alignment" && t == 4 {
			b := make([]byte, 4)
			_, _ = r.ReadAt(b, start)
			if a := binary.LittleEndian.Uint32(b); a != 0 && a&(a-1) == 0 {
				alignment = uint64(a)
			}
		}
	}
	type info struct {
		name   string
		offset uint64
	}
	infos := make([]info, 0, tensors)
	for range tensors {
		name, err := g.str()
		if err != nil {
			return 0, err
		}
		dims, err := g.u32()
		if err != nil {
			return 0, err
		}
		if dims == 0 || dims > maxGGUFDims {
			return 0, fmt.Errorf("gguf: tensor %q has %d dimensions (1 to %d)", name, dims, maxGGUFDims)
		}
		for range dims {
			if _, err := g.u64(); err != nil {
				return 0, err
			}
		}
		if _, err := g.u32(); err != nil { // ggml type
			return 0, err
		}
		off, err := g.u64()
		if err != nil {
			return 0, err
		}
		infos = append(infos, info{name, off})
	}
	data := (uint64(g.off) + alignment - 1) / alignment * alignment
	for _, t := range infos {
		if t.offset%alignment != 0 || data+t.offset > uint64(size) {
			return 0, fmt.Errorf("gguf: tensor %q at data offset %d, outside the file or unaligned", t.name, t.offset)
		}
	}
	return len(infos), nil
}
