package compliance

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var updateDocs = flag.Bool("update", false, "rewrite the catalogue table in docs/compliance.md from the code")

const (
	tableBegin = "<!-- catalogue:begin (generated from controlplane/internal/compliance; go test ./internal/compliance -run TestDocs -update) -->"
	tableEnd   = "<!-- catalogue:end -->"
)

// catalogueTable is the docs' catalogue table, built from the code.
func catalogueTable() string {
	var b strings.Builder
	b.WriteString("| Check | What it proves | Method | Evidence | HIPAA 45 CFR | GDPR | SOC 2 | ISO 27001:2022 |\n")
	b.WriteString("| --- | --- | --- | --- | --- | --- | --- | --- |\n")
	for _, c := range Catalogue() {
		cells := []string{"`" + c.ID + "`", c.Title, string(c.Method), c.Source}
		for _, f := range Frameworks() {
			var ids []string
			for _, x := range c.ControlsOf(f) {
				ids = append(ids, x.ID)
			}
			if len(ids) == 0 {
				ids = []string{"—"}
			}
			cells = append(cells, strings.Join(ids, ", "))
		}
		b.WriteString("| " + strings.Join(cells, " | ") + " |\n")
	}
	return b.String()
}

// TestDocsCatalogue keeps docs/compliance.md's catalogue table equal to
// the code's, and every check and its remediation in the docs.
func TestDocsCatalogue(t *testing.T) {
	path := filepath.Join(repoRoot(t), "docs", "compliance.md")
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(raw)
	i, j := strings.Index(doc, tableBegin), strings.Index(doc, tableEnd)
	if i < 0 || j < i {
		t.Fatalf("%s lacks the catalogue markers", path)
	}
	want := doc[:i] + tableBegin + "\n" + catalogueTable() + doc[j:]
	if *updateDocs {
		if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if want != doc {
		t.Errorf("the catalogue table in %s differs from the code; run `go test ./internal/compliance -run TestDocs -update`", path)
	}
	for _, c := range Catalogue() {
		if !strings.Contains(doc, "### `"+c.ID+"`") {
			t.Errorf("%s has no section for %s", path, c.ID)
		}
	}
}
