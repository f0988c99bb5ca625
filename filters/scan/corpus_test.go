package scan_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/secureai-nexus/nexus/filters/scan"
)

type labeled struct {
	Text  string `json:"text"`
	Spans []struct {
		Class string `json:"class"`
		Value string `json:"value"`
	} `json:"spans"`
}

func loadCorpus(t testing.TB, files ...string) []labeled {
	t.Helper()
	var out []labeled
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(fh)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var l labeled
			if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			out = append(out, l)
		}
		fh.Close()
	}
	return out
}

// TestCorpusPrecisionRecall runs the scanner over the generated corpus and
// the hand-written hard cases and asserts precision and recall per class:
// a finding counts as a true positive when class and text match a label.
func TestCorpusPrecisionRecall(t *testing.T) {
	assertCorpus(t, "../testdata/corpus.jsonl", "../testdata/hard.jsonl")
}

// TestClinicalPrecisionRecall does the same on the multilingual clinical
// and banking corpus (internal/clinicalgen), whose names come from other
// lists than the scanner's gazetteer.
func TestClinicalPrecisionRecall(t *testing.T) {
	assertCorpus(t, "../testdata/clinical.jsonl", "../testdata/clinical_hard.jsonl")
}

func assertCorpus(t *testing.T, files ...string) {
	corpus := loadCorpus(t, files...)
	known := map[string]bool{}
	for _, c := range scan.Classes() {
		known[string(c)] = true
	}
	tp, fp, fn := map[scan.Class]int{}, map[scan.Class]int{}, map[scan.Class]int{}
	var misses []string
	for _, ex := range corpus {
		want := map[string]bool{}
		for _, s := range ex.Spans {
			if known[s.Class] {
				want[s.Class+"\x00"+s.Value] = true
			}
		}
		got := map[string]bool{}
		for _, f := range (scan.Scanner{}).Scan([]byte(ex.Text)) {
			key := string(f.Class) + "\x00" + ex.Text[f.Start:f.End]
			got[key] = true
			if want[key] {
				tp[f.Class]++
			} else {
				fp[f.Class]++
				misses = append(misses, fmt.Sprintf("false %s %q in %q", f.Class, ex.Text[f.Start:f.End], ex.Text))
			}
		}
		for k := range want {
			if !got[k] {
				c, v, _ := strings.Cut(k, "\x00")
				fn[scan.Class(c)]++
				misses = append(misses, fmt.Sprintf("missed %s %q in %q", c, v, ex.Text))
			}
		}
	}
	checksummed := []scan.Class{scan.CreditCard, scan.IBAN}
	for _, c := range scan.Classes() {
		p := ratio(tp[c], tp[c]+fp[c])
		r := ratio(tp[c], tp[c]+fn[c])
		t.Logf("%-22s precision %.3f recall %.3f (tp %d fp %d fn %d)", c, p, r, tp[c], fp[c], fn[c])
		minRecall := 0.95
		if slices.Contains(checksummed, c) {
			minRecall = 0.99
		}
		if p < 0.97 || r < minRecall {
			t.Errorf("%s: precision %.3f (want ≥ 0.97), recall %.3f (want ≥ %.2f)", c, p, r, minRecall)
		}
	}
	if t.Failed() {
		for _, m := range misses[:min(len(misses), 40)] {
			t.Log(m)
		}
	}
}

func ratio(a, b int) float64 {
	if b == 0 {
		return 1
	}
	return float64(a) / float64(b)
}
