package translate_test

import (
	"fmt"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/secureai-nexus/nexus/controlplane/internal/mesh"
	"github.com/secureai-nexus/nexus/controlplane/internal/translate"
)

// syntheticMesh has n models of two versions each and ten caller services,
// so every service sidecar carries n outbound clusters.
func syntheticMesh(tb testing.TB, n int) *mesh.Mesh {
	tb.Helper()
	var b strings.Builder
	b.WriteString("trustDomain: bench.local\npiiGuard: {wasm: /opt/piiguard.wasm}\nservices:\n")
	for i := 0; i < 10; i++ {
		fmt.Fprintf(&b, "  - {name: svc-%d, appPort: 9000, inbound: 10.1.0.%d:15006, outbound: 127.0.0.1:%d}\n", i, i+1, 15001+i)
	}
	b.WriteString("models:\n")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, `  - name: model-%d
    hosts: [model-%d.models.bench.local]
    sidecar: 10.2.%d.%d:10000
    policy: nexus.models.m%d
    pii: {EMAIL: tokenize, US_SSN: redact, CREDIT_CARD: block}
    versions:
      - {name: v1, weight: 90, endpoints: [10.3.%d.%d:8000, 10.3.%d.%d:8001]}
      - {name: v2, weight: 10, endpoints: [10.4.%d.%d:8000]}
`, i, i, i/250, i%250+1, i, i/250, i%250+1, i/250, i%250+1, i/250, i%250+1)
	}
	m, err := mesh.Parse([]byte(b.String()), "")
	if err != nil {
		tb.Fatal(err)
	}
	return m
}

// BenchmarkTranslate measures translating the whole mesh (every node).
// BenchmarkMarshalOutput is the baseline in the same run: only serializing
// what translation produced, deterministically, as the xDS server does to
// version it. The ratio says how much translation costs over the minimum
// work of handing the result to the cache.
func BenchmarkTranslate(b *testing.B) {
	for _, n := range []int{1, 100, 1000} {
		m := syntheticMesh(b, n)
		b.Run(fmt.Sprintf("models=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := translate.Translate(m); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkMarshalOutput(b *testing.B) {
	for _, n := range []int{1, 100, 1000} {
		res, err := translate.Translate(syntheticMesh(b, n))
		if err != nil {
			b.Fatal(err)
		}
		opts := proto.MarshalOptions{Deterministic: true}
		b.Run(fmt.Sprintf("models=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				for _, r := range res {
					for _, l := range r.Listeners {
						_, _ = opts.Marshal(l)
					}
					for _, x := range r.Routes {
						_, _ = opts.Marshal(x)
					}
					for _, x := range r.Clusters {
						_, _ = opts.Marshal(x)
					}
					for _, x := range r.Endpoints {
						_, _ = opts.Marshal(x)
					}
				}
			}
		})
	}
}
