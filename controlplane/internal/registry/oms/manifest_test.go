package oms

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// writeModel makes a model directory from path → content ("/" separators).
func writeModel(t testing.TB, files map[string]string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "model")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for p, c := range files {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func sha(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// listing is a manifest as "name=hexdigest" lines, for comparison.
func listing(m ModelManifest) []string {
	var out []string
	for _, r := range m.Resources {
		out = append(out, r.Name+"="+hex.EncodeToString(r.Digest))
	}
	return out
}

func names(m ModelManifest) []string {
	var out []string
	for _, r := range m.Resources {
		out = append(out, r.Name)
	}
	return out
}

// wantRoot is the root digest computed independently: SHA-256 over the
// raw digests in order.
func wantRoot(t *testing.T, hexDigests ...string) string {
	t.Helper()
	h := sha256.New()
	for _, d := range hexDigests {
		b, err := hex.DecodeString(d)
		if err != nil {
			t.Fatal(err)
		}
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil))
}

func mustManifest(t testing.TB, dir string, opts Options) ModelManifest {
	t.Helper()
	m, err := Manifest(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestManifestFiles(t *testing.T) {
	dir := writeModel(t, map[string]string{"weights.bin": "0123456789", "config.json": "{}", "tok/vocab.txt": "a\nb\n"})
	m := mustManifest(t, dir, Options{})
	want := []string{"config.json=" + sha("{}"), "tok/vocab.txt=" + sha("a\nb\n"), "weights.bin=" + sha("0123456789")}
	if got := listing(m); !slices.Equal(got, want) {
		t.Fatalf("resources\n got %v\nwant %v", got, want)
	}
	if got := m.RootDigestHex(); got != wantRoot(t, sha("{}"), sha("a\nb\n"), sha("0123456789")) {
		t.Errorf("root %s", got)
	}
	if m.ModelName != "model" {
		t.Errorf("model name %q", m.ModelName)
	}
	for _, r := range m.Resources {
		if r.Algorithm != "sha256" {
			t.Errorf("%s: algorithm %q", r.Name, r.Algorithm)
		}
	}
	s := m.Serialization
	if s.Method != MethodFiles || s.HashType != HashSHA256 || s.ShardSize != 0 || s.AllowSymlinks ||
		!slices.Equal(s.IgnorePaths, []string{".git", ".gitattributes", ".github", ".gitignore", "model.sig"}) {
		t.Errorf("serialization %+v", s)
	}
}

func TestManifestShards(t *testing.T) {
	dir := writeModel(t, map[string]string{"f": "0123456789", "g": "abcd", "empty": "", "d/h": "xy"})
	m := mustManifest(t, dir, Options{Method: MethodShards, ShardSize: 4})
	want := []string{
		"d/h:0:2=" + sha("xy"),
		"f:0:4=" + sha("0123"), "f:4:8=" + sha("4567"), "f:8:10=" + sha("89"),
		"g:0:4=" + sha("abcd"),
		// "empty" has no shards, as in the reference implementation.
	}
	if got := listing(m); !slices.Equal(got, want) {
		t.Fatalf("resources\n got %v\nwant %v", got, want)
	}
	for _, r := range m.Resources {
		if r.Algorithm != "sha256-sharded-4" {
			t.Errorf("%s: algorithm %q", r.Name, r.Algorithm)
		}
	}
	if m.Serialization.ShardSize != 4 {
		t.Errorf("shard size %d", m.Serialization.ShardSize)
	}

	// Offsets sort as numbers: f:2:3 before f:10:11.
	m = mustManifest(t, writeModel(t, map[string]string{"f": "abcdefghijkl"}), Options{Method: MethodShards, ShardSize: 1})
	got := names(m)
	if len(got) != 12 || got[2] != "f:2:3" || got[10] != "f:10:11" || got[11] != "f:11:12" {
		t.Errorf("shard order %v", got)
	}

	// The default shard size is 10^9: one shard per small file.
	m = mustManifest(t, writeModel(t, map[string]string{"f": "abc"}), Options{Method: MethodShards})
	if got := listing(m); !slices.Equal(got, []string{"f:0:3=" + sha("abc")}) || m.Resources[0].Algorithm != "sha256-sharded-1000000000" {
		t.Errorf("default shards %v %+v", got, m.Resources)
	}
}

func TestManifestBLAKE2b(t *testing.T) {
	m := mustManifest(t, writeModel(t, map[string]string{"f": "abc"}), Options{HashType: HashBLAKE2b})
	// BLAKE2b-512("abc"), RFC 7693 appendix A.
	const want = "ba80a53f981c4d0d6a2797b69f12f6e94c212f14685ac4b74b12bb6fdbffa2d17d87c5392aab792dc252d5de4533cc9518d38aa8dbf1925ab92386edd4009923"
	if len(m.Resources) != 1 || hex.EncodeToString(m.Resources[0].Digest) != want || m.Resources[0].Algorithm != "blake2b" {
		t.Fatalf("%+v", m.Resources)
	}
	// The root digest is SHA-256 whatever the file hash.
	if m.RootDigestHex() != wantRoot(t, want) {
		t.Errorf("root %s", m.RootDigestHex())
	}
}

func TestManifestUnicodeOrder(t *testing.T) {
	dir := writeModel(t, map[string]string{
		"z": "1", "Z": "2", "a.b": "3", "a/b": "4", "ä": "5", "é": "6", "日本/語": "7", "e\u0301": "8", "a b": "9",
	})
	m := mustManifest(t, dir, Options{})
	// Component by component, each by code point: "a/b" (component "a")
	// sorts before "a.b"; decomposed "e\u0301" before "é"; no Unicode
	// normalization.
	want := []string{"Z", "a/b", "a b", "a.b", "e\u0301", "z", "ä", "é", "日本/語"}
	if got := names(m); !slices.Equal(got, want) {
		t.Fatalf("order\n got %q\nwant %q", got, want)
	}
}

func TestManifestEmptyModel(t *testing.T) {
	for _, method := range []string{MethodFiles, MethodShards} {
		dir := writeModel(t, map[string]string{})
		if err := os.Mkdir(filepath.Join(dir, "empty-dir"), 0o755); err != nil {
			t.Fatal(err)
		}
		m := mustManifest(t, dir, Options{Method: method})
		if len(m.Resources) != 0 || m.RootDigestHex() != "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" {
			t.Errorf("%s: %+v", method, m)
		}
	}
}

func TestManifestNested(t *testing.T) {
	dir := writeModel(t, map[string]string{"d0/d1/d2/d3/d4/f0": "0", "d0/d1/d2/d3/d4/f1": "1", "d0/f": "x", "top": "t"})
	want := []string{"d0/d1/d2/d3/d4/f0", "d0/d1/d2/d3/d4/f1", "d0/f", "top"}
	if got := names(mustManifest(t, dir, Options{})); !slices.Equal(got, want) {
		t.Fatalf("got %v", got)
	}
}

func TestManifestIgnorePaths(t *testing.T) {
	dir := writeModel(t, map[string]string{
		"keep": "k", "skip.txt": "s", "logs/a": "a", "logs/deep/b": "b", "logsX/c": "c", "sub/skip.txt": "n", "sub/x/y": "y",
	})
	m := mustManifest(t, dir, Options{IgnorePaths: []string{"skip.txt", "logs/", "./sub/x"}})
	want := []string{"keep", "logsX/c", "sub/skip.txt"}
	if got := names(m); !slices.Equal(got, want) {
		t.Fatalf("got %v", got)
	}
	wantIgnore := []string{".git", ".gitattributes", ".github", ".gitignore", "logs", "model.sig", "skip.txt", "sub/x"}
	if !slices.Equal(m.Serialization.IgnorePaths, wantIgnore) {
		t.Errorf("recorded ignore paths %v", m.Serialization.IgnorePaths)
	}
	for _, bad := range []string{"../outside", "/etc", ".", "", "a/../.."} {
		if _, err := Manifest(dir, Options{IgnorePaths: []string{bad}}); err == nil {
			t.Errorf("ignore path %q accepted", bad)
		}
	}
}

func TestManifestDefaultExclusions(t *testing.T) {
	files := map[string]string{
		"w": "w", ".git/HEAD": "ref", ".git/objects/ab/cd": "obj", ".gitignore": "*.tmp", ".gitattributes": "* -text",
		".github/workflows/ci.yml": "on: push", "model.sig": "{}", ".gitfoo": "kept", "sub/.gitignore": "kept too",
	}
	dir := writeModel(t, files)
	want := []string{".gitfoo", "sub/.gitignore", "w"}
	if got := names(mustManifest(t, dir, Options{})); !slices.Equal(got, want) {
		t.Fatalf("got %v", got)
	}
	// Another signature file name; model.sig is then an ordinary file.
	if got := names(mustManifest(t, dir, Options{SignatureFile: "w"})); !slices.Equal(got, []string{".gitfoo", "model.sig", "sub/.gitignore"}) {
		t.Errorf("signature file w: %v", got)
	}
	m := mustManifest(t, dir, Options{IncludeGitPaths: true})
	want = []string{".git/HEAD", ".git/objects/ab/cd", ".gitattributes", ".gitfoo", ".github/workflows/ci.yml", ".gitignore", "sub/.gitignore", "w"}
	if got := names(m); !slices.Equal(got, want) {
		t.Errorf("with git paths: %v", got)
	}
	if !slices.Equal(m.Serialization.IgnorePaths, []string{"model.sig"}) {
		t.Errorf("recorded %v", m.Serialization.IgnorePaths)
	}
}

func symlink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.Symlink(target, link); err != nil {
		t.Fatalf("symlinks: %v", err)
	}
}

func TestManifestSymlinks(t *testing.T) {
	dir := writeModel(t, map[string]string{"real.bin": "data", "d/inner": "i"})
	symlink(t, "real.bin", filepath.Join(dir, "link.bin"))
	symlink(t, "d", filepath.Join(dir, "dlink"))

	_, err := Manifest(dir, Options{})
	var pe *PathError
	if !errors.Is(err, ErrSymlink) || !errors.As(err, &pe) || (pe.Path != "dlink" && pe.Path != "link.bin") {
		t.Fatalf("symlink refused: %v", err)
	}
	if !strings.Contains(err.Error(), "allow_symlinks") {
		t.Errorf("message %q", err)
	}

	m := mustManifest(t, dir, Options{AllowSymlinks: true})
	want := []string{"d/inner=" + sha("i"), "dlink/inner=" + sha("i"), "link.bin=" + sha("data"), "real.bin=" + sha("data")}
	if got := listing(m); !slices.Equal(got, want) {
		t.Fatalf("followed\n got %v\nwant %v", got, want)
	}
	if !m.Serialization.AllowSymlinks {
		t.Error("allow_symlinks not recorded")
	}

	// An ignored link is never looked at.
	if got := names(mustManifest(t, dir, Options{IgnorePaths: []string{"link.bin", "dlink"}})); !slices.Equal(got, []string{"d/inner", "real.bin"}) {
		t.Errorf("ignored links: %v", got)
	}
}

func TestManifestSymlinkEscapes(t *testing.T) {
	outside := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(outside, []byte("s"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"absolute", "relative", "parent"} {
		t.Run(name, func(t *testing.T) {
			dir := writeModel(t, map[string]string{"f": "x"})
			target := map[string]string{"absolute": outside, "parent": ".."}[name]
			if name == "relative" {
				var err error
				if target, err = filepath.Rel(dir, outside); err != nil {
					t.Fatal(err)
				}
			}
			symlink(t, target, filepath.Join(dir, "esc"))
			_, err := Manifest(dir, Options{AllowSymlinks: true})
			var pe *PathError
			if !errors.Is(err, ErrSymlinkEscapes) || !errors.As(err, &pe) || pe.Path != "esc" {
				t.Fatalf("escaping link: %v", err)
			}
		})
	}
	// A link into a subdirectory through "..": stays inside, followed.
	dir := writeModel(t, map[string]string{"a/f": "x", "b/g": "y"})
	symlink(t, "../b/g", filepath.Join(dir, "a", "toG"))
	if got := names(mustManifest(t, dir, Options{AllowSymlinks: true})); !slices.Equal(got, []string{"a/f", "a/toG", "b/g"}) {
		t.Errorf("inside link: %v", got)
	}
}

func TestManifestSymlinkCycleAndBroken(t *testing.T) {
	dir := writeModel(t, map[string]string{"d/f": "x"})
	symlink(t, "..", filepath.Join(dir, "d", "up"))
	if _, err := Manifest(dir, Options{AllowSymlinks: true}); !errors.Is(err, ErrSymlinkCycle) || !strings.Contains(err.Error(), "d/up") {
		t.Fatalf("cycle: %v", err)
	}
	dir = writeModel(t, map[string]string{"f": "x"})
	symlink(t, "nowhere", filepath.Join(dir, "broken"))
	if _, err := Manifest(dir, Options{AllowSymlinks: true}); err == nil || !strings.Contains(err.Error(), "broken") {
		t.Fatalf("broken link: %v", err)
	}
}

func TestManifestSymlinkedRoot(t *testing.T) {
	dir := writeModel(t, map[string]string{"f": "x"})
	link := filepath.Join(t.TempDir(), "model-link")
	symlink(t, dir, link)
	m := mustManifest(t, link, Options{})
	if !slices.Equal(names(m), []string{"f"}) || m.ModelName != "model-link" {
		t.Errorf("%+v", m)
	}
}

func TestManifestSpecialFile(t *testing.T) {
	dir := writeModel(t, map[string]string{"f": "x"})
	l, err := net.Listen("unix", filepath.Join(dir, "sock"))
	if err != nil {
		t.Fatalf("unix socket: %v", err)
	}
	defer l.Close()
	if _, err := Manifest(dir, Options{}); !errors.Is(err, ErrNotRegular) || !strings.Contains(err.Error(), "sock") {
		t.Fatalf("socket: %v", err)
	}
	if _, err := Manifest(dir, Options{IgnorePaths: []string{"sock"}}); err != nil {
		t.Fatalf("ignored socket: %v", err)
	}
}

func TestManifestBadName(t *testing.T) {
	dir := writeModel(t, map[string]string{"f": "x"})
	if err := os.WriteFile(filepath.Join(dir, "bad\xff"), nil, 0o644); err != nil {
		t.Fatalf("non-UTF-8 name: %v", err)
	}
	if _, err := Manifest(dir, Options{}); !errors.Is(err, ErrBadName) {
		t.Fatalf("got %v", err)
	}
}

func TestManifestOptionsAndErrors(t *testing.T) {
	dir := writeModel(t, map[string]string{"f": "x"})
	for name, o := range map[string]Options{
		"unknown method":   {Method: "tensors"},
		"unknown hash":     {HashType: "md5"},
		"negative shard":   {Method: MethodShards, ShardSize: -1},
		"shard for files":  {ShardSize: 10},
		"huge shard":       {Method: MethodShards, ShardSize: 1 << 60},
		"bad sig filename": {SignatureFile: "../model.sig"},
	} {
		if _, err := Manifest(dir, o); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := Manifest(filepath.Join(dir, "missing"), Options{}); err == nil {
		t.Error("missing model accepted")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := ManifestContext(ctx, dir, Options{}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
	if m := mustManifest(t, dir, Options{ModelName: "llama"}); m.ModelName != "llama" {
		t.Errorf("model name %q", m.ModelName)
	}
}

func TestManifestSingleFile(t *testing.T) {
	dir := writeModel(t, map[string]string{"model.gguf": "gguf"})
	m := mustManifest(t, filepath.Join(dir, "model.gguf"), Options{})
	if got := listing(m); !slices.Equal(got, []string{".=" + sha("gguf")}) || m.ModelName != "model.gguf" {
		t.Errorf("%v %q", got, m.ModelName)
	}
	m = mustManifest(t, filepath.Join(dir, "model.gguf"), Options{Method: MethodShards, ShardSize: 3})
	if got := names(m); !slices.Equal(got, []string{".:0:3", ".:3:4"}) {
		t.Errorf("%v", got)
	}
}

func TestManifestLargeFileStreams(t *testing.T) {
	// Larger than the hash buffer, with shards that straddle it.
	dir := writeModel(t, map[string]string{})
	big := make([]byte, 3*hashBufSize+17)
	for i := range big {
		big[i] = byte(i * 7)
	}
	if err := os.WriteFile(filepath.Join(dir, "big"), big, 0o644); err != nil {
		t.Fatal(err)
	}
	m := mustManifest(t, dir, Options{Method: MethodShards, ShardSize: hashBufSize + 5})
	var want []string
	for start := 0; start < len(big); start += hashBufSize + 5 {
		end := min(start+hashBufSize+5, len(big))
		want = append(want, "big:"+strconv.Itoa(start)+":"+strconv.Itoa(end)+"="+sha(string(big[start:end])))
	}
	if got := listing(m); !slices.Equal(got, want) {
		t.Fatalf("got %v\nwant %v", got, want)
	}
	m = mustManifest(t, dir, Options{})
	if got := listing(m); !slices.Equal(got, []string{"big=" + sha(string(big))}) {
		t.Fatalf("files: %v", got)
	}
}

func TestComparePaths(t *testing.T) {
	for _, c := range []struct {
		a, b string
		want int
	}{
		{"a", "a", 0}, {"a", "b", -1}, {"a/b", "a.b", -1}, {"a", "a/b", -1}, {"a/b/c", "a/b", 1}, {"B", "a", -1},
	} {
		if got := comparePaths(c.a, c.b); got != c.want {
			t.Errorf("comparePaths(%q, %q) = %d", c.a, c.b, got)
		}
	}
	if compareNames("f:2:3", "f:10:11", true) != -1 || compareNames("a/b:0:1", "a.b:0:1", true) != -1 {
		t.Error("shard order")
	}
}
