package scan

import (
	"bytes"
	"testing"
)

func (s Scanner) scanReference(text []byte) []Finding {
	out := s.findings()
	n := len(text)
	for i := 0; i < n; i++ {
		c := text[i]
		if c == '@' {
			out.add(matchEmail(text, i))
			continue
		}
		switch c {
		case ':', '=', '>':
			out.add(matchSeparator(text, i)) // name = value: after the name's last letter
		case '(':
			out.add(matchCallAssignment(text, i))
		}
		if i > 0 && isAlnum(text[i-1]) {
			continue // only word starts begin a finding
		}
		switch {
		case isDigit(c):
			out.add(matchMonthDate(text, i))
			if n-i >= 26 {
				out.add(matchBase58Address(text, i))
			}
			refMatchNumeric(text, i, &out)
		case isAlpha(c):
			if isHex(c) {
				out.add(matchMAC(text, i))
			}
			if refWordMayMatch(text, i) {
				refMatchWord(text, i, &out)
			}
			// Nothing starts inside a word but an email's '@', which is
			// not alphanumeric: skip to the word's end.
			for i+1 < n && isAlnum(text[i+1]) {
				i++
			}
		case c >= 0xC3 && c <= 0xC5:
			// A word starting with a Latin capital in UTF-8.
			if e, ok := capitalAt(text, i); ok && e < n && isAlpha(text[e]) {
				out.add(matchName(text, i))
			}
		case c == '+' || c == '(':
			if i+1 < n && isDigit(text[i+1]) {
				out.add(matchPhone(text, i))
				out.add(matchUDI(text, i))
			}
		case c == '-':
			if hasPrefixAt(text, i, "-----BEGIN ") {
				out.add(matchPEM(text, i))
			}
		case c == ':':
			if i+1 < n && text[i+1] == ':' && (i == 0 || text[i-1] != ':') {
				out.add(matchIPv6(text, i))
			}
		}
	}
	return resolve(out.list)
}

// matchWord tries the classes that start with a letter, filtered by the
// letter so most words cost one switch.
func refMatchWord(text []byte, i int, out *findings) {
	matchWord(text, i, keywordAt(text, i), out)
	for _, m := range [...]func([]byte, int) (Finding, bool){matchDEA, matchNINO, matchKVNR, matchNIE, matchFiscalCode, matchPassportGuess, matchLicenseGuess} {
		out.add(m(text, i))
	}
	// The plain scanner tried IPv6 at the word, not at its ':'.
	if isHex(text[i]) && hexThenColon(text, i) {
		out.add(matchIPv6(text, i))
	}
}

// wordMayMatch is the inline-cheap test that dismisses almost every word
// of ordinary prose before any matcher runs: only a few first-letter
// shapes can start a finding.
func refWordMayMatch(text []byte, i int) bool {
	if i+1 >= len(text) {
		return false
	}
	c, d := text[i], text[i+1]
	switch {
	case isUpper(c) && isUpper(d): // IBAN (DE89…), AWS key ids (AKIA…), MRN, SSN
		return true
	case isUpper(c) && (isLower(d) || d >= 0x80 || isDigit(d) || d == '\'' || d == '.' || d == '-'), (c|0x20) == 's' && d == '/': // a name, "P.O. Box", a VIN, a plate, "S/N"
		return true
	case c == 'x' && isDigit(d): // a NIE in lower case
		return true
	case c == 'A' && d == '3', c == 'g' && (d == 'h' || d == 'i' || d == 'l'), c == 'x' && d == 'o', c == 'e' && d == 'y', c == 'b' && d == 'c', (c|0x20) == 'h' && (d|0x20) == 't':
		return true // secret prefixes
	case isAlpha(d) && keywordAt(text, i):
		return true
	case isHex(c) && hexThenColon(text, i):
		return true
	}
	return false
}

// hexThenColon says whether a run of at most four hex digits at i is
// followed by ':', the shape of an IPv6 address's first group.
func hexThenColon(text []byte, i int) bool {
	for j := i; j < len(text) && j-i <= 4; j++ {
		if text[j] == ':' {
			return j > i
		}
		if !isHex(text[j]) {
			return false
		}
	}
	return false
}

// numericDigits counts the digits in the run of digits and number
// punctuation starting at i (up to 48 bytes): the cheap test that lets
// most numbers in ordinary text ("2 weeks", "20 mg") skip every matcher.
func numericDigits(text []byte, i int) int {
	n := 0
	for j := i; j < len(text) && j-i < 48; j++ {
		c := text[j]
		switch {
		case isDigit(c):
			n++
		case c == ' ' || c == '-' || c == '.' || c == '/' || c == ':' || c == '(' || c == ')':
		case isHex(c):
			// IPv6 groups mix letters in; count them so "fe80::1" passes.
			n++
		default:
			return n
		}
	}
	return n
}

// refMatchNumeric tries every class that starts with a digit.
func refMatchNumeric(text []byte, i int, out *findings) {
	out.add(matchAge(text, i))
	out.add(matchAddressNumber(text, i))
	out.add(matchVIN(text, i))
	out.add(matchPlate(text, i))
	if !startsClean(text, i) || numericDigits(text, i) < 4 {
		return
	}
	for _, m := range [...]func([]byte, int) (Finding, bool){matchCard, matchSSN, matchIPv4, matchDate, matchPhone, matchNationalPhone, matchIPv6, matchMAC,
		matchNPI, matchITIN, matchBankNumber, matchABA, matchNHS, matchNIR, matchDETaxID, matchNIF, matchBSN, matchSIN, matchTFN, matchAUMedicare,
		matchPassportGuess, matchLicenseGuess} {
		out.add(m(text, i))
	}
}

// FuzzScanMatchesReference: the block-at-a-time scanner finds exactly what
// the plain one does.
func FuzzScanMatchesReference(f *testing.F) {
	f.Add([]byte("Dear Élodie Lefèvre, Mme de La Tour, D’Angelo; 12 rue de la Paix, 75002 Paris; Boston, MA 02115; a 92-year-old"))
	f.Add([]byte("Hauptstraße 5, 10115 Berlin; P.O. Box 77; London NW1 6XE; admitted 2024-01-05; Dupont, Marie; Ángel Øyvind"))
	for _, s := range []string{
		"patient id 12345678, jane@example.com, SSN 123-45-6789, +1 (415) 555-0132",
		"fe80::1ff:fe23:4567:890a and ::1 and a:b::c and abcde:1 and 2001:db8::7",
		"AKIAIOSFODNN7EXAMPLE ghp_0123456789abcdefghijklmnopqrstuvwxyzAB api_key=sk_live_0123456789",
		"-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----",
		"DE89 3704 0044 0532 0130 00, GB82WEST12345698765432, MRN: 00123456, DOB 1980-02-13",
		"passport number 123456789 driver's license D1234567 member id ABC123456",
		"\xff\xfeé patient\x00id 4111 1111 1111 1111 192.168.0.1",
		"born 14 March 1958, DOB: March 14, 1958; geboren am 14. März 1958",
		"mac 00:1A:2B:3C:4D:5E, aa-bb-cc-dd-ee-ff, 001a.2b3c.4d5e, ab:cd:ef:01:23:45",
		"NPI 1234567893, DEA AB1234563, ITIN 912-70-1234, acct 12345678, routing 021000021, 0210-0002-1, NINO AB 12 34 56 C, NHS 943 476 5919",
		"NIR 1 84 12 76 451 089 46, Steuer-ID 86095742719, KVNR A123456780, DNI 12345678Z, NIE X1234567L, BSN 1112.22.333",
		"CF RSSMRA85T10A562S, SIN 130 692 544, TFN 123 456 782, Medicare 2123 45670 1, 2123456701/1",
		"pay 1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa or 3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy or bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq",
	} {
		f.Add([]byte(s))
	}
	f.Add([]byte("911-701234 91170-1234 H12234567 945456787654 x9613851n 1111111-G 55555555k AAAAAA00B11C333N PR 123612C 078.05.1123"))
	f.Fuzz(func(t *testing.T, text []byte) {
		// At the default floor, and at a lowered one that reports the
		// weak tier, whose forms the scan loop must reach as well.
		for _, s := range []Scanner{{}, {MinConfidence: 0.25}} {
			got := s.Scan(bytes.Clone(text))
			want := s.scanReference(bytes.Clone(text))
			if len(got) != len(want) {
				t.Fatalf("%q (floor %v): Scan found %v, the reference %v", text, s.MinConfidence, got, want)
			}
			for i := range got {
				if got[i] != want[i] {
					t.Fatalf("%q (floor %v): Scan found %v, the reference %v", text, s.MinConfidence, got, want)
				}
			}
		}
	})
}
