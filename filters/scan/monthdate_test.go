package scan_test

import (
	"testing"

	"github.com/secureai-nexus/nexus/filters/scan"
)

// TestMonthNameDates: dates of birth written with a month name in the six
// languages, only after a birth phrase, and only the date the phrase names.
func TestMonthNameDates(t *testing.T) {
	tests := []struct {
		text, want string // want: the date of birth's text, "" for none
	}{
		{"Patient born 14 March 1958, NPI 1234567893", "14 March 1958"},
		{"DOB: March 14, 1958", "March 14, 1958"},
		{"date of birth Mar 14th, 1958.", "Mar 14th, 1958"},
		{"DOB 14 Mar. 1958", "14 Mar. 1958"},
		{"Patientin, geboren am 14. März 1958", "14. März 1958"},
		{"Geburtsdatum: 3. Dezember 1944", "3. Dezember 1944"},
		{"née le 14 mars 1958 à Lyon", "14 mars 1958"},
		{"date de naissance : 1 août 1960", "1 août 1960"},
		{"nacida el 14 de marzo de 1958", "14 de marzo de 1958"},
		{"geboortedatum 14 maart 1958", "14 maart 1958"},
		{"nato il 14 marzo 1958 a Roma", "14 marzo 1958"},
		// Not tied to a birth: not reported.
		{"admitted 14 March 2024 for observation", ""},
		{"the meeting on March 14, 2024", ""},
		// No such day.
		{"born 31 February 1958", ""},
		// The birth phrase names the first date only.
		{"born 14 March 1958, admitted 2024-01-05", "14 March 1958"},
		{"born 1958-03-14; seen 2024-01-05", "1958-03-14"},
		// Numbers that are not dates.
		{"born after 2 weeks of labour", ""},
		{"dob 14 marching bands 1958", ""},
	}
	for _, tt := range tests {
		var got []string
		for _, f := range (scan.Scanner{}).Scan([]byte(tt.text)) {
			if f.Class == scan.DateOfBirth {
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

// FuzzMonthDate: any text around a month name never panics, and a date
// of birth found is inside the text and starts with a digit or a letter.
func FuzzMonthDate(f *testing.F) {
	for _, s := range []string{"born 14 March 1958", "DOB: March 14, 1958", "geboren 14. März 1958", "nacida el 14 de marzo de 1958", "born 1 "} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, text []byte) {
		for _, fd := range (scan.Scanner{}).Scan(text) {
			if fd.Start < 0 || fd.End > len(text) || fd.Start >= fd.End {
				t.Fatalf("finding %v outside the text", fd)
			}
		}
	})
}
