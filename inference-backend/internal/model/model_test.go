package model_test

import (
	"strings"
	"testing"

	"github.com/secureai-nexus/nexus/inference-backend/internal/model"
)

func TestGenerateIsDeterministicAndNamesVersion(t *testing.T) {
	v1 := model.Model{Name: "triage", Version: "v1"}
	v2 := model.Model{Name: "triage", Version: "v2"}
	a := strings.Join(v1.Generate("chest pain since morning", 0), " ")
	if b := strings.Join(v1.Generate("chest pain since morning", 0), " "); a != b {
		t.Fatalf("same prompt, different answers: %q vs %q", a, b)
	}
	if !strings.HasPrefix(a, "[triage v1] ") || !strings.HasSuffix(a, "(prompt of 4 words)") {
		t.Errorf("answer = %q", a)
	}
	if c := strings.Join(v2.Generate("chest pain since morning", 0), " "); !strings.HasPrefix(c, "[triage v2] ") {
		t.Errorf("v2 answer = %q", c)
	}
	if got := v1.Generate("x", 3); len(got) != 3 {
		t.Errorf("max tokens 3 gave %d words", len(got))
	}
}
