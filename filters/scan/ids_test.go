package scan

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
)

// The reference validators below are written from the published rules as
// plainly as possible — strings, strconv, one rule a line — and share no
// code with ids.go, so the fuzz test holds the fast validators to them.
// The check-digit generators are built on them: every valid example in
// these tests is computed, not copied.

func isDigits(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

func atoi(s string) int { n, _ := strconv.Atoi(s); return n }

// refLuhn doubles every second digit counted from the right.
func refLuhn(s string) bool {
	sum := 0
	for k := 0; k < len(s); k++ {
		n := int(s[len(s)-1-k] - '0')
		if k%2 == 1 {
			n *= 2
			if n > 9 {
				n -= 9
			}
		}
		sum += n
	}
	return sum%10 == 0
}

// luhnDigit is the digit that makes s+digit pass Luhn.
func luhnDigit(s string) byte {
	for c := byte('0'); c <= '9'; c++ {
		if refLuhn(s + string(c)) {
			return c
		}
	}
	panic("no Luhn digit for " + s)
}

func refNPI(s string) bool { return isDigits(s, 10) && refLuhn("80840"+s) }

func refDEA(s string) bool {
	if len(s) != 9 || !strings.ContainsRune("ABCDEFGHJKLMPRSTUX", rune(s[0])) || !(s[1] >= 'A' && s[1] <= 'Z' || s[1] == '9') || !isDigits(s[2:], 7) {
		return false
	}
	d := func(k int) int { return int(s[1+k] - '0') } // d(1)…d(7)
	return (d(1)+d(3)+d(5)+2*(d(2)+d(4)+d(6)))%10 == d(7)
}

func refITIN(s string) bool {
	if !isDigits(s, 9) || s[0] != '9' {
		return false
	}
	g := atoi(s[3:5])
	return (g >= 50 && g <= 65) || (g >= 70 && g <= 88) || (g >= 90 && g <= 92) || (g >= 94 && g <= 99)
}

func refABA(s string) bool {
	if !isDigits(s, 9) {
		return false
	}
	p := atoi(s[:2])
	if !((p >= 0 && p <= 12) || (p >= 21 && p <= 32) || (p >= 61 && p <= 72) || p == 80) {
		return false
	}
	w := []int{3, 7, 1, 3, 7, 1, 3, 7, 1}
	sum := 0
	for k := range w {
		sum += w[k] * int(s[k]-'0')
	}
	return sum%10 == 0
}

func refNINO(s string) bool {
	if len(s) != 9 || !isDigits(s[2:8], 6) || !strings.ContainsRune("ABCD", rune(s[8])) {
		return false
	}
	a, b := s[0], s[1]
	if a < 'A' || a > 'Z' || b < 'A' || b > 'Z' || strings.ContainsRune("DFIQUV", rune(a)) || strings.ContainsRune("DFIQUVO", rune(b)) {
		return false
	}
	for _, bad := range []string{"BG", "GB", "KN", "NK", "NT", "TN", "ZZ"} {
		if s[:2] == bad {
			return false
		}
	}
	return true
}

// nhsDigit is the NHS check digit for nine digits, or -1 where it would be
// 10 and the number is never issued.
func nhsDigit(s string) int {
	sum := 0
	for k := 0; k < 9; k++ {
		sum += int(s[k]-'0') * (10 - k)
	}
	c := 11 - sum%11
	if c == 11 {
		return 0
	}
	if c == 10 {
		return -1
	}
	return c
}

func refNHS(s string) bool { return isDigits(s, 10) && nhsDigit(s[:9]) == int(s[9]-'0') }

// nirKey is 97 minus the thirteen digits (Corsica's 2A and 2B read as
// 19 and 18) mod 97.
func nirKey(s string) int {
	s = strings.Replace(strings.Replace(s[:7], "2A", "19", 1), "2B", "18", 1) + s[7:13]
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return -1
	}
	return 97 - int(n%97)
}

func refNIR(s string) bool {
	if len(s) != 15 || !strings.ContainsRune("123478", rune(s[0])) || !isDigits(s[1:5], 4) || !isDigits(s[7:], 8) {
		return false
	}
	dep := s[5:7]
	if !(isDigits(dep, 2) && dep != "00" || dep == "2A" || dep == "2B") {
		return false
	}
	m := atoi(s[3:5])
	if !((m >= 1 && m <= 12) || (m >= 20 && m <= 42) || (m >= 50 && m <= 99)) {
		return false
	}
	return nirKey(s) == atoi(s[13:])
}

// deTaxDigit is the ISO 7064 MOD 11,10 check digit of ten digits.
func deTaxDigit(s string) byte {
	p := 10
	for _, r := range s {
		t := (int(r-'0') + p) % 10
		if t == 0 {
			t = 10
		}
		p = (2 * t) % 11
	}
	return byte('0' + (11-p)%10)
}

func refDETaxID(s string) bool {
	if !isDigits(s, 11) || s[0] == '0' {
		return false
	}
	counts := map[rune]int{}
	for _, r := range s[:10] {
		counts[r]++
	}
	var multi []rune
	for r, n := range counts {
		if n > 3 {
			return false
		}
		if n > 1 {
			multi = append(multi, r)
		}
	}
	if len(multi) != 1 {
		return false
	}
	if strings.Contains(s[:10], strings.Repeat(string(multi[0]), 3)) {
		return false
	}
	return deTaxDigit(s[:10]) == s[10]
}

// kvnrDigit is the check digit of a KVNR's letter and first eight digits.
func kvnrDigit(letter byte, digits string) byte {
	seq := fmt.Sprintf("%02d%s", letter-'A'+1, digits)
	sum := 0
	for k, r := range seq {
		n := int(r - '0')
		if k%2 == 1 {
			n *= 2
		}
		sum += n/10 + n%10
	}
	return byte('0' + sum%10)
}

func refKVNR(s string) bool {
	return len(s) == 10 && s[0] >= 'A' && s[0] <= 'Z' && isDigits(s[1:], 9) && kvnrDigit(s[0], s[1:9]) == s[9]
}

func dniLetter(n int) byte { return "TRWAGMYFPDXBNJZSQVHLCKE"[n%23] }

func refNIF(s string) bool {
	return len(s) == 9 && isDigits(s[:8], 8) && dniLetter(atoi(s[:8])) == s[8]
}

func refNIE(s string) bool {
	if len(s) != 9 || !strings.ContainsRune("XYZ", rune(s[0])) || !isDigits(s[1:8], 7) {
		return false
	}
	return dniLetter(atoi(string(rune('0'+s[0]-'X'))+s[1:8])) == s[8]
}

func refBSN(s string) bool {
	if !isDigits(s, 9) || s == "000000000" {
		return false
	}
	sum := 0
	for k := 0; k < 8; k++ {
		sum += (9 - k) * int(s[k]-'0')
	}
	sum -= int(s[8] - '0')
	return sum%11 == 0
}

// bsnDigit is the last digit that makes eight digits pass the
// eleven-proof, or -1.
func bsnDigit(s string) int {
	for c := 0; c <= 9; c++ {
		if refBSN(s + strconv.Itoa(c)) {
			return c
		}
	}
	return -1
}

// The official tables of the codice fiscale's check character.
const (
	cfOddChars  = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	cfOmocodes  = "LMNPQRSTUV"
	cfMonths    = "ABCDEHLMPRST"
	cfOddValues = "1,0,5,7,9,13,15,17,19,21,1,0,5,7,9,13,15,17,19,21,2,4,18,20,11,3,6,8,12,14,16,10,22,25,24,23"
)

func cfValue(c byte, odd bool) int {
	k := strings.IndexByte(cfOddChars, c)
	if odd {
		return atoi(strings.Split(cfOddValues, ",")[k])
	}
	if k < 10 {
		return k
	}
	return k - 10
}

func cfCheck(s string) byte {
	sum := 0
	for k := 0; k < 15; k++ {
		sum += cfValue(s[k], k%2 == 0) // positions 1, 3, … are odd
	}
	return byte('A' + sum%26)
}

func refFiscalCode(s string) bool {
	if len(s) != 16 {
		return false
	}
	upper := func(c byte) bool { return c >= 'A' && c <= 'Z' }
	digitLike := func(c byte) (int, bool) {
		if c >= '0' && c <= '9' {
			return int(c - '0'), true
		}
		k := strings.IndexByte(cfOmocodes, c)
		return k, k >= 0
	}
	for k := 0; k < 6; k++ {
		if !upper(s[k]) {
			return false
		}
	}
	for _, k := range []int{6, 7, 9, 10, 12, 13, 14} {
		if _, ok := digitLike(s[k]); !ok {
			return false
		}
	}
	if !strings.ContainsRune(cfMonths, rune(s[8])) || !upper(s[11]) || !upper(s[15]) {
		return false
	}
	t, _ := digitLike(s[9])
	u, _ := digitLike(s[10])
	if day := t*10 + u; !((day >= 1 && day <= 31) || (day >= 41 && day <= 71)) {
		return false
	}
	return cfCheck(s) == s[15]
}

func refSIN(s string) bool { return isDigits(s, 9) && s[0] != '0' && s[0] != '8' && refLuhn(s) }

func refTFN(s string) bool {
	if !isDigits(s, 9) {
		return false
	}
	w := []int{1, 4, 3, 7, 5, 8, 6, 9, 10}
	sum := 0
	for k := range w {
		sum += w[k] * int(s[k]-'0')
	}
	return sum%11 == 0
}

func tfnDigit(s string) int {
	for c := 0; c <= 9; c++ {
		if refTFN(s + strconv.Itoa(c)) {
			return c
		}
	}
	return -1
}

func medicareDigit(s string) byte {
	w := []int{1, 3, 7, 9, 1, 3, 7, 9}
	sum := 0
	for k := range w {
		sum += w[k] * int(s[k]-'0')
	}
	return byte('0' + sum%10)
}

func refAUMedicare(s string) bool {
	return isDigits(s, 10) && s[0] >= '2' && s[0] <= '6' && medicareDigit(s) == s[8]
}

// idValidator pairs a fast validator with its reference and a generator
// of valid normalized ids from a random source.
type idValidator struct {
	name string
	fast func([]byte) bool
	ref  func(string) bool
	gen  func(r *rand.Rand) string
	// everyDigit: the check catches a change of any one digit, not only of
	// the check digit itself (the DEA's weight 2 misses a change by 5, the
	// Medicare issue number is outside the check).
	everyDigit bool
}

func randDigits(r *rand.Rand, n int) string {
	b := make([]byte, n)
	for k := range b {
		b[k] = byte('0' + r.IntN(10))
	}
	return string(b)
}

func randUpper(r *rand.Rand, from string) byte { return from[r.IntN(len(from))] }

const capitals = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"

var idValidators = []idValidator{
	{"NPI", validNPI, refNPI, func(r *rand.Rand) string {
		s := "1" + randDigits(r, 8)
		return s + string(luhnDigit("80840"+s))
	}, true},
	{"DEA", validDEA, refDEA, func(r *rand.Rand) string {
		s := string([]byte{randUpper(r, "ABCDEFGHJKLMPRSTUX"), randUpper(r, capitals+"9")}) + randDigits(r, 6)
		d := func(k int) int { return int(s[1+k] - '0') }
		return s + strconv.Itoa((d(1)+d(3)+d(5)+2*(d(2)+d(4)+d(6)))%10)
	}, false},
	{"ITIN", validITIN, refITIN, func(r *rand.Rand) string {
		groups := []int{50, 53, 65, 70, 75, 88, 90, 92, 94, 99}
		return "9" + randDigits(r, 2) + strconv.Itoa(groups[r.IntN(len(groups))]) + randDigits(r, 4)
	}, false},
	{"ABA", validABA, refABA, func(r *rand.Rand) string {
		prefixes := []string{"01", "02", "12", "21", "32", "61", "72", "80"}
		s := prefixes[r.IntN(len(prefixes))] + randDigits(r, 6)
		for c := '0'; c <= '9'; c++ {
			if refABA(s + string(c)) {
				return s + string(c)
			}
		}
		panic(s)
	}, true},
	{"NINO", validNINO, refNINO, func(r *rand.Rand) string {
		for {
			s := string([]byte{randUpper(r, capitals), randUpper(r, capitals)}) + randDigits(r, 6) + string(randUpper(r, "ABCD"))
			if refNINO(s) {
				return s
			}
		}
	}, false},
	{"NHS", validNHS, refNHS, func(r *rand.Rand) string {
		for {
			s := randDigits(r, 9)
			if c := nhsDigit(s); c >= 0 {
				return s + strconv.Itoa(c)
			}
		}
	}, true},
	{"NIR", validNIR, refNIR, func(r *rand.Rand) string {
		deps := []string{"75", "13", "2A", "2B", "69", "97"}
		months := []string{"01", "07", "12", "20", "35", "42", "50", "99"}
		s := string(rune('1'+r.IntN(2))) + randDigits(r, 2) + months[r.IntN(len(months))] + deps[r.IntN(len(deps))] + randDigits(r, 6)
		return s + fmt.Sprintf("%02d", nirKey(s))
	}, true},
	{"DE tax id", validDETaxID, refDETaxID, func(r *rand.Rand) string {
		for {
			// Nine distinct digits and one of them again, shuffled.
			p := r.Perm(10)
			b := []byte{}
			for _, v := range p[:9] {
				b = append(b, byte('0'+v))
			}
			b = append(b, b[r.IntN(9)])
			r.Shuffle(len(b), func(x, y int) { b[x], b[y] = b[y], b[x] })
			if b[0] == '0' {
				continue
			}
			return string(b) + string(deTaxDigit(string(b)))
		}
	}, true},
	{"KVNR", validKVNR, refKVNR, func(r *rand.Rand) string {
		l, d := randUpper(r, capitals), randDigits(r, 8)
		return string(l) + d + string(kvnrDigit(l, d))
	}, true},
	{"NIF", validNIF, refNIF, func(r *rand.Rand) string {
		d := randDigits(r, 8)
		return d + string(dniLetter(atoi(d)))
	}, true},
	{"NIE", validNIE, refNIE, func(r *rand.Rand) string {
		p, d := r.IntN(3), randDigits(r, 7)
		return string(rune('X'+p)) + d + string(dniLetter(atoi(strconv.Itoa(p)+d)))
	}, true},
	{"BSN", validBSN, refBSN, func(r *rand.Rand) string {
		for {
			s := randDigits(r, 8)
			if c := bsnDigit(s); c >= 0 {
				return s + strconv.Itoa(c)
			}
		}
	}, true},
	{"fiscal code", validFiscalCode, refFiscalCode, func(r *rand.Rand) string {
		b := []byte{}
		for range 6 {
			b = append(b, randUpper(r, capitals))
		}
		b = append(b, randDigits(r, 2)...)
		b = append(b, randUpper(r, cfMonths))
		b = append(b, fmt.Sprintf("%02d", []int{1, 15, 31, 41, 55, 71}[r.IntN(6)])...)
		b = append(b, randUpper(r, capitals))
		b = append(b, randDigits(r, 3)...)
		// Omocodia: now and then a digit becomes its letter.
		for _, k := range []int{6, 7, 9, 10, 12, 13, 14} {
			if r.IntN(4) == 0 {
				b[k] = cfOmocodes[b[k]-'0']
			}
		}
		return string(b) + string(cfCheck(string(b)))
	}, true},
	{"SIN", validSIN, refSIN, func(r *rand.Rand) string {
		s := string("12345679"[r.IntN(8)]) + randDigits(r, 7)
		return s + string(luhnDigit(s))
	}, true},
	{"TFN", validTFN, refTFN, func(r *rand.Rand) string {
		for {
			s := randDigits(r, 8)
			if c := tfnDigit(s); c >= 0 {
				return s + strconv.Itoa(c)
			}
		}
	}, true},
	{"AU Medicare", validAUMedicare, refAUMedicare, func(r *rand.Rand) string {
		s := string(rune('2'+r.IntN(5))) + randDigits(r, 7)
		return s + string(medicareDigit(s)) + strconv.Itoa(1+r.IntN(9))
	}, false},
}

// checkPosition is where each id's check character is.
var checkPosition = map[string]int{
	"NPI": 9, "DEA": 8, "ABA": 8, "NHS": 9, "NIR": 14, "DE tax id": 10, "KVNR": 9, "NIF": 8, "NIE": 8,
	"BSN": 8, "fiscal code": 15, "SIN": 8, "TFN": 8, "AU Medicare": 8,
}

// bump changes the character at k to another of its kind.
func bump(s string, k int) string {
	b := []byte(s)
	switch c := b[k]; {
	case c >= '0' && c <= '9':
		b[k] = '0' + (c-'0'+1)%10
	case c >= 'A' && c <= 'Z':
		b[k] = 'A' + (c-'A'+1)%26
	}
	return string(b)
}

func TestIDValidatorsGenerated(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, v := range idValidators {
		for range 500 {
			s := v.gen(r)
			if !v.ref(s) || !v.fast([]byte(s)) {
				t.Fatalf("%s %s: generated valid, reference %v, validator %v", v.name, s, v.ref(s), v.fast([]byte(s)))
			}
			if k, ok := checkPosition[v.name]; ok {
				if m := bump(s, k); v.fast([]byte(m)) {
					t.Errorf("%s %s: a wrong check character passes", v.name, m)
				}
			}
			if v.everyDigit {
				for k := range s {
					if s[k] >= '0' && s[k] <= '9' {
						if m := bump(s, k); v.fast([]byte(m)) && v.name != "NIR" {
							t.Errorf("%s %s: one digit changed (from %s) passes", v.name, m, s)
						}
					}
				}
			}
		}
	}
}

// TestIDValidatorsPublished: example numbers as their issuers and
// standards publish them, and near-misses.
func TestIDValidatorsPublished(t *testing.T) {
	tests := []struct {
		valid func([]byte) bool
		id    string
		want  bool
	}{
		{validNPI, "1234567893", true}, // CMS's example NPI
		{validNPI, "1234567890", false},
		{validDEA, "AB1234563", true},
		{validDEA, "AB1234567", false},
		{validDEA, "IB1234563", false}, // I is no registrant type
		{validDEA, "A91234563", true},  // 9 for a business name starting with a digit
		{validITIN, "912701234", true},
		{validITIN, "912931234", false}, // group 93 is never issued
		{validITIN, "900123456", false},
		{validITIN, "812701234", false},
		{validABA, "021000021", true}, // JPMorgan Chase, New York
		{validABA, "011000015", true}, // Federal Reserve Bank of Boston
		{validABA, "021000022", false},
		{validABA, "401000024", false}, // 40 is no Federal Reserve district
		{validNINO, "AB123456C", true},
		{validNINO, "QQ123456C", false}, // the placeholder on forms: Q is never a prefix
		{validNINO, "GB123456A", false},
		{validNINO, "AO123456A", false},
		{validNINO, "AB123456E", false},
		{validNHS, "9434765919", true}, // NHS Digital's example
		{validNHS, "9434765918", false},
		{validNIR, "184127645108946", true},
		{validNIR, "184127645108947", false},
		{validNIR, "584127645108946", false}, // no sex digit 5
		{validNIR, "184137645108946", false}, // no month 13
		{validDETaxID, "86095742719", true},  // BZSt's example
		{validDETaxID, "86095742718", false},
		{validDETaxID, "12345678903", false}, // ten distinct digits: no id has them
		{validDETaxID, "06095742719", false},
		{validKVNR, "A123456780", true},
		{validKVNR, "A123456781", false},
		{validNIF, "12345678Z", true},
		{validNIF, "12345678A", false},
		{validNIE, "X1234567L", true},
		{validNIE, "X1234567T", false},
		{validNIE, "W1234567L", false},
		{validBSN, "111222333", true},
		{validBSN, "123456782", true},
		{validBSN, "111222334", false},
		{validBSN, "000000000", false},
		{validFiscalCode, "RSSMRA85T10A562S", true}, // the Agenzia delle Entrate's Mario Rossi
		{validFiscalCode, "RSSMRA85T10A562T", false},
		{validFiscalCode, "RSSMRA85T10A56NH", true}, // omocodia: 2 → N, the check letter recomputed
		{validFiscalCode, "RSSMRA85T32A562S", false},
		{validSIN, "130692544", true},
		{validSIN, "046454286", false}, // Luhn-valid, but 0 is never assigned
		{validSIN, "130692545", false},
		{validTFN, "123456782", true}, // the ATO's example
		{validTFN, "123456783", false},
		{validAUMedicare, "2123456701", true},
		{validAUMedicare, "2123456711", false},
		{validAUMedicare, "1123456701", false},
		// Wrong lengths and bytes are no ids, without a panic.
		{validNHS, "943476591", false},
		{validNIR, "", false},
		{validFiscalCode, "rssmra85t10a562s", false},
		{validNIF, "1234567\xffZ", false},
	}
	for _, tt := range tests {
		if got := tt.valid([]byte(tt.id)); got != tt.want {
			t.Errorf("%s: valid %v, want %v", tt.id, got, tt.want)
		}
	}
}

// FuzzIDValidators: no validator panics, and each agrees with its
// reference on the raw input, on the input read as digits (or letters
// where the id has them), and on that with the check character
// corrected.
func FuzzIDValidators(f *testing.F) {
	for _, s := range []string{"", "1234567893", "AB1234563", "2A", "RSSMRA85T10A562S", "\xff\x00 9434765919", "184127645108946"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		seed := uint64(0)
		for _, c := range data {
			seed = seed*131 + uint64(c)
		}
		r := rand.New(rand.NewPCG(seed, uint64(len(data))))
		for _, v := range idValidators {
			valid := v.gen(r)
			// The generated id with the input written over it: the
			// input's bytes mapped to the generated character's kind.
			b := []byte(valid)
			for k := 0; k < len(b) && k < len(data); k++ {
				switch c := b[k]; {
				case c >= '0' && c <= '9':
					b[k] = '0' + data[k]%10
				case c >= 'A' && c <= 'Z':
					b[k] = 'A' + data[k]%26
				}
			}
			for _, s := range []string{string(data), string(b), valid, string(b[:len(b)/2])} {
				if got, want := v.fast([]byte(s)), v.ref(s); got != want {
					t.Fatalf("%s %q: validator %v, reference %v", v.name, s, got, want)
				}
			}
		}
	})
}

func TestIDValidatorsDoNotAllocate(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, v := range idValidators {
		b := []byte(v.gen(r))
		if n := testing.AllocsPerRun(100, func() { v.fast(b) }); n != 0 {
			t.Errorf("%s: %v allocations", v.name, n)
		}
	}
	text := []byte("SIN 130 692 544, TFN 123 456 782, NIR 1 84 12 76 451 089 46, CF RSSMRA85T10A562S, acct 12345678")
	for _, min := range []float64{defaultMinConfidence, 0.25} {
		var out findings
		out.min = min
		out.list = make([]Finding, 0, 64)
		if n := testing.AllocsPerRun(100, func() {
			out.list = out.list[:0]
			for i := range text {
				if i == 0 || !isAlnum(text[i-1]) {
					if sh := shapeAt(text, i); isDigit(text[i]) && sh.decimal >= 8 {
						matchIDNumber(text, i, sh, min < defaultMinConfidence, &out)
					} else if !isDigit(text[i]) {
						matchIDWord(text, i, &out)
					}
				}
			}
		}); n != 0 {
			t.Errorf("matchers at floor %v: %v allocations", min, n)
		}
	}
}

// TestIDPhrases: phraseBefore compares with the text folded to lower
// case, first by the last two bytes, and stops at separators, so a phrase
// is lower case, two bytes or more, and ends with no separator.
func TestIDPhrases(t *testing.T) {
	all := []idPhrases{npiPhrases, deaPhrases, itinPhrases, bankPhrases, abaPhrases, ninoPhrases, nhsPhrases, nirPhrases,
		deTaxPhrases, kvnrPhrases, nifPhrases, niePhrases, bsnPhrases, fiscalPhrases, sinPhrases, tfnPhrases, medicarePhrases, phonePhrases, idFillers}
	for _, ps := range all {
		for _, p := range ps.words {
			if len(p) < 2 || strings.ToLower(p) != p || isIDSep(p[len(p)-1]) || isIDSep(p[0]) {
				t.Errorf("phrase %q: shorter than two bytes, not lower case, or starts or ends with a separator", p)
			}
		}
	}
}

// idCases are whole sentences: the id of the class is found with exactly
// this value; class "" means no finding of an id class at all.
var idCases = []struct {
	text  string
	class Class
	value string
}{
	// US_NPI
	{"Provider NPI: 1234567893, billing", USNPI, "1234567893"},
	{"national provider identifier 1234567893 on the claim", USNPI, "1234567893"},
	{"NPI-Nummer 1234567893", USNPI, "1234567893"},
	{"retry after 1234567893 ms", "", ""}, // Luhn-valid, but no phrase
	{"call 212-555-0139 today", Phone, "212-555-0139"},
	{"call 2125550139", Phone, "2125550139"},
	// MEDICAL_LICENSE
	{"Dr. Smith, DEA AB1234563, prescribed", MedicalLicense, "AB1234563"},
	{"DEA# BJ6125341", MedicalLicense, "BJ6125341"},
	{"DEA registration number: A91234563", MedicalLicense, "A91234563"},
	{"DEA-Nummer AB1234563", MedicalLicense, "AB1234563"},
	{"MRN: AB1234563", MedicalRecordNumber, "AB1234563"},
	{"part AB1234563 in stock", "", ""},
	{"order no. AB1234563 shipped", "", ""},
	{"Bestellung: Artikel AB1234563", "", ""},
	{"certificate number is: BB1388568", MedicalLicense, "BB1388568"},
	{"DEA AB1234567", "", ""},
	// US_ITIN
	{"ITIN 912-70-1234 on the W-7", USITIN, "912-70-1234"},
	{"taxpayer identification number 912 78 1234", USITIN, "912 78 1234"},
	{"my ITIN is 912701234.", USITIN, "912701234"},
	{"her number 912-94-1234", USITIN, "912-94-1234"},
	{"id 900-12-3456 is an ITIN range", "", ""},
	{"ITIN 912-93-1234", "", ""},
	{"call 912701234", "", ""},
	// US_BANK_NUMBER
	{"account number: 000123456789", USBankNumber, "000123456789"},
	{"Acct 12345678 at First Bank", USBankNumber, "12345678"},
	{"wire to checking account 12345678901234567", USBankNumber, "12345678901234567"},
	{"a/c no. 987654321012", USBankNumber, "987654321012"},
	{"Meine Kontonummer ist 1234567890", USBankNumber, "1234567890"},
	{"ACCT 0000000000000", USBankNumber, "0000000000000"},
	{"account number 1234567", "", ""},
	{"order 12345678 shipped", "", ""},
	{"account number 123456789012345678", "", ""},
	// ABA_ROUTING_NUMBER
	{"routing number 021000021", ABARoutingNumber, "021000021"},
	{"ABA: 011000015", ABARoutingNumber, "011000015"},
	{"RTN 0210-0002-1", ABARoutingNumber, "0210-0002-1"},
	{"wire via 0210-0002-1 today", ABARoutingNumber, "0210-0002-1"},
	{"invoice 021000021 paid", "", ""},
	{"routing number 021000022", "", ""},
	// UK_NINO
	{"NI number AB 12 34 56 C", UKNINO, "AB 12 34 56 C"},
	{"National Insurance number: AB123456C.", UKNINO, "AB123456C"},
	{"Her NINO is JG 123456 A", UKNINO, "JG 123456 A"},
	{"ref AB 12 34 56 C", UKNINO, "AB 12 34 56 C"},
	{"NINO QQ 12 34 56 C", "", ""}, // the placeholder printed on forms
	{"NINO GB 12 34 56 A", "", ""},
	{"NINO AB 12 3456 C", "", ""},
	// UK_NHS
	{"NHS number 943 476 5919", UKNHS, "943 476 5919"},
	{"NHS No: 943-476-5919", UKNHS, "943-476-5919"},
	{"my NHS number is 9434765919.", UKNHS, "9434765919"},
	{"CHI 010 100 0006 on file", UKNHS, "010 100 0006"},
	{"call 943 476 5919", Phone, "943 476 5919"},
	{"943 476 5919", Phone, "943 476 5919"},
	{"Tel. +44 010 100 0006", Phone, "+44 010 100 0006"},
	{"ref 9434765919", "", ""},
	// FR_NIR
	{"NIR : 1 84 12 76 451 089 46", FRNIR, "1 84 12 76 451 089 46"},
	{"numéro de sécurité sociale 184127645108946", FRNIR, "184127645108946"},
	{"social security number 1 84 12 76 451 089 46.", FRNIR, "1 84 12 76 451 089 46"},
	{"N° INSEE 2 90 05 2A 004 012 66", FRNIR, "2 90 05 2A 004 012 66"},
	{"carte vitale 1841276451089 46", FRNIR, "1841276451089 46"},
	{"NIR 1 84 12 76 451 089 47", "", ""},
	{"order 184127645108947", "", ""},
	// DE_TAX_ID
	{"Steuer-ID 86095742719", DETaxID, "86095742719"},
	{"Mein Steuer-ID ist 12 345 678 911", DETaxID, "12 345 678 911"},
	{"Steuerliche Identifikationsnummer: 86 095 742 719", DETaxID, "86 095 742 719"},
	{"tax id 86095742719", DETaxID, "86095742719"},
	{"IdNr. 86095742719", DETaxID, "86095742719"},
	{"Rechnung 86 095 742 719", DETaxID, "86 095 742 719"},
	{"Order #86095742719 shipped", "", ""},
	{"Steuer-ID 12 345 678 903", "", ""},
	{"Tel +49 86 095 742 719", "", ""},
	// DE_HEALTH_INSURANCE
	{"Krankenversichertennummer: A123456780", DEHealthInsurance, "A123456780"},
	{"KVNR A123456780", DEHealthInsurance, "A123456780"},
	{"Versichertennummer lautet A123456780", DEHealthInsurance, "A123456780"},
	{"serial A123456780", "", ""},
	{"KVNR A123456781", "", ""},
	// ES_NIF
	{"DNI 12345678Z", ESNIF, "12345678Z"},
	{"mi NIF es 12345678-Z", ESNIF, "12345678-Z"},
	{"D.N.I.: 12345678 Z", ESNIF, "12345678 Z"},
	{"cliente 12345678Z", ESNIF, "12345678Z"},
	{"DNI 12345678A", "", ""},
	{"12345678 Zeilen", "", ""},
	// ES_NIE
	{"NIE X1234567L", ESNIE, "X1234567L"},
	{"número de identidad de extranjero: Y1234567X", ESNIE, "Y1234567X"},
	{"Z1234567R registered", ESNIE, "Z1234567R"},
	{"NIE X1234567T", "", ""},
	// NL_BSN
	{"BSN: 1112.22.333", NLBSN, "1112.22.333"},
	{"burgerservicenummer 111222333", NLBSN, "111222333"},
	{"Mijn BSN is 111 222 333", NLBSN, "111 222 333"},
	{"sofinummer: 123456782", NLBSN, "123456782"},
	{"1234.56.782 staat op de pas", NLBSN, "1234.56.782"},
	{"invoice 111222333", "", ""},
	{"BSN 111222334", "", ""},
	// IT_FISCAL_CODE
	{"codice fiscale RSSMRA85T10A562S", ITFiscalCode, "RSSMRA85T10A562S"},
	{"C.F.: RSSMRA85T10A562S", ITFiscalCode, "RSSMRA85T10A562S"},
	{"fiscal code RSSMRA85T10A56NH (omocodia)", ITFiscalCode, "RSSMRA85T10A56NH"},
	{"RSSMRA85T10A562S", ITFiscalCode, "RSSMRA85T10A562S"},
	{"codice fiscale RSSMRA85T10A562T", "", ""},
	{"RSSMRA85T10A562SX", "", ""},
	// CA_SIN
	{"SIN 130 692 544", CASIN, "130 692 544"},
	{"numéro d'assurance sociale 130-692-544", CASIN, "130-692-544"},
	{"social insurance number: 130692544", CASIN, "130692544"},
	{"ref 130 692 544", CASIN, "130 692 544"},
	{"SIN 046 454 286", "", ""}, // Luhn-valid sample, but 0 is never assigned
	{"llámame al 612 345 678", "", ""},
	{"Tel +34 612 345 678", Phone, "+34 612 345 678"},
	{"ref 130692544", "", ""},
	// AU_TFN
	{"TFN 123 456 782", AUTFN, "123 456 782"},
	{"Tax File Number (TFN): 123456782", AUTFN, "123456782"},
	{"tax file number 876 543 210", AUTFN, "876 543 210"},
	{"ref 876 543 210", AUTFN, "876 543 210"},
	{"TFN 123 456 783", "", ""},
	{"BSN 876 543 210", "", ""},
	// AU_MEDICARE
	{"Medicare card number 2123 45670 1", AUMedicare, "2123 45670 1"},
	{"Medicare 2123456701", AUMedicare, "2123456701"},
	{"Medicare ID: 2123456701", AUMedicare, "2123456701"},
	{"Medicare number 2123456701/3", AUMedicare, "2123456701/3"},
	{"card 2123 45670 1 2 on file", AUMedicare, "2123 45670 1 2"},
	{"2123 45670 1", AUMedicare, "2123 45670 1"},
	{"Medicare ID 1EG4-TE5-MK73", HealthPlanID, "1EG4-TE5-MK73"},
	{"Medicare ID: 1EG4TE5MK73", HealthPlanID, "1EG4TE5MK73"},
	{"Medicare 2123456711", HealthPlanID, "2123456711"}, // no Australian check digit
	{"ref 2123456701", "", ""},
	// Decoys of every kind.
	{"ISBN 978-3-16-148410-0", "", ""},
	{"ISBN 0-306-40615-2", "", ""},
	{"timestamp 2026-11-22T10:00:00Z", "", ""},
	{"epoch 1700000000 and 1234567893", "", ""},
	{"invoice 123456789 due", "", ""},
	{"order #40092647271 shipped", "", ""},
	{"call 415-555-0132 or +44 20 7946 0958", Phone, "415-555-0132"},
}

var idClasses = []Class{USNPI, MedicalLicense, USITIN, USBankNumber, ABARoutingNumber, UKNINO, UKNHS, FRNIR, DETaxID,
	DEHealthInsurance, ESNIF, ESNIE, NLBSN, ITFiscalCode, CASIN, AUTFN, AUMedicare}

func isIDClass(c Class) bool {
	for _, k := range idClasses {
		if k == c {
			return true
		}
	}
	return false
}

// TestIDClassesListed: every id class is in Classes, so configuration
// accepts a mode for it, and has a priority of its own.
func TestIDClassesListed(t *testing.T) {
	for _, c := range idClasses {
		found := false
		for _, k := range Classes() {
			found = found || k == c
		}
		if !found || priority(c) == 1 {
			t.Errorf("%s: in Classes %v, priority %d", c, found, priority(c))
		}
	}
}

func TestIDMatchers(t *testing.T) {
	for _, tt := range idCases {
		fs := Scanner{}.Scan([]byte(tt.text))
		var got []string
		found := false
		for _, f := range fs {
			v := tt.text[f.Start:f.End]
			if f.Class == tt.class && v == tt.value {
				found = true
			} else if isIDClass(f.Class) {
				got = append(got, fmt.Sprintf("%s %q", f.Class, v))
			}
		}
		if tt.class != "" && !found || len(got) > 0 {
			t.Errorf("%q: want %s %q, got %v (other id findings %v)", tt.text, tt.class, tt.value, fs, got)
		}
	}
}

// TestIDMatchersMatchReference: on every sentence above, and with a floor
// low enough to keep the forms reported below the default one, the
// scanner finds what the reference scanner does — which tries every
// matcher at every word start, so a shape test in matchIDNumber or
// matchIDWord that dismissed an id would show here.
// group writes s in groups of the given lengths joined by sep.
func group(s, sep string, lens ...int) string {
	var parts []string
	for _, n := range lens {
		parts = append(parts, s[:n])
		s = s[n:]
	}
	return strings.Join(parts, sep)
}

// idForms are the written forms of a normalized id other than itself.
func idForms(name, id string) []string {
	switch name {
	case "ITIN":
		return []string{group(id, "-", 3, 2, 4), group(id, " ", 3, 2, 4)}
	case "ABA":
		return []string{group(id, "-", 4, 4, 1)}
	case "NINO":
		return []string{group(id, " ", 2, 2, 2, 2, 1), group(id, " ", 2, 6, 1)}
	case "NHS":
		return []string{group(id, " ", 3, 3, 4), group(id, "-", 3, 3, 4)}
	case "NIR":
		return []string{group(id, " ", 1, 2, 2, 2, 3, 3, 2), group(id, " ", 13, 2)}
	case "DE tax id":
		return []string{group(id, " ", 2, 3, 3, 3)}
	case "NIF":
		return []string{group(id, "-", 8, 1), group(id, " ", 8, 1)}
	case "NIE":
		return []string{group(id, "-", 8, 1)}
	case "BSN":
		return []string{group(id, ".", 4, 2, 3), group(id, " ", 3, 3, 3)}
	case "SIN", "TFN":
		return []string{group(id, " ", 3, 3, 3), group(id, "-", 3, 3, 3)}
	case "AU Medicare":
		return []string{group(id, " ", 4, 5, 1), group(id, " ", 4, 5, 1) + " 3", id + "/3", id + " 3"}
	}
	return nil
}

// idPhraseOf is a phrase naming each id.
var idPhraseOf = map[string]string{
	"NPI": "NPI", "DEA": "DEA", "ITIN": "ITIN", "ABA": "routing number", "NINO": "NI number", "NHS": "NHS No.",
	"NIR": "NIR :", "DE tax id": "Steuer-ID", "KVNR": "KVNR", "NIF": "DNI", "NIE": "NIE", "BSN": "BSN",
	"fiscal code": "codice fiscale", "SIN": "SIN", "TFN": "TFN", "AU Medicare": "Medicare",
}

func TestIDMatchersMatchReference(t *testing.T) {
	var all [][]byte
	for _, tt := range idCases {
		all = append(all, []byte(tt.text))
	}
	r := rand.New(rand.NewPCG(5, 6))
	for _, v := range idValidators {
		for range 50 {
			id := v.gen(r)
			for _, form := range append(idForms(v.name, id), id) {
				all = append(all, []byte("x "+form+" y"), []byte(idPhraseOf[v.name]+" "+form))
			}
		}
	}
	for n := 8; n <= 18; n++ {
		all = append(all, []byte("acct "+randDigits(r, n)), []byte("Account No. "+randDigits(r, n)+"."))
	}
	for _, text := range all {
		for _, s := range []Scanner{{}, {MinConfidence: 0.25}} {
			got, want := s.Scan(bytes.Clone(text)), s.scanReference(bytes.Clone(text))
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("%q (floor %v): Scan %v, reference %v", text, s.MinConfidence, got, want)
			}
		}
	}
}

// TestIDBareForms: the confidence of each bare form, most of them below
// the default floor (found with a lower one), a DEA number alone above it
// unless a word before it names another kind of code; a bare NPI that could be a phone number is not
// reported at all, and a bare BSN needs its phrase.
func TestIDBareForms(t *testing.T) {
	tests := []struct {
		text  string
		class Class
		conf  float64
	}{
		{"1234567893", USNPI, 0.4},
		{"2125550139", AUMedicare, 0.4}, // no phone number bare
		{"2125550149", "", 0},           // the check digit wrong
		{"021000021", ABARoutingNumber, 0.4},
		{"AB1234563", MedicalLicense, 0.6},     // a DEA number alone, as Presidio scores it
		{"lot AB1234563", MedicalLicense, 0.4}, // a code of another kind
		{"A123456780", DEHealthInsurance, 0.4},
		{"86095742719", DETaxID, 0.4},
		{"+49 86095742719", "", 0},
		{"9434765919", UKNHS, 0.4},
		{"111222333", "", 0},
	}
	for _, tt := range tests {
		fs := Scanner{MinConfidence: 0.1}.Scan([]byte(tt.text))
		var ids []Finding
		for _, f := range fs {
			if isIDClass(f.Class) {
				ids = append(ids, f)
			}
		}
		if tt.class == "" && len(ids) > 0 || tt.class != "" && (len(ids) != 1 || ids[0].Class != tt.class || ids[0].Confidence != tt.conf) {
			t.Errorf("%q: %v, want %s at %v", tt.text, fs, tt.class, tt.conf)
		}
	}
}

// TestIDWeakTier: each weak form is found at a lowered floor with its
// class and at its confidence, not at the default floor; the forms at or
// above it are found at both; look-alikes at neither.
func TestIDWeakTier(t *testing.T) {
	tests := []struct {
		text, value string
		class       Class
		conf        float64
	}{
		{"911-701234", "911-701234", USITIN, weakPartial},
		{"91170-1234", "91170-1234", USITIN, weakPartial},
		{"911701234", "911701234", USITIN, weakExact},
		{"ITIN 911701234", "911701234", USITIN, idContextConfidence},
		{"911-53-1234", "911-53-1234", USITIN, 0.85},
		{"911-64-1234", "911-64-1234", USITIN, 0.85},
		{"911-66-1234", "", "", 0},
		{"911-89-1234", "", "", 0},
		{"911-7012345", "", "", 0},
		{"945456787654", "945456787654", DriverLicense, weakPartial}, // the narrower guess
		{"94545678", "94545678", USBankNumber, weakWide},
		{"94545678901234", "94545678901234", USBankNumber, weakWide},
		{"1234567", "", "", 0},
		{"876543210", "876543210", AUTFN, weakChecked},
		{"876543211", "876543211", USSSN, weakExact}, // the check fails: a bare SSN's shape
		{"2123456701", "2123456701", AUMedicare, weakChecked},
		{"2123258701", "2123258701", DriverLicense, weakPartial},
		{"0032698674", "0032698674", UKNHS, weakChecked},
		{"401-023-2137", "401-023-2137", UKNHS, 0.6},
		{"1111111-G", "1111111-G", ESNIF, 0.6},
		{"1111111G", "1111111G", ESNIF, 0.6},
		{"1111111 G", "1111111 G", ESNIF, weakChecked},
		{"DNI 1111111 G", "1111111 G", ESNIF, idContextConfidence},
		{"1111111H", "", "", 0},
		{"55555555k", "55555555k", ESNIF, weakChecked},
		{"12345678z", "12345678z", ESNIF, weakChecked},
		{"DNI 12345678z", "12345678z", ESNIF, idContextConfidence},
		{"12345678a", "", "", 0},
		{"x9613851n", "x9613851n", ESNIE, weakChecked},
		{"X9613851n", "X9613851n", ESNIE, weakChecked},
		{"NIE x9613851n", "x9613851n", ESNIE, idContextConfidence},
		{"x9613851q", "", "", 0},
		{"z8078221m", "", "", 0}, // lower case y and z are not read
		{"nino: PR 123612C", "PR 123612C", UKNINO, idContextConfidence},
		{"PR 123612C", "PR 123612C", UKNINO, 0.6},
		{"PR 12361 2C", "", "", 0},
		{"AAAAAA00B11C333N", "AAAAAA00B11C333N", ITFiscalCode, weakPartial},
		{"codice fiscale AAAAAA00B11C333N", "AAAAAA00B11C333N", ITFiscalCode, weakPartial},
		{"AAAAAA00B11C333Y", "AAAAAA00B11C333Y", ITFiscalCode, 0.85},
		{"A55AAA00B11C333N", "", "", 0},
		{"AAAAAA - 00B11C333N", "", "", 0},
	}
	for _, tt := range tests {
		for _, s := range []Scanner{{}, {MinConfidence: 0.25}} {
			fs := s.Scan([]byte(tt.text))
			want := tt.class != "" && (s.MinConfidence != 0 || tt.conf >= defaultMinConfidence)
			var got []Finding
			for _, f := range fs {
				if f.Class != Name {
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
