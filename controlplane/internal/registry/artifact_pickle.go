package registry

import (
	"archive/zip"
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"
)

// UnsafePickleError is a pickle that imports or calls something outside
// the allowed set: loading it would run code.
type UnsafePickleError struct {
	// Member is the pickle's name inside a zip archive (PyTorch's
	// archive/data.pkl); empty for a bare pickle.
	Member string
	Opcode string
	Offset int64
	Global string // module.name imported, when the opcode imports
}

func (e *UnsafePickleError) Error() string {
	where := fmt.Sprintf("offset %d", e.Offset)
	if e.Member != "" {
		where = e.Member + " " + where
	}
	if e.Global != "" {
		return fmt.Sprintf("unsafe pickle: %s %s at %s imports a callable outside the allowed set", e.Opcode, e.Global, where)
	}
	return fmt.Sprintf("unsafe pickle: %s at %s", e.Opcode, where)
}

// allowedGlobals are what a PyTorch or NumPy checkpoint needs to rebuild
// its tensors, and nothing that reaches the interpreter, the OS or the
// network (after PyTorch's own weights_only allowlist).
var allowedGlobals = map[string]bool{
	// Protocols 0–2 write bytes as _codecs.encode(text, "latin1").
	"_codecs.encode":                      true,
	"collections.OrderedDict":             true,
	"torch._utils._rebuild_tensor":        true,
	"torch._utils._rebuild_tensor_v2":     true,
	"torch._utils._rebuild_parameter":     true,
	"torch._utils._rebuild_qtensor":       true,
	"torch._utils._rebuild_sparse_tensor": true,
	"torch.FloatStorage":                  true,
	"torch.DoubleStorage":                 true,
	"torch.HalfStorage":                   true,
	"torch.BFloat16Storage":               true,
	"torch.LongStorage":                   true,
	"torch.IntStorage":                    true,
	"torch.ShortStorage":                  true,
	"torch.CharStorage":                   true,
	"torch.ByteStorage":                   true,
	"torch.BoolStorage":                   true,
	"torch.float32":                       true,
	"torch.float16":                       true,
	"torch.bfloat16":                      true,
	"torch.int64":                         true,
	"torch.Size":                          true,
	"numpy.core.multiarray._reconstruct":  true,
	"numpy.ndarray":                       true,
	"numpy.dtype":                         true,
}

// maxPickleOps bounds the opcodes read from one pickle.
const maxPickleOps = 1 << 26

// ScanPickle reads a pickle (or a zip archive of them, as torch.save
// writes) and refuses any global import outside the allowed set. It
// never unpickles: it walks the opcodes.
func ScanPickle(r io.ReaderAt, size int64) error {
	var magic [4]byte
	if _, err := r.ReadAt(magic[:], 0); err == nil && string(magic[:]) == "PK\x03\x04" {
		zr, err := zip.NewReader(r, size)
		if err != nil {
			return fmt.Errorf("zip archive: %w", err)
		}
		n := 0
		for _, f := range zr.File {
			if !strings.HasSuffix(f.Name, ".pkl") {
				continue
			}
			n++
			rc, err := f.Open()
			if err != nil {
				return fmt.Errorf("%s: %w", f.Name, err)
			}
			err = scanPickleStream(bufio.NewReader(rc))
			rc.Close()
			var ue *UnsafePickleError
			if errors.As(err, &ue) {
				ue.Member = f.Name
				return ue
			}
			if err != nil {
				return fmt.Errorf("%s: %w", f.Name, err)
			}
		}
		if n == 0 {
			return errors.New("zip archive holds no .pkl member")
		}
		return nil
	}
	return scanPickleStream(bufio.NewReader(io.NewSectionReader(r, 0, size)))
}

type pickleReader struct {
	r   *bufio.Reader
	off int64
}

func (p *pickleReader) byte() (byte, error) {
	b, err := p.r.ReadByte()
	if err == nil {
		p.off++
	}
	return b, err
}

func (p *pickleReader) skip(n uint64) error {
	if n > 1<<40 {
		return fmt.Errorf("argument of %d bytes at offset %d", n, p.off)
	}
	m, err := p.r.Discard(int(n))
	p.off += int64(m)
	if err != nil {
		return fmt.Errorf("truncated at offset %d", p.off)
	}
	return nil
}

func (p *pickleReader) bytes(n uint64) ([]byte, error) {
	if n > 1<<20 {
		// A string longer than any module or name: skip it, keep nothing.
		return nil, p.skip(n)
	}
	b := make([]byte, n)
	m, err := io.ReadFull(p.r, b)
	p.off += int64(m)
	if err != nil {
		return nil, fmt.Errorf("truncated at offset %d", p.off)
	}
	return b, nil
}

func (p *pickleReader) uint(n int) (uint64, error) {
	b, err := p.bytes(uint64(n))
	if err != nil {
		return 0, err
	}
	var v uint64
	for i := n - 1; i >= 0; i-- {
		v = v<<8 | uint64(b[i])
	}
	return v, nil
}

func (p *pickleReader) line() (string, error) {
	s, err := p.r.ReadString('\n')
	p.off += int64(len(s))
	if err != nil {
		return "", fmt.Errorf("unterminated line at offset %d", p.off)
	}
	if len(s) > 1<<16 {
		return "", fmt.Errorf("line of %d bytes at offset %d", len(s), p.off)
	}
	return strings.TrimSuffix(s, "\n"), nil
}

// scanPickleStream walks one pickle to its STOP.
func scanPickleStream(br *bufio.Reader) error {
	p := &pickleReader{r: br}
	// The last two strings pushed: STACK_GLOBAL takes module and name from
	// the stack, and checkpoints push them as plain string constants.
	// fresh counts the strings pushed since the last opcode that was
	// neither a string nor a memo store: STACK_GLOBAL is judged only when
	// both its arguments are such constants, never a memo fetch that could
	// bring back strings the tracker did not see go in.
	var strs [2]string
	fresh := 0
	pushed := false
	push := func(s string) { strs[0], strs[1] = strs[1], s; pushed = true }
	for ops := 0; ops < maxPickleOps; ops++ {
		if pushed {
			fresh++
		}
		pushed = false
		at := p.off
		op, err := p.byte()
		switch op {
		case 'p', 'q', 'r', 0x94: // memo stores leave the stack as it is
		case 'S', 'V', 'U', 'C', 0x8c, 'T', 'X', 'B', 0x8d, 0x8e, 0x96:
		case 0x93: // judged below, on the count so far
		default:
			fresh = 0
		}
		if err == io.EOF {
			return errors.New("pickle ends without STOP")
		}
		if err != nil {
			return err
		}
		switch op {
		case '.': // STOP
			return nil
		case 'c', 'i': // GLOBAL, INST: module\nname\n
			mod, err := p.line()
			if err != nil {
				return err
			}
			name, err := p.line()
			if err != nil {
				return err
			}
			if g := mod + "." + name; !allowedGlobals[g] {
				opname := "GLOBAL"
				if op == 'i' {
					opname = "INST"
				}
				return &UnsafePickleError{Opcode: opname, Offset: at, Global: g}
			}
		case 0x93: // STACK_GLOBAL
			if fresh < 2 {
				return &UnsafePickleError{Opcode: "STACK_GLOBAL", Offset: at, Global: "(names not given as constants)"}
			}
			if g := strs[0] + "." + strs[1]; !allowedGlobals[g] {
				return &UnsafePickleError{Opcode: "STACK_GLOBAL", Offset: at, Global: g}
			}
			fresh = 0
		case 'I', 'L', 'F', 'S', 'V', 'P', 'g', 'p': // line arguments
			s, err := p.line()
			if err != nil {
				return err
			}
			if op == 'S' || op == 'V' {
				push(strings.Trim(s, `'"`))
			}
		case 'h', 'q', 'K', 0x80, 0x82: // one-byte arguments
			if err := p.skip(1); err != nil {
				return err
			}
		case 'M', 0x83:
			if err := p.skip(2); err != nil {
				return err
			}
		case 'j', 'r', 'J', 0x84:
			if err := p.skip(4); err != nil {
				return err
			}
		case 'G', 0x95: // BINFLOAT, FRAME
			if err := p.skip(8); err != nil {
				return err
			}
		case 'U', 'C', 0x8c, 0x8a: // SHORT_BINSTRING, SHORT_BINBYTES, SHORT_BINUNICODE, LONG1: 1-byte length
			n, err := p.uint(1)
			if err != nil {
				return err
			}
			b, err := p.bytes(n)
			if err != nil {
				return err
			}
			if op != 0x8a {
				push(string(b))
			}
		case 'T', 'X', 'B', 0x8b: // 4-byte length
			n, err := p.uint(4)
			if err != nil {
				return err
			}
			b, err := p.bytes(n)
			if err != nil {
				return err
			}
			if op != 0x8b {
				push(string(b))
			}
		case 0x8d, 0x8e, 0x96: // 8-byte length
			n, err := p.uint(8)
			if err != nil {
				return err
			}
			b, err := p.bytes(n)
			if err != nil {
				return err
			}
			push(string(b))
		case 'a', 'b', 'd', 'e', 'l', 'o', 's', 't', 'u', '(', '0', '1', '2', 'N', 'R', ']', '}', ')',
			0x81, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8f, 0x90, 0x91, 0x92, 0x94, 0x97, 0x98, 'Q':
			// No argument. Calls (REDUCE, OBJ, NEWOBJ, BUILD) can only call
			// what a GLOBAL brought onto the stack, and every GLOBAL has
			// been checked.
		default:
			return fmt.Errorf("unknown pickle opcode 0x%02x at offset %d", op, at)
		}
	}
	return fmt.Errorf("more than %d opcodes", maxPickleOps)
}
