package registry

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The pickles in testdata/ were written by CPython 3.11's pickle module
// (protocols 0, 2, 4 and 5; torch_*.pt as torch.save lays out its zip,
// with a stand-in torch._utils module); the offsets below are where
// CPython's own pickletools.genops puts the importing opcode.
func TestScanPickle(t *testing.T) {
	for _, tc := range []struct {
		file, opcode, global, member string
		offset                       int64
	}{
		{"safe_p0.pkl", "", "", "", 0},
		{"safe_p2.pkl", "", "", "", 0},
		{"safe_p4.pkl", "", "", "", 0},
		{"safe_p5.pkl", "", "", "", 0},
		{"torch_safe.pt", "", "", "", 0},
		{"os_system_p0.pkl", "GLOBAL", "posix.system", "", 0},
		{"os_system_p2.pkl", "GLOBAL", "posix.system", "", 2},
		{"os_system_p4.pkl", "STACK_GLOBAL", "posix.system", "", 28},
		{"builtins_eval_p2.pkl", "GLOBAL", "__builtin__.eval", "", 2},
		{"subprocess_popen_p4.pkl", "STACK_GLOBAL", "subprocess.Popen", "", 32},
		{"torch_evil.pt", "GLOBAL", "posix.system", "archive/data.pkl", 41},
	} {
		b, err := os.ReadFile(filepath.Join("testdata", tc.file))
		if err != nil {
			t.Fatal(err)
		}
		err = ScanPickle(bytes.NewReader(b), int64(len(b)))
		if tc.opcode == "" {
			if err != nil {
				t.Errorf("%s: %v", tc.file, err)
			}
			continue
		}
		var ue *UnsafePickleError
		if !errors.As(err, &ue) || ue.Opcode != tc.opcode || ue.Global != tc.global || ue.Offset != tc.offset || ue.Member != tc.member {
			t.Errorf("%s: %v (%+v), want %s %s at %d", tc.file, err, ue, tc.opcode, tc.global, tc.offset)
		}
	}
}

// TestStackGlobalFromMemo: module and name fetched from the memo, where
// the scanner did not see them pushed, are refused rather than guessed.
func TestStackGlobalFromMemo(t *testing.T) {
	p := []byte{0x80, 4}
	p = append(p, 0x8c, 2, 'o', 's', 0x94)                                         // "os", memo 0
	p = append(p, 0x8c, 6, 's', 'y', 's', 't', 'e', 'm', 0x94)                     // "system", memo 1
	p = append(p, '0', '0')                                                        // pop both
	p = append(p, 0x8c, 11, 'c', 'o', 'l', 'l', 'e', 'c', 't', 'i', 'o', 'n', 's') // a harmless string last seen
	p = append(p, '0', 'h', 0, 'h', 1, 0x93, ')', 'R', '.')
	var ue *UnsafePickleError
	if err := ScanPickle(bytes.NewReader(p), int64(len(p))); !errors.As(err, &ue) || ue.Opcode != "STACK_GLOBAL" {
		t.Fatalf("memo-fed STACK_GLOBAL: %v", err)
	}
	for _, bad := range [][]byte{{0x80, 4, 0x8c, 5, 'a'}, {0x80, 2, 0xff, '.'}, {0x80, 2, 'N'}} {
		if err := ScanPickle(bytes.NewReader(bad), int64(len(bad))); err == nil {
			t.Errorf("%x accepted", bad)
		}
	}
}

func TestParseTensors(t *testing.T) {
	for _, tc := range []struct {
		file, want string
		tensors    int
	}{
		{"good.safetensors", "", 2},
		{"overlap.safetensors", "overlap", 0},
		{"shape_mismatch.safetensors", "data_offsets hold 16", 0},
		{"outside.safetensors", "outside", 0},
		{"huge_header.safetensors", "header of 1099511627776 bytes", 0},
		{"good.gguf", "", 1},
		{"huge_array.gguf", "array of 1099511627776 values", 0},
	} {
		b, err := os.ReadFile(filepath.Join("testdata", tc.file))
		if err != nil {
			t.Fatal(err)
		}
		var n int
		if strings.HasSuffix(tc.file, ".gguf") {
			n, err = ParseGGUF(bytes.NewReader(b), int64(len(b)))
		} else {
			n, err = ParseSafetensors(bytes.NewReader(b), int64(len(b)))
		}
		switch {
		case tc.want == "" && (err != nil || n != tc.tensors):
			t.Errorf("%s: %d tensors, %v", tc.file, n, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: %v, want an error with %q", tc.file, err, tc.want)
		}
	}
}

func TestCheckArtifact(t *testing.T) {
	dir := t.TempDir()
	copyFile := func(from, to string) {
		b, err := os.ReadFile(filepath.Join("testdata", from))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, to)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, to), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	copyFile("good.safetensors", "model.safetensors")
	copyFile("torch_safe.pt", "weights/pytorch_model.bin")
	copyFile("safe_p2.pkl", "tokenizer.json")
	_ = os.MkdirAll(filepath.Join(dir, ".git"), 0o755)
	_ = os.WriteFile(filepath.Join(dir, ".git", "HEAD"), []byte("ref"), 0o644)
	rep, err := CheckArtifact(dir)
	if err != nil || !rep.OK || len(rep.Files) != 3 {
		t.Fatalf("clean artifact: %v %+v", err, rep)
	}
	copyFile("os_system_p2.pkl", "extra/optimizer.pt")
	_ = os.WriteFile(filepath.Join(dir, "handler.py"), []byte("import os"), 0o644)
	_ = os.Symlink("/etc/passwd", filepath.Join(dir, "link.json"))
	rep, err = CheckArtifact(dir)
	if err != nil || rep.OK {
		t.Fatalf("unsafe artifact passed: %v %+v", err, rep)
	}
	got := strings.Join(rep.Problems(), "\n")
	for _, want := range []string{"extra/optimizer.pt: unsafe pickle: GLOBAL posix.system at offset 2", `handler.py: file type ".py" is not allowed`, "link.json: symbolic links are not allowed"} {
		if !strings.Contains(got, want) {
			t.Errorf("problems lack %q:\n%s", want, got)
		}
	}
	if _, err := CheckArtifact(filepath.Join(dir, "missing")); err == nil {
		t.Error("a missing directory passed")
	}
}

func FuzzScanPickle(f *testing.F) {
	for _, name := range []string{"safe_p2.pkl", "safe_p4.pkl", "os_system_p4.pkl", "torch_safe.pt"} {
		b, _ := os.ReadFile(filepath.Join("testdata", name))
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		_ = ScanPickle(bytes.NewReader(b), int64(len(b)))
	})
}

func FuzzParseSafetensors(f *testing.F) {
	b, _ := os.ReadFile(filepath.Join("testdata", "good.safetensors"))
	f.Add(b)
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = ParseSafetensors(bytes.NewReader(b), int64(len(b)))
	})
}

func FuzzParseGGUF(f *testing.F) {
	b, _ := os.ReadFile(filepath.Join("testdata", "good.gguf"))
	f.Add(b)
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = ParseGGUF(bytes.NewReader(b), int64(len(b)))
	})
}
