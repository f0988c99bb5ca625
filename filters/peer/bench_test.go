package peer_test

import (
	"bufio"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/secureai-nexus/nexus/filters/scan"
	"github.com/zricethezav/gitleaks/v8/detect"
)

// mixedCorpus is filters/scan's benchmark input, built the same way (see
// filters/scan/bench_test.go), so the scanner's figures here and there are
// of one text.
func mixedCorpus(b *testing.B) []byte { return joinedCorpus(b, ". ") }

// linedCorpus is the same text with a newline after each corpus line, the
// shape gitleaks is built for (source files): it computes each finding's
// line and column and runs some rules line by line.
func linedCorpus(b *testing.B) []byte { return joinedCorpus(b, ".\n") }

func joinedCorpus(b *testing.B, sep string) []byte {
	var sb strings.Builder
	filler := "The patient was seen today and the notes were reviewed by the care team; follow-up in 2 weeks, dose 20 mg twice daily. "
	i := 0
	for _, path := range []string{"../testdata/corpus.jsonl", "../testdata/hard.jsonl"} {
		f, err := os.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var l struct{ Text string }
			if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
				b.Fatalf("%s: %v", path, err)
			}
			sb.WriteString(l.Text)
			sb.WriteString(sep)
			if i%2 == 0 {
				sb.WriteString(filler)
			}
			i++
		}
		f.Close()
	}
	return []byte(sb.String())
}

// proseText is filters/scan's 16 KiB of clinical prose with two findings.
func proseText() []byte {
	var sb strings.Builder
	for sb.Len() < 16<<10 {
		sb.WriteString("The patient reports mild chest pain since Tuesday and asks about the dose. ")
	}
	sb.WriteString(" jane@example.com 123-45-6789")
	return []byte(sb.String())
}

func BenchmarkScanner(b *testing.B) {
	b.Run("corpus", func(b *testing.B) { benchScanner(b, mixedCorpus(b)) })
	b.Run("corpus-lines", func(b *testing.B) { benchScanner(b, linedCorpus(b)) })
	b.Run("prose", func(b *testing.B) { benchScanner(b, proseText()) })
}

func benchScanner(b *testing.B, text []byte) {
	b.SetBytes(int64(len(text)))
	b.ReportAllocs()
	var n int
	for b.Loop() {
		n = len(scan.Scanner{}.Scan(text))
	}
	b.ReportMetric(float64(n), "findings")
}

// BenchmarkGitleaks runs gitleaks' detector with its default configuration
// (every rule and allowlist it ships) over the same texts, as one fragment
// each, the way a gateway would hand it a request body.
func BenchmarkGitleaks(b *testing.B) {
	b.Run("corpus", func(b *testing.B) { benchGitleaks(b, mixedCorpus(b)) })
	b.Run("corpus-lines", func(b *testing.B) { benchGitleaks(b, linedCorpus(b)) })
	b.Run("prose", func(b *testing.B) { benchGitleaks(b, proseText()) })
}

func benchGitleaks(b *testing.B, text []byte) {
	d, err := detect.NewDetectorDefaultConfig()
	if err != nil {
		b.Fatal(err)
	}
	s := string(text)
	b.SetBytes(int64(len(text)))
	b.ReportAllocs()
	var n int
	for b.Loop() {
		n = len(d.DetectString(s))
	}
	b.ReportMetric(float64(n), "findings")
}
