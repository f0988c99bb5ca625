package policy

import (
	"context"
	"fmt"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/bundle"
)

// NewMultiSource serves the policies of several paths as one set, as
// `opa run PATH…` loads them: each path is a directory or a bundle file;
// their modules are all compiled together and their data documents
// merged. Two paths that write the same data key are an error naming it.
func NewMultiSource(specs []string, regoVersion ast.RegoVersion) (Source, error) {
	if len(specs) == 1 {
		return NewSource(specs[0], regoVersion, "")
	}
	m := &multiSource{}
	for _, spec := range specs {
		if strings.HasPrefix(spec, "http://") || strings.HasPrefix(spec, "https://") {
			return nil, fmt.Errorf("policies %q: a URL is served through the config file's bundles, not as a path", spec)
		}
		src, err := NewSource(spec, regoVersion, "")
		if err != nil {
			return nil, err
		}
		m.srcs = append(m.srcs, src)
	}
	m.last = make([]*bundle.Bundle, len(m.srcs))
	return m, nil
}

type multiSource struct {
	srcs []Source
	last []*bundle.Bundle
}

func (m *multiSource) String() string {
	names := make([]string, len(m.srcs))
	for i, s := range m.srcs {
		names[i] = s.String()
	}
	return strings.Join(names, ",")
}

// Fetch reads every path; if any changed, the merge of all of them is the
// new bundle. A path that fails keeps the whole set from changing.
func (m *multiSource) Fetch(ctx context.Context) (*bundle.Bundle, bool, error) {
	changed := false
	for i, src := range m.srcs {
		b, ch, err := src.Fetch(ctx)
		if err != nil {
			return nil, false, fmt.Errorf("%s: %w", src.String(), err)
		}
		if ch {
			m.last[i], changed = b, true
		}
	}
	if !changed {
		return nil, false, nil
	}
	out := &bundle.Bundle{Data: map[string]any{}}
	seen := map[string]string{}
	for i, b := range m.last {
		if b == nil {
			// Never serve a set without one of its paths: a deny list
			// that failed to load must not vanish from the set.
			return nil, false, fmt.Errorf("%s has not loaded yet", m.srcs[i])
		}
		for _, mod := range b.Modules {
			if prev, dup := seen[mod.Path]; dup {
				return nil, false, fmt.Errorf("module %s is in both %s and %s", mod.Path, prev, m.srcs[i])
			}
			seen[mod.Path] = m.srcs[i].String()
			out.Modules = append(out.Modules, mod)
		}
		if err := mergeData(out.Data, b.Data, ""); err != nil {
			return nil, false, fmt.Errorf("data of %s: %w", m.srcs[i], err)
		}
	}
	return out, true, nil
}

// mergeData merges src into dst: objects merge key by key, anything else
// written twice is a conflict. Objects are copied, never shared: the
// bundles of each path are kept for the next merge and must not change.
func mergeData(dst, src map[string]any, path string) error {
	for k, v := range src {
		p := path + "/" + k
		prev, ok := dst[k]
		if !ok {
			if obj, isObj := v.(map[string]any); isObj {
				copied := map[string]any{}
				if err := mergeData(copied, obj, p); err != nil {
					return err
				}
				v = copied
			}
			dst[k] = v
			continue
		}
		a, aok := prev.(map[string]any)
		b, bok := v.(map[string]any)
		if !aok || !bok {
			return fmt.Errorf("data %s is written by two paths", p)
		}
		if err := mergeData(a, b, p); err != nil {
			return err
		}
	}
	return nil
}
