package transform_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/secureai-nexus/nexus/filters/transform"
)

func BenchmarkApply16KiB(b *testing.B) {
	var sb strings.Builder
	for sb.Len() < 16<<10 {
		sb.WriteString("The patient reports mild chest pain since Tuesday and asks about the dose. ")
	}
	body := []byte(fmt.Sprintf(`{"model":"triage","messages":[{"role":"user","content":"%s jane@example.com 123-45-6789"}]}`, sb.String()))
	p := policy()
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := transform.Apply(p, body, true); err != nil {
			b.Fatal(err)
		}
	}
}
