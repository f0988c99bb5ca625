// Package model is nexus-backend's built-in model: a small deterministic
// text generator. The same prompt always gets the same answer from the
// same version, and every answer names the version, so canary splits can
// be counted from the outside.
package model

import (
	"fmt"
	"hash/fnv"
	"strings"
	"unicode"
)

// Model generates answers for one model version.
type Model struct {
	Name    string
	Version string
}

var openings = []string{
	"Based on what you described,",
	"From the information given,",
	"Considering the details provided,",
	"Looking at this request,",
}

var advice = []string{
	"the case looks routine and can follow the standard path.",
	"a follow-up within a week is the sensible next step.",
	"this should be escalated to a specialist for review.",
	"more information is needed before a recommendation can be made.",
	"no urgent action is indicated at this time.",
}

// Generate answers prompt, stopping after maxTokens words (0 = no limit).
// It returns the answer's words so callers can stream them.
func (m Model) Generate(prompt string, maxTokens int) []string {
	h := fnv.New64a()
	h.Write([]byte(m.Version))
	h.Write([]byte{0})
	h.Write([]byte(prompt))
	sum := h.Sum64()
	text := fmt.Sprintf("[%s %s] %s %s (prompt of %d words)",
		m.Name, m.Version, openings[sum%uint64(len(openings))], advice[(sum>>8)%uint64(len(advice))], CountTokens(prompt))
	words := strings.Fields(text)
	if maxTokens > 0 && len(words) > maxTokens {
		words = words[:maxTokens]
	}
	return words
}

// CountTokens approximates a tokenizer by counting words; good enough for
// usage accounting in a reference backend.
func CountTokens(s string) int {
	return len(strings.FieldsFunc(s, func(r rune) bool { return unicode.IsSpace(r) }))
}
