package bundles_test

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/open-policy-agent/opa/v1/bundle"

	"github.com/secureai-nexus/nexus/authz/internal/bundles"
)

// FuzzDownloadedBundle serves arbitrary bytes as a bundle that must be
// signed. Whatever arrives, the source must not panic, must name what was
// wrong, and may offer a bundle only if its content is the signed one:
// mutations that keep a bundle acceptable (gzip or tar framing) must not
// change what the policy manager would load.
func FuzzDownloadedBundle(f *testing.F) {
	signed := policyBundle("authz", "good", "default allow := false")
	signHS(f, signed, hsSecret, "hs")
	f.Add(tarballF(f, signed))
	f.Add(tarballF(f, policyBundle("authz", "unsigned", "default allow := true")))
	f.Add([]byte("not a tarball"))
	f.Add([]byte{})

	bs := newBundleServer(f)
	src := newSource(f, hsConfig(bs.URL))
	want := string(signed.Modules[0].Raw)
	f.Fuzz(func(t *testing.T, body []byte) {
		bs.put("/bundles/authz.tar.gz", served{body: body})
		ctx := context.Background()
		err := src.Trigger(ctx)
		b, changed, ferr := src.Fetch(ctx)
		if err != nil {
			var de *bundles.DownloadError
			if !errors.As(err, &de) || de.Bundle != "authz" || de.Reason == "" {
				t.Fatalf("Trigger error %v (%T) does not name the bundle and reason", err, err)
			}
			if changed || b != nil || ferr == nil {
				t.Fatalf("after a refusal Fetch = %v, %v, %v", b != nil, changed, ferr)
			}
			return
		}
		if !changed {
			return // the same acceptable bundle as the last exec
		}
		if b.Manifest.Revision != "good" || len(b.Modules) != 1 || string(b.Modules[0].Raw) != want {
			t.Fatalf("accepted content that was not signed: revision %q, %d modules", b.Manifest.Revision, len(b.Modules))
		}
	})
}

func tarballF(f *testing.F, b *bundle.Bundle) []byte {
	var buf bytes.Buffer
	if err := bundle.NewWriter(&buf).Write(*b); err != nil {
		f.Fatal(err)
	}
	return buf.Bytes()
}
