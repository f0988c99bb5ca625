package policy

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/bundle"
)

// Source yields policy bundles. Fetch returns changed=false (and no bundle)
// when nothing changed since the last successful fetch.
type Source interface {
	Fetch(ctx context.Context) (b *bundle.Bundle, changed bool, err error)
	String() string
}

// maxBundleBytes bounds a bundle read from a file or URL.
const maxBundleBytes = 64 << 20

// NewSource picks a source for spec: an http(s) URL (OPA bundle service), a
// directory, or a bundle file (.tar.gz).
// client, if not nil, fetches bundle URLs (the mTLS client that accepts
// only the control plane's SPIFFE id).
func NewSource(spec string, regoVersion ast.RegoVersion, token string, client ...*http.Client) (Source, error) {
	if strings.HasPrefix(spec, "http://") || strings.HasPrefix(spec, "https://") {
		c := &http.Client{Timeout: 30 * time.Second}
		if len(client) > 0 && client[0] != nil {
			c = client[0]
		}
		return &urlSource{url: spec, token: token, regoVersion: regoVersion, client: c}, nil
	}
	st, err := os.Stat(spec)
	if err != nil {
		return nil, fmt.Errorf("policies %q: %w", spec, err)
	}
	if st.IsDir() {
		return &dirSource{dir: spec, regoVersion: regoVersion}, nil
	}
	return &fileSource{path: spec, regoVersion: regoVersion}, nil
}

type dirSource struct {
	dir         string
	regoVersion ast.RegoVersion
	last        [32]byte
}

func (s *dirSource) String() string { return s.dir }

// Fetch hashes every file's path and content, so any edit, addition or
// removal is a change.
func (s *dirSource) Fetch(context.Context) (*bundle.Bundle, bool, error) {
	h := sha256.New()
	var files []string
	err := filepath.WalkDir(s.dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		return nil, false, err
	}
	slices.Sort(files)
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, false, err
		}
		fmt.Fprintf(h, "%s\x00%d\x00", f, len(b))
		h.Write(b)
	}
	var sum [32]byte
	copy(sum[:], h.Sum(nil))
	if sum == s.last {
		return nil, false, nil
	}
	b, err := bundle.NewCustomReader(bundle.NewDirectoryLoader(s.dir)).WithRegoVersion(s.regoVersion).Read()
	if err != nil {
		// Forgotten, so the next poll reads again: a transient error is
		// retried, and putting the serving content back reloads it and
		// clears the error /readyz shows.
		s.last = [32]byte{}
		return nil, false, err
	}
	s.last = sum
	return &b, true, nil
}

type fileSource struct {
	path        string
	regoVersion ast.RegoVersion
	last        [32]byte
}

func (s *fileSource) String() string { return s.path }

func (s *fileSource) Fetch(context.Context) (*bundle.Bundle, bool, error) {
	f, err := os.Open(s.path)
	if err != nil {
		return nil, false, err
	}
	defer f.Close()
	raw, err := io.ReadAll(io.LimitReader(f, maxBundleBytes+1))
	if err != nil {
		return nil, false, err
	}
	if len(raw) > maxBundleBytes {
		return nil, false, fmt.Errorf("bundle %s is larger than %d bytes", s.path, maxBundleBytes)
	}
	sum := sha256.Sum256(raw)
	if sum == s.last {
		return nil, false, nil
	}
	b, err := bundle.NewReader(bytes.NewReader(raw)).WithRegoVersion(s.regoVersion).Read()
	if err != nil {
		s.last = [32]byte{} // as for a directory
		return nil, false, err
	}
	s.last = sum
	return &b, true, nil
}

// urlSource pulls a bundle over OPA's bundle service API: GET the bundle,
// with If-None-Match so an unchanged bundle costs a 304.
type urlSource struct {
	url, token  string
	regoVersion ast.RegoVersion
	client      *http.Client
	etag        string
}

func (s *urlSource) String() string { return s.url }

func (s *urlSource) Fetch(ctx context.Context) (*bundle.Bundle, bool, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url, nil)
	if err != nil {
		return nil, false, err
	}
	req.Header.Set("Accept", "application/gzip")
	if s.token != "" {
		req.Header.Set("Authorization", "Bearer "+s.token)
	}
	if s.etag != "" {
		req.Header.Set("If-None-Match", s.etag)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, false, err
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusNotModified:
		return nil, false, nil
	case http.StatusOK:
	default:
		return nil, false, fmt.Errorf("bundle server %s answered %s", s.url, resp.Status)
	}
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxBundleBytes+1))
	if err != nil {
		return nil, false, err
	}
	if len(raw) > maxBundleBytes {
		return nil, false, errors.New("bundle is larger than the allowed size")
	}
	b, err := bundle.NewReader(bytes.NewReader(raw)).WithRegoVersion(s.regoVersion).Read()
	if err != nil {
		return nil, false, err
	}
	s.etag = resp.Header.Get("ETag")
	return &b, true, nil
}
