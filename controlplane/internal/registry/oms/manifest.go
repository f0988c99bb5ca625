package oms

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"golang.org/x/crypto/blake2b"
)

// Serialization methods and hash types of the OMS v1.0 predicate.
const (
	MethodFiles  = "files"
	MethodShards = "shards"

	HashSHA256  = "sha256"
	HashBLAKE2b = "blake2b"

	// DefaultShardSize is the reference implementation's default shard
	// size: 1 GB (10^9 bytes, not 2^30).
	DefaultShardSize int64 = 1_000_000_000

	// DefaultSignatureFile is where OMS tools put the signature by
	// default; it is excluded from the manifest.
	DefaultSignatureFile = "model.sig"

	// maxShardSize bounds shard_size so start/end stay exact in the JSON
	// numbers (a double) other implementations parse them into.
	maxShardSize int64 = 1 << 53
)

// defaultExclusions are the git paths the reference implementation leaves
// out of every manifest unless told otherwise.
var defaultExclusions = []string{".git", ".gitattributes", ".github", ".gitignore"}

// hashBufSize is the read size of the streaming hashers: the same 1 MiB
// chunk the reference implementation reads with.
const hashBufSize = 1 << 20

// Options control the file walk and hashing.
type Options struct {
	// Method is MethodFiles (the default) or MethodShards.
	Method string
	// HashType is HashSHA256 (the default) or HashBLAKE2b.
	HashType string
	// ShardSize is the shard length for MethodShards; 0 means
	// DefaultShardSize.
	ShardSize int64
	// AllowSymlinks follows symbolic links (to files and directories)
	// instead of refusing them. A link whose target leaves the model
	// directory, or that forms a cycle, is refused either way.
	AllowSymlinks bool
	// IgnorePaths are relative to the model directory, with "/" between
	// components; a directory excludes everything under it. They are
	// recorded in the signed predicate.
	IgnorePaths []string
	// SignatureFile is the signature's path relative to the model
	// directory; "" means DefaultSignatureFile. It is always excluded.
	SignatureFile string
	// IncludeGitPaths keeps .git, .gitattributes, .github and .gitignore in
	// the manifest instead of excluding them.
	IncludeGitPaths bool
	// ModelName names the subject; "" means the directory's base name.
	ModelName string
}

// Serialization is the predicate's record of how the manifest was made:
// what a verifier needs to make it again.
type Serialization struct {
	Method        string
	HashType      string
	ShardSize     int64 // MethodShards only
	AllowSymlinks bool
	IgnorePaths   []string
}

// Resource is one file (MethodFiles) or one shard "path:start:end"
// (MethodShards) with its digest.
type Resource struct {
	Name      string
	Algorithm string
	Digest    []byte
}

// ModelManifest is a model directory's OMS manifest.
type ModelManifest struct {
	ModelName     string
	Serialization Serialization
	// Resources are in canonical order (see compareNames).
	Resources []Resource
	// RootDigest is SHA-256 over the resource digests, raw and
	// concatenated in order: the subject digest of the statement.
	RootDigest []byte
}

// RootDigestHex is RootDigest in lower-case hex, as the statement holds it.
func (m ModelManifest) RootDigestHex() string { return hex.EncodeToString(m.RootDigest) }

// PathError names the path a walk or hash failed at.
type PathError struct {
	Path string // relative to the model directory, "/"-separated
	Err  error
}

func (e *PathError) Error() string { return fmt.Sprintf("%s: %v", e.Path, e.Err) }
func (e *PathError) Unwrap() error { return e.Err }

// Walk errors, wrapped in a *PathError.
var (
	ErrSymlink        = errors.New("is a symbolic link and allow_symlinks is false")
	ErrSymlinkEscapes = errors.New("symbolic link points outside the model directory")
	ErrSymlinkCycle   = errors.New("symbolic link forms a cycle")
	ErrNotRegular     = errors.New("is neither a regular file nor a directory")
	ErrBadName        = errors.New("name is not valid UTF-8")
	ErrChanged        = errors.New("file changed while it was hashed")
)

// Manifest walks dir and hashes it as opts say: the manifest a signature
// over dir would carry.
func Manifest(dir string, opts Options) (ModelManifest, error) {
	return ManifestContext(context.Background(), dir, opts)
}

// ManifestContext is Manifest, stopping when ctx is done.
func ManifestContext(ctx context.Context, dir string, opts Options) (ModelManifest, error) {
	ser, err := opts.serialization()
	if err != nil {
		return ModelManifest{}, err
	}
	name := opts.ModelName
	if name == "" {
		name, err = modelName(dir)
		if err != nil {
			return ModelManifest{}, err
		}
	}
	w := walkConfig{ser: ser, ignore: ser.IgnorePaths}
	return w.manifest(ctx, dir, name)
}

// serialization validates opts and returns what the predicate records:
// the ignore paths include the default exclusions and the signature file,
// sorted and without duplicates.
func (o Options) serialization() (Serialization, error) {
	s := Serialization{Method: o.Method, HashType: o.HashType, AllowSymlinks: o.AllowSymlinks}
	if s.Method == "" {
		s.Method = MethodFiles
	}
	if s.HashType == "" {
		s.HashType = HashSHA256
	}
	switch s.Method {
	case MethodFiles:
		if o.ShardSize != 0 {
			return Serialization{}, errors.New("oms: shard size is only for the shards method")
		}
	case MethodShards:
		s.ShardSize = o.ShardSize
		if s.ShardSize == 0 {
			s.ShardSize = DefaultShardSize
		}
	default:
		return Serialization{}, fmt.Errorf("oms: unknown serialization method %q (want %q or %q)", s.Method, MethodFiles, MethodShards)
	}
	if err := s.check(); err != nil {
		return Serialization{}, err
	}
	sig := o.SignatureFile
	if sig == "" {
		sig = DefaultSignatureFile
	}
	ignore := append([]string{}, o.IgnorePaths...)
	ignore = append(ignore, sig)
	if !o.IncludeGitPaths {
		ignore = append(ignore, defaultExclusions...)
	}
	for i, p := range ignore {
		c, err := cleanRelative(p)
		if err != nil {
			return Serialization{}, fmt.Errorf("oms: ignore path %q: %w", p, err)
		}
		ignore[i] = c
	}
	slices.Sort(ignore)
	s.IgnorePaths = slices.Compact(ignore)
	return s, nil
}

// check validates the parts of a Serialization that hashing depends on.
func (s Serialization) check() error {
	if _, err := newHash(s.HashType); err != nil {
		return err
	}
	switch s.Method {
	case MethodFiles:
		if s.ShardSize != 0 {
			return errors.New("oms: shard_size is only for the shards method")
		}
	case MethodShards:
		if s.ShardSize <= 0 || s.ShardSize > maxShardSize {
			return fmt.Errorf("oms: shard size %d out of range (1..%d)", s.ShardSize, maxShardSize)
		}
	default:
		return fmt.Errorf("oms: unknown serialization method %q", s.Method)
	}
	return nil
}

// resourceAlgorithm is the algorithm the reference implementation writes
// for each resource: the hash name, suffixed with the shard size for
// shards.
func (s Serialization) resourceAlgorithm() string {
	if s.Method == MethodShards {
		return s.HashType + "-sharded-" + strconv.FormatInt(s.ShardSize, 10)
	}
	return s.HashType
}

func newHash(hashType string) (hash.Hash, error) {
	switch hashType {
	case HashSHA256:
		return sha256.New(), nil
	case HashBLAKE2b:
		return blake2b.New512(nil)
	default:
		return nil, fmt.Errorf("oms: unsupported hash type %q (want %q or %q)", hashType, HashSHA256, HashBLAKE2b)
	}
}

func digestSize(hashType string) int {
	if hashType == HashBLAKE2b {
		return blake2b.Size
	}
	return sha256.Size
}

// cleanRelative checks that p names something inside the model directory
// and returns it cleaned, with "/" separators.
func cleanRelative(p string) (string, error) {
	if p == "" {
		return "", errors.New("empty path")
	}
	if !utf8.ValidString(p) || strings.ContainsRune(p, 0) {
		return "", errors.New("not valid UTF-8 or contains NUL")
	}
	p = filepath.ToSlash(p)
	if path.IsAbs(p) || filepath.IsAbs(p) {
		return "", errors.New("must be relative to the model directory")
	}
	c := path.Clean(p)
	if c == "." {
		return "", errors.New("names the model directory itself")
	}
	if c == ".." || strings.HasPrefix(c, "../") {
		return "", errors.New("leaves the model directory")
	}
	return c, nil
}

// ignored reports whether rel (a manifest path) is one of the ignore paths
// or lies under one.
func ignored(rel string, ignore []string) bool {
	for _, p := range ignore {
		if rel == p || strings.HasPrefix(rel, p+"/") {
			return true
		}
	}
	return false
}

func modelName(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("oms: %w", err)
	}
	return filepath.Base(abs), nil
}

// walkConfig is what one walk needs.
type walkConfig struct {
	ser    Serialization
	ignore []string // paths excluded from the walk
}

// item is one regular file found by the walk.
type item struct {
	rel  string // manifest path
	real string // the file to read (a symlink's target, resolved)
}

func (w walkConfig) manifest(ctx context.Context, dir, name string) (ModelManifest, error) {
	if err := w.ser.check(); err != nil {
		return ModelManifest{}, err
	}
	files, err := w.walk(dir)
	if err != nil {
		return ModelManifest{}, err
	}
	res, err := w.hashAll(ctx, files)
	if err != nil {
		return ModelManifest{}, err
	}
	slices.SortFunc(res, func(a, b Resource) int { return compareNames(a.Name, b.Name, w.ser.Method == MethodShards) })
	return ModelManifest{ModelName: name, Serialization: w.ser, Resources: res, RootDigest: rootDigest(res)}, nil
}

func rootDigest(res []Resource) []byte {
	h := sha256.New()
	for _, r := range res {
		h.Write(r.Digest)
	}
	return h.Sum(nil)
}

// walk lists the model's regular files. A model that is a single file is
// listed as ".", as the reference implementation does.
func (w walkConfig) walk(dir string) ([]item, error) {
	root, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("oms: %w", err)
	}
	// The model path itself may be a link (a checkout under a symlinked
	// home, say); what it contains is what the policy governs.
	real, err := filepath.EvalSymlinks(root)
	if err != nil {
		return nil, fmt.Errorf("oms: model %w", err)
	}
	fi, err := os.Stat(real)
	if err != nil {
		return nil, fmt.Errorf("oms: model %w", err)
	}
	switch {
	case fi.Mode().IsRegular():
		return []item{{rel: ".", real: real}}, nil
	case fi.IsDir():
	default:
		return nil, &PathError{Path: dir, Err: ErrNotRegular}
	}
	var out []item
	err = w.walkDir(real, "", real, []string{real}, &out)
	return out, err
}

// walkDir lists the directory realDir, whose manifest path is rel ("" for
// the root). stack holds the resolved directories being walked, to catch
// link cycles.
func (w walkConfig) walkDir(root, rel, realDir string, stack []string, out *[]item) error {
	entries, err := os.ReadDir(realDir)
	if err != nil {
		return &PathError{Path: orDot(rel), Err: unwrapPathErr(err)}
	}
	for _, e := range entries {
		name := e.Name()
		r := name
		if rel != "" {
			r = rel + "/" + name
		}
		if !utf8.ValidString(name) {
			return &PathError{Path: strconv.Quote(r), Err: ErrBadName}
		}
		if ignored(r, w.ignore) {
			continue
		}
		p := filepath.Join(realDir, name)
		fi, err := os.Lstat(p)
		if err != nil {
			return &PathError{Path: r, Err: unwrapPathErr(err)}
		}
		if fi.Mode()&fs.ModeSymlink != 0 {
			if !w.ser.AllowSymlinks {
				return &PathError{Path: r, Err: ErrSymlink}
			}
			target, err := filepath.EvalSymlinks(p)
			if err != nil {
				return &PathError{Path: r, Err: fmt.Errorf("broken symbolic link: %w", unwrapPathErr(err))}
			}
			if !within(root, target) {
				return &PathError{Path: r, Err: ErrSymlinkEscapes}
			}
			if fi, err = os.Stat(target); err != nil {
				return &PathError{Path: r, Err: unwrapPathErr(err)}
			}
			p = target
		}
		switch {
		case fi.Mode().IsRegular():
			*out = append(*out, item{rel: r, real: p})
		case fi.IsDir():
			if slices.Contains(stack, p) {
				return &PathError{Path: r, Err: ErrSymlinkCycle}
			}
			if err := w.walkDir(root, r, p, append(stack, p), out); err != nil {
				return err
			}
		default:
			return &PathError{Path: r, Err: ErrNotRegular}
		}
	}
	return nil
}

func orDot(rel string) string {
	if rel == "" {
		return "."
	}
	return rel
}

// unwrapPathErr drops the absolute path an *fs.PathError carries: the
// PathError around it names the model-relative one.
func unwrapPathErr(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// within reports whether target (resolved) is root or lies under it.
func within(root, target string) bool {
	r, err := filepath.Rel(root, target)
	if err != nil {
		return false
	}
	return r == "." || (r != ".." && !strings.HasPrefix(r, ".."+string(filepath.Separator)))
}

// job is one piece of hashing: a whole file, or one shard of it.
type job struct {
	it         item
	start, end int64 // shards only
	whole      bool
}

// hashAll hashes every file (or shard) with a few workers, each streaming
// through one buffer: memory stays at workers × hashBufSize whatever the
// model's size.
func (w walkConfig) hashAll(ctx context.Context, files []item) ([]Resource, error) {
	var jobs []job
	for _, it := range files {
		if w.ser.Method == MethodFiles {
			jobs = append(jobs, job{it: it, whole: true})
			continue
		}
		fi, err := os.Stat(it.real)
		if err != nil {
			return nil, &PathError{Path: it.rel, Err: unwrapPathErr(err)}
		}
		// An empty file has no shards: the reference implementation
		// lists nothing for it.
		for start := int64(0); start < fi.Size(); start += w.ser.ShardSize {
			end := min(start+w.ser.ShardSize, fi.Size())
			jobs = append(jobs, job{it: it, start: start, end: end})
		}
	}
	workers := min(runtime.GOMAXPROCS(0), 4, max(len(jobs), 1))
	jctx, cancel := context.WithCancel(ctx)
	defer cancel()
	res := make([]Resource, len(jobs))
	errs := make([]error, len(jobs))
	next := make(chan int)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, hashBufSize)
			for i := range next {
				res[i], errs[i] = w.hashJob(jctx, jobs[i], buf)
				if errs[i] != nil {
					cancel() // the first failure stops the others
				}
			}
		}()
	}
feed:
	for i := range jobs {
		select {
		case next <- i:
		case <-jctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	// Report a real failure, not the cancellations it caused.
	var first error
	for _, err := range errs {
		if err == nil {
			continue
		}
		if !errors.Is(err, context.Canceled) {
			return nil, err
		}
		if first == nil {
			first = err
		}
	}
	if first != nil {
		return nil, first
	}
	return res, nil
}

func (w walkConfig) hashJob(ctx context.Context, j job, buf []byte) (Resource, error) {
	h, err := newHash(w.ser.HashType)
	if err != nil {
		return Resource{}, err
	}
	f, err := os.Open(j.it.real)
	if err != nil {
		return Resource{}, &PathError{Path: j.it.rel, Err: unwrapPathErr(err)}
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return Resource{}, &PathError{Path: j.it.rel, Err: unwrapPathErr(err)}
	}
	if !fi.Mode().IsRegular() {
		return Resource{}, &PathError{Path: j.it.rel, Err: ErrNotRegular}
	}
	name := j.it.rel
	var r io.Reader = f
	want := fi.Size()
	if !j.whole {
		if j.end > fi.Size() {
			return Resource{}, &PathError{Path: j.it.rel, Err: ErrChanged}
		}
		r = io.NewSectionReader(f, j.start, j.end-j.start)
		want = j.end - j.start
		name = fmt.Sprintf("%s:%d:%d", j.it.rel, j.start, j.end)
	}
	n, err := io.CopyBuffer(h, ctxReader{ctx: ctx, r: r}, buf)
	if err != nil {
		if ctx.Err() != nil {
			return Resource{}, ctx.Err()
		}
		return Resource{}, &PathError{Path: j.it.rel, Err: unwrapPathErr(err)}
	}
	if n != want {
		return Resource{}, &PathError{Path: j.it.rel, Err: ErrChanged}
	}
	return Resource{Name: name, Algorithm: w.ser.resourceAlgorithm(), Digest: h.Sum(nil)}, nil
}

// ctxReader stops a long hash when its context is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// compareNames is the reference implementation's order: paths compared
// component by component (so "a/b" sorts before "a.b"), each component by
// code point (Go compares UTF-8 bytes, which orders the same); shards then
// by start and end as numbers.
func compareNames(a, b string, shards bool) int {
	if !shards {
		return comparePaths(a, b)
	}
	pa, sa, ea, _ := splitShard(a)
	pb, sb, eb, _ := splitShard(b)
	if c := comparePaths(pa, pb); c != 0 {
		return c
	}
	if sa != sb {
		return cmpInt(sa, sb)
	}
	return cmpInt(ea, eb)
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func comparePaths(a, b string) int {
	for {
		ca, ra, moreA := strings.Cut(a, "/")
		cb, rb, moreB := strings.Cut(b, "/")
		if c := strings.Compare(ca, cb); c != 0 {
			return c
		}
		switch {
		case !moreA && !moreB:
			return 0
		case !moreA:
			return -1
		case !moreB:
			return 1
		}
		a, b = ra, rb
	}
}

// splitShard splits "path:start:end". The path may itself hold colons;
// the last two fields are the offsets.
func splitShard(name string) (p string, start, end int64, ok bool) {
	i := strings.LastIndexByte(name, ':')
	if i < 0 {
		return name, 0, 0, false
	}
	j := strings.LastIndexByte(name[:i], ':')
	if j < 0 {
		return name, 0, 0, false
	}
	s, err1 := strconv.ParseInt(name[j+1:i], 10, 64)
	e, err2 := strconv.ParseInt(name[i+1:], 10, 64)
	if err1 != nil || err2 != nil {
		return name, 0, 0, false
	}
	return name[:j], s, e, true
}
