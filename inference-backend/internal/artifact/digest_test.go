package artifact

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"
)

func TestRootDigest(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) {
		p := filepath.Join(dir, filepath.FromSlash(name))
		_ = os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("model.safetensors", "weights")
	write("b/config.json", "{}")
	write(".git/HEAD", "ignored")
	// By hand: the files in name order ("b/config.json" < "model.safetensors"),
	// each's SHA-256, then the SHA-256 of the two raw digests.
	a, b := sha256.Sum256([]byte("{}")), sha256.Sum256([]byte("weights"))
	want := sha256.Sum256(append(a[:], b[:]...))
	got, err := RootDigest(dir)
	if err != nil || got != "sha256:"+hex.EncodeToString(want[:]) {
		t.Fatalf("RootDigest = %s, %v", got, err)
	}
	// Component order: "a/b" sorts before "a.b" ('/' is not compared).
	dir2 := t.TempDir()
	for _, n := range []string{"a.b", "a/b"} {
		p := filepath.Join(dir2, filepath.FromSlash(n))
		_ = os.MkdirAll(filepath.Dir(p), 0o755)
		_ = os.WriteFile(p, []byte(n), 0o644)
	}
	x, y := sha256.Sum256([]byte("a/b")), sha256.Sum256([]byte("a.b"))
	want2 := sha256.Sum256(append(x[:], y[:]...))
	if got2, _ := RootDigest(dir2); got2 != "sha256:"+hex.EncodeToString(want2[:]) {
		t.Errorf("component order: %s", got2)
	}
	write("model.safetensors", "weightz")
	if again, _ := RootDigest(dir); again == got {
		t.Error("a changed byte left the digest unchanged")
	}
	_ = os.Symlink("/etc/passwd", filepath.Join(dir, "link"))
	if _, err := RootDigest(dir); err == nil {
		t.Error("a symbolic link was hashed")
	}
}
