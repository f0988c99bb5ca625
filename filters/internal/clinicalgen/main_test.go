package main

// The checks here re-implement every checksum from its specification,
// separately from ids.go, so a bug in the generator cannot pass itself.

import (
	"bufio"
	"bytes"
	"encoding/json"
	"math/big"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unicode"
)

const (
	generated = "../../testdata/clinical.jsonl"
	hard      = "../../testdata/clinical_hard.jsonl"
)

func load(t *testing.T, file string) []example {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []example
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for n := 1; sc.Scan(); n++ {
		var ex example
		dec := json.NewDecoder(bytes.NewReader(sc.Bytes()))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&ex); err != nil {
			t.Fatalf("%s:%d: %v", file, n, err)
		}
		if ex.Spans == nil {
			t.Errorf("%s:%d: spans must be [] not null or missing", file, n)
		}
		out = append(out, ex)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestReproducible(t *testing.T) {
	var a, b bytes.Buffer
	if err := generate(&a, nil); err != nil {
		t.Fatal(err)
	}
	if err := generate(&b, nil); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Fatal("two runs of the generator differ")
	}
	onDisk, err := os.ReadFile(generated)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Bytes(), onDisk) {
		t.Fatalf("%s is stale: run `go run ./internal/clinicalgen > testdata/clinical.jsonl` from filters/", generated)
	}
}

var knownClasses = map[string]bool{
	"NAME": true, "ADDRESS": true, "DATE": true, "VEHICLE": true, "DEVICE": true,
	"US_NPI": true, "MEDICAL_LICENSE": true, "US_ITIN": true, "US_BANK_NUMBER": true, "ABA_ROUTING_NUMBER": true,
	"UK_NINO": true, "UK_NHS": true, "FR_NIR": true, "DE_TAX_ID": true, "DE_HEALTH_INSURANCE": true,
	"ES_NIF": true, "ES_NIE": true, "NL_BSN": true, "IT_FISCAL_CODE": true, "CA_SIN": true, "AU_TFN": true, "AU_MEDICARE": true,
	"EMAIL": true, "PHONE": true, "CREDIT_CARD": true, "IBAN": true, "DATE_OF_BIRTH": true, "MEDICAL_RECORD_NUMBER": true,
	"US_SSN": true, "FAX": true, "IP_ADDRESS": true, "URL": true,
}

func TestLabels(t *testing.T) {
	for _, file := range []string{generated, hard} {
		exs := load(t, file)
		decoys := 0
		for i, ex := range exs {
			if len(ex.Spans) == 0 {
				decoys++
			}
			for _, s := range ex.Spans {
				if !knownClasses[s.Class] {
					t.Errorf("%s:%d: unknown class %q", file, i+1, s.Class)
				}
				if s.Value == "" || !strings.Contains(ex.Text, s.Value) {
					t.Errorf("%s:%d: %s %q does not occur in %q", file, i+1, s.Class, s.Value, ex.Text)
				}
				if strings.TrimSpace(s.Value) != s.Value || strings.TrimRight(s.Value, ".,;:") != s.Value && s.Class != "NAME" {
					t.Errorf("%s:%d: %s %q has surrounding space or punctuation", file, i+1, s.Class, s.Value)
				}
				if msg := validate(s.Class, s.Value); msg != "" {
					t.Errorf("%s:%d: %s %q: %s", file, i+1, s.Class, s.Value, msg)
				}
			}
		}
		share := float64(decoys) / float64(max(len(exs), 1))
		t.Logf("%s: %d lines, %.1f %% decoys", file, len(exs), 100*share)
		if share < 0.30 || share > 0.45 {
			t.Errorf("%s: decoy share %.2f outside [0.30, 0.45]", file, share)
		}
	}
}

func onlyDigits(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		if r == ' ' || r == '-' || r == '.' {
			return -1
		}
		return 'x'
	}, s)
}

// luhnValid: the sum over all digits, doubling every second from the right.
func luhnValid(s string) bool {
	total := 0
	for i := 0; i < len(s); i++ {
		d := int(s[len(s)-1-i] - '0')
		if i%2 == 1 {
			d = d * 2 % 9
			if d == 0 && s[len(s)-1-i] == '9' {
				d = 9
			}
		}
		total += d
	}
	return total%10 == 0
}

var (
	reNINO  = regexp.MustCompile(`^([A-CEGHJ-PR-TW-Z])([A-CEGHJ-NPR-TW-Z]) ?(\d{2}) ?(\d{2}) ?(\d{2}) ?([A-D])$`)
	reDEA   = regexp.MustCompile(`^[A-Z][A-Z9](\d{7})$`)
	reITIN  = regexp.MustCompile(`^9\d{2}-(\d{2})-\d{4}$`)
	reCF    = regexp.MustCompile(`^[A-Z]{6}\d{2}[ABCDEHLMPRST]\d{2}[A-Z]\d{3}[A-Z]$`)
	reNIF   = regexp.MustCompile(`^(\d{8})-?([A-Z])$`)
	reNIE   = regexp.MustCompile(`^([XYZ])-?(\d{7})-?([A-Z])$`)
	reKVNR  = regexp.MustCompile(`^([A-Z])(\d{9})$`)
	reVIN   = regexp.MustCompile(`^[A-HJ-NPR-Z0-9]{17}$`)
	reGS1   = regexp.MustCompile(`^\(01\)(\d{14})(\(\d{2}\)[0-9A-Za-z]+)*$`)
	reIBAN  = regexp.MustCompile(`^[A-Z]{2}\d{2}[A-Z0-9]+$`)
	reDigit = regexp.MustCompile(`^\d+$`)
)

// validate returns "" when a value is well-formed for its class.
func validate(class, v string) string {
	d := onlyDigits(v)
	switch class {
	case "US_NPI":
		if len(d) != 10 || !reDigit.MatchString(d) || !luhnValid("80840"+d) {
			return "bad NPI"
		}
	case "MEDICAL_LICENSE":
		m := reDEA.FindStringSubmatch(v)
		if m == nil {
			return "not a DEA number"
		}
		n := m[1]
		odd := int(n[0]-'0') + int(n[2]-'0') + int(n[4]-'0')
		even := int(n[1]-'0') + int(n[3]-'0') + int(n[5]-'0')
		if (odd+2*even)%10 != int(n[6]-'0') {
			return "bad DEA check digit"
		}
	case "US_ITIN":
		m := reITIN.FindStringSubmatch(v)
		if m == nil {
			return "not an ITIN"
		}
		g, _ := strconv.Atoi(m[1])
		if !(g >= 70 && g <= 88 || g >= 90 && g <= 92 || g >= 94 && g <= 99) {
			return "ITIN group out of range"
		}
	case "US_BANK_NUMBER":
		if !reDigit.MatchString(v) || len(v) < 8 || len(v) > 17 {
			return "not 8–17 digits"
		}
	case "ABA_ROUTING_NUMBER":
		if len(v) != 9 || !reDigit.MatchString(v) {
			return "not 9 digits"
		}
		sum := 0
		for i, w := range [9]int{3, 7, 1, 3, 7, 1, 3, 7, 1} {
			sum += w * int(v[i]-'0')
		}
		if sum%10 != 0 {
			return "bad ABA checksum"
		}
	case "UK_NINO":
		m := reNINO.FindStringSubmatch(v)
		if m == nil {
			return "not a NINO"
		}
		switch m[1] + m[2] {
		case "BG", "GB", "KN", "NK", "NT", "TN", "ZZ":
			return "invalid NINO prefix"
		}
	case "UK_NHS":
		if len(d) != 10 || !reDigit.MatchString(d) {
			return "not 10 digits"
		}
		sum := 0
		for i := 0; i < 10; i++ { // weights 10..1: a valid number sums to 0 mod 11
			sum += (10 - i) * int(d[i]-'0')
		}
		if sum%11 != 0 || d[9] == 'x' {
			return "bad NHS check digit"
		}
	case "FR_NIR":
		if len(d) != 15 || !reDigit.MatchString(d) || (d[0] != '1' && d[0] != '2') {
			return "not a NIR"
		}
		n, _ := new(big.Int).SetString(d[:13], 10)
		k, _ := strconv.Atoi(d[13:])
		if new(big.Int).Mod(n, big.NewInt(97)).Int64()+int64(k) != 97 {
			return "bad NIR key"
		}
	case "DE_TAX_ID":
		if len(d) != 11 || !reDigit.MatchString(d) || d[0] == '0' {
			return "not 11 digits"
		}
		counts := map[byte]int{}
		for i := 0; i < 10; i++ {
			counts[d[i]]++
		}
		multi := 0
		for _, c := range counts {
			if c > 3 {
				return "a digit more than three times"
			}
			if c > 1 {
				multi++
			}
		}
		if multi != 1 {
			return "not exactly one repeated digit"
		}
		p := 10
		for i := 0; i < 10; i++ {
			s := (int(d[i]-'0') + p) % 10
			if s == 0 {
				s = 10
			}
			p = 2 * s % 11
		}
		c := (11 - p) % 10
		if c != int(d[10]-'0') {
			return "bad tax id check digit"
		}
	case "DE_HEALTH_INSURANCE":
		m := reKVNR.FindStringSubmatch(v)
		if m == nil {
			return "not a KVNR"
		}
		num := strconv.Itoa(int(m[1][0]-'A') + 101)[1:] + m[2][:8]
		sum := 0
		for i, c := range num {
			x := int(c-'0') * []int{1, 2}[i%2]
			if x > 9 {
				x -= 9
			}
			sum += x
		}
		if sum%10 != int(m[2][8]-'0') {
			return "bad KVNR check digit"
		}
	case "ES_NIF":
		m := reNIF.FindStringSubmatch(v)
		if m == nil {
			return "not a NIF"
		}
		n, _ := strconv.Atoi(m[1])
		if "TRWAGMYFPDXBNJZSQVHLCKE"[n%23] != m[2][0] {
			return "bad NIF letter"
		}
	case "ES_NIE":
		m := reNIE.FindStringSubmatch(v)
		if m == nil {
			return "not a NIE"
		}
		n, _ := strconv.Atoi(strconv.Itoa(strings.Index("XYZ", m[1])) + m[2])
		if "TRWAGMYFPDXBNJZSQVHLCKE"[n%23] != m[3][0] {
			return "bad NIE letter"
		}
	case "NL_BSN":
		if len(d) != 9 || !reDigit.MatchString(d) {
			return "not 9 digits"
		}
		sum := 0
		for i := 0; i < 9; i++ {
			w := 9 - i
			if i == 8 {
				w = -1
			}
			sum += w * int(d[i]-'0')
		}
		if sum%11 != 0 {
			return "not 11-proof"
		}
	case "IT_FISCAL_CODE":
		if !reCF.MatchString(v) {
			return "not a codice fiscale"
		}
		oddVal := map[byte]int{}
		for i, x := range []int{1, 0, 5, 7, 9, 13, 15, 17, 19, 21} {
			oddVal[byte('0'+i)] = x
		}
		for i, x := range []int{1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 2, 4, 18, 20, 11, 3, 6, 8, 12, 14, 16, 10, 22, 25, 24, 23} {
			oddVal[byte('A'+i)] = x
		}
		sum := 0
		for i := 0; i < 15; i++ {
			c := v[i]
			if i%2 == 0 {
				sum += oddVal[c]
			} else if c <= '9' {
				sum += int(c - '0')
			} else {
				sum += int(c - 'A')
			}
		}
		if byte('A'+sum%26) != v[15] {
			return "bad codice fiscale check letter"
		}
	case "CA_SIN":
		if len(d) != 9 || !reDigit.MatchString(d) || !luhnValid(d) {
			return "bad SIN"
		}
	case "AU_TFN":
		if len(d) != 9 || !reDigit.MatchString(d) {
			return "not 9 digits"
		}
		sum := 0
		for i, w := range [9]int{1, 4, 3, 7, 5, 8, 6, 9, 10} {
			sum += w * int(d[i]-'0')
		}
		if sum%11 != 0 {
			return "bad TFN"
		}
	case "AU_MEDICARE":
		if len(d) != 10 || !reDigit.MatchString(d) || d[0] < '2' || d[0] > '6' {
			return "not a Medicare number"
		}
		sum := 0
		for i, w := range [8]int{1, 3, 7, 9, 1, 3, 7, 9} {
			sum += w * int(d[i]-'0')
		}
		if sum%10 != int(d[8]-'0') {
			return "bad Medicare check digit"
		}
	case "CREDIT_CARD":
		if len(d) < 13 || len(d) > 19 || !reDigit.MatchString(d) || !luhnValid(d) {
			return "bad card number"
		}
	case "IBAN":
		s := strings.ReplaceAll(v, " ", "")
		if !reIBAN.MatchString(s) {
			return "not an IBAN"
		}
		var num strings.Builder
		for _, c := range s[4:] + s[:4] {
			if unicode.IsLetter(c) {
				num.WriteString(strconv.Itoa(int(c-'A') + 10))
			} else {
				num.WriteRune(c)
			}
		}
		n, _ := new(big.Int).SetString(num.String(), 10)
		if new(big.Int).Mod(n, big.NewInt(97)).Int64() != 1 {
			return "bad IBAN check digits"
		}
	case "VEHICLE":
		if len(v) == 17 && reVIN.MatchString(v) {
			return vinValid(v)
		}
		if len(v) == 17 {
			return "17 characters but not a VIN"
		}
	case "DEVICE":
		if len(v) == 15 && reDigit.MatchString(v) && !luhnValid(v) {
			return "IMEI with a bad Luhn digit"
		}
		if strings.HasPrefix(v, "(01)") {
			m := reGS1.FindStringSubmatch(v)
			if m == nil {
				return "malformed GS1 UDI"
			}
			g := m[1]
			sum := 0
			for i := 0; i < 13; i++ {
				w := 3 - 2*(i%2) // 3,1,3,… from the left for 14 digits
				sum += w * int(g[i]-'0')
			}
			if (sum+int(g[13]-'0'))%10 != 0 {
				return "bad GTIN-14 check digit"
			}
		}
	}
	return ""
}

func vinValid(v string) string {
	values := map[rune]int{}
	for i, c := range "ABCDEFGH" {
		values[c] = i + 1
	}
	for i, c := range "JKLMN" {
		values[c] = i + 1
	}
	values['P'], values['R'] = 7, 9
	for i, c := range "STUVWXYZ" {
		values[c] = i + 2
	}
	for c := '0'; c <= '9'; c++ {
		values[c] = int(c - '0')
	}
	weights := []int{8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2}
	sum := 0
	for i, c := range v {
		sum += values[c] * weights[i]
	}
	want := "0123456789X"[sum%11]
	if v[8] != want {
		return "bad VIN check digit"
	}
	return ""
}

// TestCheckersRejectKnownBad: each checker must reject a value with a
// wrong check digit and accept the published examples, or the validation
// above proves nothing.
func TestCheckersRejectKnownBad(t *testing.T) {
	good := map[string][]string{
		"UK_NHS": {"943 476 5919"}, "CA_SIN": {"046 454 286"}, "ES_NIF": {"12345678Z"}, "NL_BSN": {"111222333"},
		"AU_TFN": {"123 456 782"}, "IT_FISCAL_CODE": {"RSSMRA85T10A562S"}, "VEHICLE": {"1M8GDM9AXKP042788", "11111111111111111"},
		"DEVICE": {"(01)00844588003288(17)141120(10)7654321D(21)10", "490154203237518"}, "US_NPI": {"1234567893"},
		"ABA_ROUTING_NUMBER": {"011000015"}, "ES_NIE": {"X1234567L"}, "DE_TAX_ID": {"86095742719"}, "IBAN": {"GB82 WEST 1234 5698 7654 32"},
		"UK_NINO": {"AB 12 34 56 C"}, "MEDICAL_LICENSE": {"AB1234563"}, "FR_NIR": {"1 84 12 76 451 089 46"},
	}
	bad := map[string][]string{
		"UK_NHS": {"943 476 5918"}, "CA_SIN": {"046 454 287"}, "ES_NIF": {"12345678A"}, "NL_BSN": {"111222334"},
		"AU_TFN": {"123 456 783"}, "IT_FISCAL_CODE": {"RSSMRA85T10A562T"}, "VEHICLE": {"1M8GDM9A1KP042788"},
		"DEVICE": {"(01)00844588003289", "490154203237519"}, "US_NPI": {"1234567890"}, "ABA_ROUTING_NUMBER": {"011000016"},
		"ES_NIE": {"X1234567A"}, "DE_TAX_ID": {"86095742718", "11111111111"}, "IBAN": {"GB83 WEST 1234 5698 7654 32"},
		"UK_NINO": {"GB 12 34 56 C", "DA 12 34 56 C"}, "MEDICAL_LICENSE": {"AB1234564"}, "FR_NIR": {"1 84 12 76 451 089 47"},
		"US_ITIN": {"900-12-3456", "912-93-4567"},
	}
	for c, vs := range good {
		for _, v := range vs {
			if msg := validate(c, v); msg != "" {
				t.Errorf("%s %q rejected: %s", c, v, msg)
			}
		}
	}
	for c, vs := range bad {
		for _, v := range vs {
			if validate(c, v) == "" {
				t.Errorf("%s %q accepted", c, v)
			}
		}
	}
}
