// Package registry checks what a model version is made of before it may
// serve: the artifact's files (allowed types only, pickles walked for
// imports that would run code, safetensors and GGUF headers parsed and
// bounded), so a version that would execute code when loaded never gets
// traffic.
package registry

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// FileCheck is one file's outcome.
type FileCheck struct {
	Path    string `json:"path"`
	Kind    string `json:"kind"`
	OK      bool   `json:"ok"`
	Problem string `json:"problem,omitempty"`
	// Tensors counts the tensors a safetensors or GGUF header declares.
	Tensors int `json:"tensors,omitempty"`
}

// ArtifactReport is every file's check; OK only if all passed.
type ArtifactReport struct {
	OK    bool        `json:"ok"`
	Files []FileCheck `json:"files"`
}

// Problems lists the failed files as "path: problem".
func (r ArtifactReport) Problems() []string {
	var out []string
	for _, f := range r.Files {
		if !f.OK {
			out = append(out, f.Path+": "+f.Problem)
		}
	}
	return out
}

// kinds maps allowed file extensions to how they are checked. Anything
// else — code (.py, .so, .sh), archives, unknown binaries — is refused.
var kinds = map[string]string{
	".safetensors": "safetensors",
	".gguf":        "gguf",
	".pt":          "pickle", ".pth": "pickle", ".bin": "pickle", ".pkl": "pickle", ".ckpt": "pickle",
	".json": "text", ".txt": "text", ".md": "text", ".model": "data", ".tiktoken": "text",
	".jinja": "text", ".yaml": "text", ".yml": "text", ".vocab": "text", ".merges": "text",
	".sig": "signature",
}

// defaultIgnored are not part of the model (OMS's default exclusions).
var defaultIgnored = map[string]bool{".git": true, ".gitignore": true, ".gitattributes": true, ".github": true}

// CheckArtifact checks every file under dir. Symlinks are refused: what
// is checked must be what is loaded.
func CheckArtifact(dir string) (ArtifactReport, error) {
	st, err := os.Stat(dir)
	if err != nil {
		return ArtifactReport{}, fmt.Errorf("artifact: %w", err)
	}
	if !st.IsDir() {
		return ArtifactReport{}, fmt.Errorf("artifact %s: not a directory", dir)
	}
	var rep ArtifactReport
	err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		if rel == "." {
			return nil
		}
		if defaultIgnored[d.Name()] {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		rel = filepath.ToSlash(rel)
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			rep.Files = append(rep.Files, FileCheck{Path: rel, Kind: "symlink", Problem: "symbolic links are not allowed in a model artifact"})
			return nil
		case d.IsDir():
			return nil
		case !d.Type().IsRegular():
			rep.Files = append(rep.Files, FileCheck{Path: rel, Kind: "special", Problem: "not a regular file"})
			return nil
		}
		rep.Files = append(rep.Files, checkFile(path, rel))
		return nil
	})
	if err != nil {
		return ArtifactReport{}, fmt.Errorf("artifact %s: %w", dir, err)
	}
	sort.Slice(rep.Files, func(i, j int) bool { return rep.Files[i].Path < rep.Files[j].Path })
	rep.OK = len(rep.Files) > 0
	for _, f := range rep.Files {
		rep.OK = rep.OK && f.OK
	}
	if len(rep.Files) == 0 {
		return rep, errors.New("artifact holds no files")
	}
	return rep, nil
}

func checkFile(path, rel string) FileCheck {
	ext := strings.ToLower(filepath.Ext(rel))
	kind, ok := kinds[ext]
	fc := FileCheck{Path: rel, Kind: kind}
	if !ok {
		fc.Kind, fc.Problem = "refused", fmt.Sprintf("file type %q is not allowed in a model artifact", ext)
		return fc
	}
	f, err := os.Open(path)
	if err != nil {
		fc.Problem = err.Error()
		return fc
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		fc.Problem = err.Error()
		return fc
	}
	switch kind {
	case "pickle":
		err = ScanPickle(f, st.Size())
	case "safetensors":
		fc.Tensors, err = ParseSafetensors(f, st.Size())
	case "gguf":
		fc.Tensors, err = ParseGGUF(f, st.Size())
	}
	if err != nil {
		fc.Problem = err.Error()
		return fc
	}
	fc.OK = true
	return fc
}
