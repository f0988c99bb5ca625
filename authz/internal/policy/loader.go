package policy

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/bundle"
	"github.com/open-policy-agent/opa/v1/loader"
)

// NewLoaderSource serves paths as `opa run PATH…` loads them without
// --bundle: each path is a .rego or data file, or a directory whose .rego
// files and data files (.json, .yaml, .yml) are loaded, data nested under
// the directories that hold it; a file or directory below a path whose
// name matches an ignore pattern (--ignore, shell syntax, e.g. ".*" for a
// Kubernetes ConfigMap's "..data") is skipped. Symbolic links are
// followed, as a mounted ConfigMap needs.
func NewLoaderSource(paths, ignore []string, regoVersion ast.RegoVersion) (Source, error) {
	for _, p := range ignore {
		if _, err := filepath.Match(p, ""); err != nil {
			return nil, fmt.Errorf("--ignore %q: %w", p, err)
		}
	}
	for _, p := range paths {
		if _, err := os.Stat(p); err != nil {
			return nil, fmt.Errorf("policies %q: %w", p, err)
		}
	}
	return &loaderSource{paths: paths, ignore: ignore, regoVersion: regoVersion}, nil
}

type loaderSource struct {
	paths       []string
	ignore      []string
	regoVersion ast.RegoVersion
	// last is the digest of the content last read successfully; it is
	// cleared when a read fails, so the next poll reads again (a transient
	// error is retried, and restoring the serving content reloads it).
	last [32]byte
}

func (s *loaderSource) String() string { return strings.Join(s.paths, ",") }

// ignored is OPA's --ignore rule: a name matching a pattern, below the
// path given (depth 1 and deeper).
func (s *loaderSource) ignored(name string, depth int) bool {
	if depth < 1 {
		return false
	}
	for _, p := range s.ignore {
		if ok, _ := filepath.Match(p, name); ok {
			return true
		}
	}
	return false
}

func loadable(name string) bool {
	switch filepath.Ext(name) {
	case ".rego", ".json", ".yaml", ".yml":
		return true
	}
	return false
}

// digest hashes the name and content of every file the loader would read.
func (s *loaderSource) digest() ([32]byte, error) {
	h := sha256.New()
	var walk func(p string, depth int) error
	walk = func(p string, depth int) error {
		st, err := os.Stat(p) // follows links
		if err != nil {
			return err
		}
		if s.ignored(filepath.Base(p), depth) {
			return nil
		}
		if !st.IsDir() {
			if depth > 0 && !loadable(p) {
				return nil
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			fmt.Fprintf(h, "%s\x00%d\x00", p, len(b))
			h.Write(b)
			return nil
		}
		entries, err := os.ReadDir(p)
		if err != nil {
			return err
		}
		names := make([]string, 0, len(entries))
		for _, e := range entries {
			names = append(names, e.Name())
		}
		slices.Sort(names)
		for _, n := range names {
			if err := walk(filepath.Join(p, n), depth+1); err != nil {
				return err
			}
		}
		return nil
	}
	for _, p := range s.paths {
		if err := walk(p, 0); err != nil {
			return [32]byte{}, err
		}
	}
	var sum [32]byte
	copy(sum[:], h.Sum(nil))
	return sum, nil
}

func (s *loaderSource) Fetch(context.Context) (*bundle.Bundle, bool, error) {
	sum, err := s.digest()
	if err != nil {
		s.last = [32]byte{}
		return nil, false, err
	}
	if sum == s.last {
		return nil, false, nil
	}
	res, err := loader.NewFileLoader().
		WithRegoVersion(s.regoVersion).
		WithFollowSymlinks(true).
		Filtered(s.paths, func(_ string, info fs.FileInfo, depth int) bool {
			return s.ignored(info.Name(), depth)
		})
	if err != nil {
		s.last = [32]byte{}
		return nil, false, err
	}
	s.last = sum
	b := &bundle.Bundle{Data: res.Documents}
	if b.Data == nil {
		b.Data = map[string]any{}
	}
	names := make([]string, 0, len(res.Modules))
	for name := range res.Modules {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		m := res.Modules[name]
		b.Modules = append(b.Modules, bundle.ModuleFile{URL: m.Name, Path: m.Name, Raw: m.Raw, Parsed: m.Parsed})
	}
	return b, true, nil
}
