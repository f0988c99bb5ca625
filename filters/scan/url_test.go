package scan_test

import (
	"testing"

	"github.com/secureai-nexus/nexus/filters/scan"
)

// TestURLsWithIdentifiers: a URL is reported whole when it carries an
// identifier or a credential, never when it only names a page.
func TestURLsWithIdentifiers(t *testing.T) {
	for _, tt := range []struct{ text, want string }{
		{"see https://portal.example.org/reset?token=9f8e7d6c5b4a now", "https://portal.example.org/reset?token=9f8e7d6c5b4a"},
		{"chart at http://ehr.local/patients/12345678.", "http://ehr.local/patients/12345678"},
		{"open HTTPS://ehr.local/view?Patient_ID=A123&tab=labs", "HTTPS://ehr.local/view?Patient_ID=A123&tab=labs"},
		{"docs at https://www.example.org/guide/chapter-3", ""},
		{"https://example.org/?q=weather&lang=en", ""},
		{"http://", ""},
		{"the 2024 report https://example.org/reports/2024", ""},
	} {
		var got []string
		for _, f := range (scan.Scanner{}).Scan([]byte(tt.text)) {
			if f.Class == scan.URL {
				got = append(got, tt.text[f.Start:f.End])
			}
		}
		switch {
		case tt.want == "" && len(got) > 0:
			t.Errorf("%q: unexpected %q", tt.text, got)
		case tt.want != "" && (len(got) != 1 || got[0] != tt.want):
			t.Errorf("%q: %q, want %q", tt.text, got, tt.want)
		}
	}
}
