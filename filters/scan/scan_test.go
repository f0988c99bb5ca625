package scan_test

import (
	"slices"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/secureai-nexus/nexus/filters/scan"
)

func TestValidatorsCutLookAlikes(t *testing.T) {
	tests := []struct {
		text string
		want scan.Class // "" for no finding
	}{
		{"4111 1111 1111 1111", scan.CreditCard},
		{"4111 1111 1111 1112", ""},                // Luhn fails
		{"9111 1111 1111 1119", ""},                // no card scheme starts with 9
		{"GB82 WEST 1234 5698 7654 32", scan.IBAN}, // mod-97 holds
		{"GB83 WEST 1234 5698 7654 32", ""},
		{"SSN 078-05-1120", scan.USSSN},
		{"SSN 000-05-1120", ""},
		{"SSN 078-00-1120", ""},
		{"SSN 078-05-0000", ""},
		{"10.0.0.256 is not an address", ""},
		{"host 10.0.0.255", scan.IPAddress},
		{"address 2001:db8::8a2e:370:7334", scan.IPAddress},
		{"DOB 1980-02-30", ""}, // no such day
		{"meeting 1980-02-03", ""},
		{"DOB 1980-02-03", scan.DateOfBirth},
		{"phone 415 555 0132", scan.Phone},
		{"code 0155501320", ""},
		// A number followed by a space and more digits is still found.
		{"card 4111111111111111 12/27", scan.CreditCard},
		{"card 4111 1111 1111 1111 12/27", scan.CreditCard},
		{"call 415-555-0132 2pm", scan.Phone},
		{"call 415 555 0132 2 times", scan.Phone},
		// Lengths per scheme: a Luhn-valid 13-digit Mastercard is not one.
		{"card 5105105105102", ""},
		{"card 378282246310005", scan.CreditCard}, // Amex, 15
		{"card 3782822463100052", ""},             // Amex never has 16
		// MAC addresses in their three forms; not the all-zero or
		// broadcast ones, nor dotted decimals.
		{"device 00:1A:2B:3C:4D:5E online", scan.MACAddress},
		{"nic aa-bb-cc-dd-ee-0f", scan.MACAddress},
		{"ab:cd:ef:01:23:45", scan.MACAddress},
		{"switch port 001a.2b3c.4d5e", scan.MACAddress},
		{"mac 00:00:00:00:00:00", ""},
		{"mac ff:ff:ff:ff:ff:ff", ""},
		{"version 1234.5678.9012", ""},
		{"at 10:30:45:12:00:01:22 exactly", ""},
		// A number a fax word names is a fax number.
		{"Fax: +33 1 42 68 53 00", scan.Fax},
		{"fax 415-555-0199", scan.Fax},
		// The tail of an invalid IBAN is not a card.
		{"IBAN DE00 4111 1111 1111 1111", ""},
		{"card 4111 1111 1111 1111", scan.CreditCard},
		// No fragment of an invalid address is one.
		{"host 2001:db8::1::2 bad", ""},
		{"host 2001:db8:0:0:0:0:0:0:1 bad", ""},
		{"host 2001:db8::1 fine", scan.IPAddress},
		{"host ::ffff:10.0.0.1", scan.IPAddress},
		// The words between a context phrase and its id.
		{"Medicare ID 1EG4-TE5-MK73", scan.HealthPlanID},
		{"Medicare ID: 1EG4TE5MK73", scan.HealthPlanID},
		{"MBI 1EG4TE5MK73", scan.HealthPlanID},
		{"policy number is AB123456", scan.HealthPlanID},
	}
	for _, tt := range tests {
		fs := scan.Scanner{}.Scan([]byte(tt.text))
		switch {
		case tt.want == "" && len(fs) > 0:
			t.Errorf("%q: unexpected %v", tt.text, fs)
		case tt.want != "" && (len(fs) != 1 || fs[0].Class != tt.want):
			t.Errorf("%q: got %v, want one %s", tt.text, fs, tt.want)
		}
	}
}

// FuzzScan: never a panic, spans in bounds, ordered, not overlapping, and
// never splitting a UTF-8 character.
func FuzzScan(f *testing.F) {
	f.Add([]byte("jane@example.com 4111-1111-1111-1111 +44 20 7946 0958 ::1 AKIAIOSFODNN7EXAMPLE"))
	f.Add([]byte("-----BEGIN PRIVATE KEY-----"))
	f.Add([]byte("MRN: é1234567 passport number 12345678 DOB 01/02/1990 ssn 123456789"))
	f.Add([]byte("Dear Élodie Lefèvre, Mme de La Tour, D’Angelo; 12 rue de la Paix, 75002 Paris; Boston, MA 02115; a 92-year-old"))
	f.Add([]byte("Hauptstraße 5, 10115 Berlin; P.O. Box 77; London NW1 6XE; admitted 2024-01-05; Dupont, Marie"))
	f.Fuzz(func(t *testing.T, text []byte) {
		fs := scan.Scanner{}.Scan(text)
		prevEnd := 0
		for _, fd := range fs {
			if fd.Start < prevEnd || fd.End > len(text) || fd.Start >= fd.End {
				t.Fatalf("bad span %+v (prev end %d, len %d)", fd, prevEnd, len(text))
			}
			if utf8.Valid(text) && (!utf8.Valid(text[fd.Start:fd.End])) {
				t.Fatalf("span %+v splits a character", fd)
			}
			prevEnd = fd.End
		}
	})
}

// The candidate lists scans collect into are pooled: a result must be the
// caller's own, unchanged by later scans, and concurrent scans must not
// share a list.
func TestResultsOutliveLaterScans(t *testing.T) {
	first := []byte("mail jane@example.com, card 4111 1111 1111 1111")
	got := scan.Scanner{}.Scan(first)
	want := slices.Clone(got)
	for range 100 {
		scan.Scanner{}.Scan([]byte("SSN 078-05-1120 and host 10.0.0.255, DOB 1980-02-03"))
	}
	if !slices.Equal(got, want) || len(got) != 2 {
		t.Fatalf("first result changed by later scans: %v, was %v", got, want)
	}
}

func TestConcurrentScans(t *testing.T) {
	texts := [][]byte{
		[]byte("mail jane@example.com, card 4111 1111 1111 1111"),
		[]byte("SSN 078-05-1120 and host 10.0.0.255, DOB 1980-02-03"),
		[]byte("GB82 WEST 1234 5698 7654 32 AKIAIOSFODNN7EXAMPLE"),
		[]byte("no personal data here at all"),
	}
	want := make([][]scan.Finding, len(texts))
	for i, text := range texts {
		want[i] = scan.Scanner{}.Scan(text)
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for k := range 500 {
				i := (g + k) % len(texts)
				if got := (scan.Scanner{}).Scan(texts[i]); !slices.Equal(got, want[i]) {
					t.Errorf("concurrent scan of %q: %v, want %v", texts[i], got, want[i])
					return
				}
			}
		})
	}
	wg.Wait()
}

// TestFaxAndPhone: in one line, the number after "phone" is a phone and
// the one after "fax" a fax.
func TestFaxAndPhone(t *testing.T) {
	fs := scan.Scanner{}.Scan([]byte("phone 415-555-0199, fax 415-555-0198 later"))
	if len(fs) != 2 || fs[0].Class != scan.Phone || fs[1].Class != scan.Fax {
		t.Fatalf("findings %v", fs)
	}
}

// TestWeakGuesses: the bare SSN, passport and licence forms are found at
// a lowered floor and not at the default one; a dotted SSN is reported at
// the default floor; look-alikes at neither.
func TestWeakGuesses(t *testing.T) {
	tests := []struct {
		text, value string
		class       scan.Class
		conf        float64
	}{
		{"078-051121", "", "", 0}, // a national phone number's grouping, which wins
		{"17805-1121", "17805-1121", scan.USSSN, 0.3},
		{"078051121", "078051121", scan.USSSN, 0.35},
		{"SSN 078051121", "078051121", scan.USSSN, 0.9},
		{"078.05.1123", "078.05.1123", scan.USSSN, 0.5},
		{"078051120", "078051120", scan.ABARoutingNumber, 0.4}, // the Woolworth sample is no SSN
		{"078 00 1123", "", "", 0},
		{"693-09.4444", "", "", 0},
		{"0780511201", "0780511201", scan.DriverLicense, 0.3},
		{"A12803456", "A12803456", scan.USPassport, 0.35},
		{"my travel document is Z12803456", "Z12803456", scan.USPassport, 0.35},
		{"passport number A12803456", "A12803456", scan.USPassport, 0.9},
		{"912803456", "912803456", scan.USITIN, 0.35}, // the narrower guess
		{"D1234567", "D1234567", scan.DriverLicense, 0.3},
		{"D123456789012", "D123456789012", scan.DriverLicense, 0.3},
		{"1234567901234", "1234567901234", scan.DriverLicense, 0.3},
		{"D1234567890123", "", "", 0},
		{"C12T345672", "", "", 0},
		{"ABCDEFGHI", "", "", 0},
	}
	for _, tt := range tests {
		for _, s := range []scan.Scanner{{}, {MinConfidence: 0.25}} {
			fs := s.Scan([]byte(tt.text))
			want := tt.class != "" && (s.MinConfidence != 0 || tt.conf >= 0.5)
			var got []scan.Finding
			for _, f := range fs {
				if f.Class != scan.Name && f.Class != scan.Phone {
					got = append(got, f)
				}
			}
			ok := len(got) == 0
			if want {
				ok = len(got) == 1 && got[0].Class == tt.class && tt.text[got[0].Start:got[0].End] == tt.value && got[0].Confidence == tt.conf
			}
			if !ok {
				t.Errorf("%q (floor %v): %v, want %s %q at %v", tt.text, s.MinConfidence, fs, tt.class, tt.value, tt.conf)
			}
		}
	}
}
