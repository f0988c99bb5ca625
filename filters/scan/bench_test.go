package scan_test

import (
	"regexp"
	"strings"
	"testing"

	"github.com/secureai-nexus/nexus/filters/scan"
)

// mixedCorpus is the labeled corpus joined into prose-like text, about
// 200 KB: mostly ordinary words and numbers, some personal data.
func mixedCorpus(b testing.TB) []byte {
	var sb strings.Builder
	filler := "The patient was seen today and the notes were reviewed by the care team; follow-up in 2 weeks, dose 20 mg twice daily. "
	for i, ex := range loadCorpus(b, "../testdata/corpus.jsonl", "../testdata/hard.jsonl") {
		sb.WriteString(ex.Text)
		sb.WriteString(". ")
		if i%2 == 0 {
			sb.WriteString(filler)
		}
	}
	return []byte(sb.String())
}

// baseline is a Go regexp with patterns equivalent to the scanner's
// candidates (no validators), the usual way such scanners are written.
var baselinePatterns = []string{
	`[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}`,              // email
	`\b(?:\d[ -]?){12,18}\d\b`,                                    // card
	`\b\d{3}-\d{2}-\d{4}\b`,                                       // ssn
	`(?:\+\d{1,3}[ .-]?)?\(?\d{3}\)?[ .-]?\d{3}[ .-]?\d{4}\b`,     // phone
	`\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?\b`, // iban
	`\b(?:\d{1,3}\.){3}\d{1,3}\b`,                                 // ipv4
	`\b(?:AKIA|ASIA)[A-Z0-9]{16}\b|\bgh[pousr]_[A-Za-z0-9]{36}\b`, // secrets
	`\beyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+`,         // jwt
	`(?i)(?:mrn|member id|passport number|driver'?s? license)[:# ]*[A-Z0-9-]{5,16}`,
}

func BenchmarkScanner(b *testing.B) { benchScan(b, mixedCorpus(b)) }

func benchScan(b *testing.B, text []byte) {
	b.SetBytes(int64(len(text)))
	b.ReportAllocs()
	var n int
	for b.Loop() {
		n = len(scan.Scanner{}.Scan(text))
	}
	b.ReportMetric(float64(n), "findings")
}

func BenchmarkRegexpBaseline(b *testing.B) { benchRegexp(b, mixedCorpus(b)) }

func benchRegexp(b *testing.B, text []byte) {
	re := regexp.MustCompile(strings.Join(baselinePatterns, "|"))
	b.SetBytes(int64(len(text)))
	b.ReportAllocs()
	var n int
	for b.Loop() {
		n = len(re.FindAllIndex(text, -1))
	}
	b.ReportMetric(float64(n), "findings")
}

// BenchmarkScannerProse scans 16 KiB of clinical prose with two findings,
// the shape of a real chat prompt, where BenchmarkScanner's corpus has a
// finding every ~100 bytes.
func BenchmarkScannerProse(b *testing.B) { benchScan(b, proseText()) }

func BenchmarkRegexpBaselineProse(b *testing.B) { benchRegexp(b, proseText()) }

func proseText() []byte {
	var sb strings.Builder
	for sb.Len() < 16<<10 {
		sb.WriteString("The patient reports mild chest pain since Tuesday and asks about the dose. ")
	}
	sb.WriteString(" jane@example.com 123-45-6789")
	return []byte(sb.String())
}
