// Package artifact computes the digest of the model files a backend
// loaded, as the OpenSSF Model Signing format's files method defines the
// model's root digest: every regular file's SHA-256, in name order, the
// root the SHA-256 of those raw digests concatenated. The control plane
// compares it with the digest it verified, so a version whose running
// files differ from the signed ones never gets traffic.
package artifact

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
)

// signatureFile is where the signature sits by default (model.sig).
const signatureFile = "model.sig"

// ignored are not part of a model (the format's default exclusions).
var ignored = map[string]bool{".git": true, ".gitignore": true, ".gitattributes": true, ".github": true}

// RootDigest returns "sha256:<hex>" for the model directory dir.
func RootDigest(dir string) (string, error) {
	var names []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if ignored[d.Name()] && path != dir {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.Type()&fs.ModeSymlink != 0 {
			return fmt.Errorf("%s: symbolic links are not part of a model", path)
		}
		if d.Type().IsRegular() {
			rel, _ := filepath.Rel(dir, path)
			// The signature is not part of what it signs.
			if rel != signatureFile {
				names = append(names, filepath.ToSlash(rel))
			}
		}
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("model directory %s: %w", dir, err)
	}
	// Component by component, as the format orders them: "a/b" before "a.b".
	sort.Slice(names, func(i, j int) bool {
		return slices.Compare(strings.Split(names[i], "/"), strings.Split(names[j], "/")) < 0
	})
	root := sha256.New()
	for _, n := range names {
		f, err := os.Open(filepath.Join(dir, filepath.FromSlash(n)))
		if err != nil {
			return "", err
		}
		h := sha256.New()
		_, err = io.Copy(h, f)
		f.Close()
		if err != nil {
			return "", fmt.Errorf("%s: %w", n, err)
		}
		root.Write(h.Sum(nil))
	}
	return "sha256:" + hex.EncodeToString(root.Sum(nil)), nil
}
