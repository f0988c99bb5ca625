package scan_test

import (
	"strings"
	"testing"

	"github.com/secureai-nexus/nexus/filters/scan"
)

// TestSecretFamilies: the token families gitleaks' rules name for the
// services piiscan claims, each found whole in a sentence, and look-alikes
// that are not.
func TestSecretFamilies(t *testing.T) {
	b := func(s string, n int) string { return strings.Repeat(s, n/len(s)+1)[:n] }
	found := []string{
		"AKIA" + b("IOSFODNN7QZKPLMW", 16),
		"ASIA" + b("Q2W3E4R5T6Y7U8I9", 16),
		"ABIA" + b("Z7Y6X5W4V3U2T1S0", 16),
		"ACCA" + b("JHGFDSA123456789", 16),
		"A3TX" + b("ABCDEFGH23456712", 16),
		"ghp_" + b("0123456789abcdefghijABCDEFGHIJ", 36),
		"github_pat_" + b("11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ", 82),
		"glpat-" + b("xYz-0123456789abcdef", 20),
		"glptt-" + b("0123456789abcdef", 40),
		"gldt-" + b("AbCdEfGhIjKlMnOpQrSt", 20),
		"glrt-" + b("runner_token-0123456", 20),
		"glsoat-" + b("scimTOKEN0123456789x", 20),
		"glcbt-" + b("64_abcdefghijklmnopqrst", 24),
		"glimt-" + b("mailtoken0123456789abcdef", 25),
		"glft-" + b("feedTOKEN0123456789a", 20),
		"glagent-" + b("agentTOKEN0123456789abcdefghij", 50),
		"gloas-" + b("0123456789abcdef", 64),
		"glffct-" + b("flagTOKEN0123456789a", 20),
		"GR1348941" + b("regToken_0123456789a", 20),
	}
	for _, tok := range found {
		text := "config: token " + tok + " here"
		fs := scan.Scanner{}.Scan([]byte(text))
		if len(fs) != 1 || fs[0].Class != scan.Secret || text[fs[0].Start:fs[0].End] != tok {
			t.Errorf("%s: findings %v", tok, fs)
		}
	}
	for _, text := range []string{
		"give the girl a glass of water", // words starting gi, gl
		"glpat-short",                    // too short
		"GR1348941 is a number",
		"A3T is a model number",
		"ABIA conference 2026",
	} {
		if fs := (scan.Scanner{}).Scan([]byte(text)); len(fs) != 0 {
			t.Errorf("%q: unexpected %v", text, fs)
		}
	}
}
