package main

// Generators for the checksummed identifiers. Each one computes its check
// digit from the published algorithm; main_test.go re-validates every value
// with a second, independent implementation.

import (
	"fmt"
	"math/big"
	"math/rand/v2"
	"strings"

	"github.com/secureai-nexus/nexus/filters/internal/checkdigit"
)

func digitsN(r *rand.Rand, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('0' + r.IntN(10))
	}
	return string(b)
}

// npi: 9 digits starting with 1 or 2, Luhn over "80840" + the digits.
func npi(r *rand.Rand) string {
	base := string(byte('1'+r.IntN(2))) + digitsN(r, 8)
	return base + string(checkdigit.Luhn("80840"+base))
}

// dea: registrant letter, surname initial, 6 digits and the check digit.
func dea(r *rand.Rand, initial byte) string {
	first := "ABFGMPR"[r.IntN(7)]
	d := digitsN(r, 6)
	n := func(i int) int { return int(d[i] - '0') }
	c := ((n(0) + n(2) + n(4)) + 2*(n(1)+n(3)+n(5))) % 10
	return fmt.Sprintf("%c%c%s%d", first, initial, d, c)
}

func itin(r *rand.Rand) string {
	groups := []int{}
	for g := 70; g <= 99; g++ {
		if g != 89 && g != 93 {
			groups = append(groups, g)
		}
	}
	return fmt.Sprintf("9%s-%d-%s", digitsN(r, 2), groups[r.IntN(len(groups))], digitsN(r, 4))
}

// aba: a routing number with a valid Federal Reserve prefix and 3-7-1 check.
func aba(r *rand.Rand) string {
	prefixes := []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 61, 62, 63, 64, 65, 66, 67, 68, 69, 70, 71, 72}
	s := fmt.Sprintf("%02d", prefixes[r.IntN(len(prefixes))]) + digitsN(r, 6)
	w := []int{3, 7, 1, 3, 7, 1, 3, 7}
	sum := 0
	for i := range 8 {
		sum += int(s[i]-'0') * w[i]
	}
	return s + string(byte('0'+(10-sum%10)%10))
}

func bankAccount(r *rand.Rand) string {
	return string(byte('1'+r.IntN(9))) + digitsN(r, 7+r.IntN(9))
}

func nino(r *rand.Rand, spaced bool) string {
	const first = "ABCEGHJKLMNOPRSTWXYZ"
	const second = "ABCEGHJKLMNPRSTWXYZ"
	var p string
	for {
		p = string(first[r.IntN(len(first))]) + string(second[r.IntN(len(second))])
		switch p {
		case "BG", "GB", "KN", "NK", "NT", "TN", "ZZ":
			continue
		}
		break
	}
	d := digitsN(r, 6)
	s := string("ABCD"[r.IntN(4)])
	if spaced {
		return fmt.Sprintf("%s %s %s %s %s", p, d[0:2], d[2:4], d[4:6], s)
	}
	return p + d + s
}

func nhs(r *rand.Rand, spaced bool) string {
	for {
		d := string(byte('4'+r.IntN(6))) + digitsN(r, 8)
		sum := 0
		for i := range 9 {
			sum += int(d[i]-'0') * (10 - i)
		}
		c := 11 - sum%11
		if c == 11 {
			c = 0
		}
		if c == 10 {
			continue
		}
		s := d + string(byte('0'+c))
		if spaced {
			return s[0:3] + " " + s[3:6] + " " + s[6:]
		}
		return s
	}
}

// nir: French social security number: sex, year, month, département,
// commune, order number and the key 97 - (n mod 97).
func nir(r *rand.Rand, spaced bool) string {
	sex := 1 + r.IntN(2)
	yy := r.IntN(100)
	mm := 1 + r.IntN(12)
	dep := 1 + r.IntN(95)
	for dep == 20 {
		dep = 1 + r.IntN(95)
	}
	commune := 1 + r.IntN(900)
	order := 1 + r.IntN(999)
	body := fmt.Sprintf("%d%02d%02d%02d%03d%03d", sex, yy, mm, dep, commune, order)
	n, _ := new(big.Int).SetString(body, 10)
	key := 97 - new(big.Int).Mod(n, big.NewInt(97)).Int64()
	s := fmt.Sprintf("%s%02d", body, key)
	if spaced {
		return fmt.Sprintf("%s %s %s %s %s %s %s", s[0:1], s[1:3], s[3:5], s[5:7], s[7:10], s[10:13], s[13:15])
	}
	return s
}

// deTaxID: 11 digits, first not 0, exactly one digit twice among the first
// ten, ISO 7064 MOD 11,10 check digit.
func deTaxID(r *rand.Rand, spaced bool) string {
	for {
		perm := r.Perm(10)
		d := make([]byte, 10)
		for i := range 9 {
			d[i] = byte('0' + perm[i])
		}
		// one of the nine digits repeats; the tenth digit is then absent
		d[9] = d[r.IntN(9)]
		r.Shuffle(10, func(i, j int) { d[i], d[j] = d[j], d[i] })
		if d[0] == '0' {
			continue
		}
		// no digit three times in a row would be allowed anyway; keep it simple
		product := 10
		for _, c := range d {
			sum := (int(c-'0') + product) % 10
			if sum == 0 {
				sum = 10
			}
			product = (sum * 2) % 11
		}
		check := 11 - product
		if check == 10 {
			check = 0
		}
		s := string(d) + string(byte('0'+check))
		if spaced {
			return s[0:2] + " " + s[2:5] + " " + s[5:8] + " " + s[8:]
		}
		return s
	}
}

// kvnr: German health insurance number: a letter, 8 digits and a check
// digit over the letter's two-digit number and the digits, weights 1,2,…,
// products reduced to their digit sum.
func kvnr(r *rand.Rand) string {
	letter := byte('A' + r.IntN(26))
	d := digitsN(r, 8)
	all := fmt.Sprintf("%02d%s", letter-'A'+1, d)
	sum := 0
	for i := range all {
		p := int(all[i]-'0') * (1 + i%2)
		sum += p/10 + p%10
	}
	return fmt.Sprintf("%c%s%d", letter, d, sum%10)
}

const nifLetters = "TRWAGMYFPDXBNJZSQVHLCKE"

func esNIF(r *rand.Rand) string {
	n := r.IntN(100000000)
	return fmt.Sprintf("%08d%c", n, nifLetters[n%23])
}

func esNIE(r *rand.Rand) string {
	p := r.IntN(3)
	n := r.IntN(10000000)
	return fmt.Sprintf("%c%07d%c", "XYZ"[p], n, nifLetters[(p*10000000+n)%23])
}

func bsn(r *rand.Rand) string {
	for {
		d := string(byte('1'+r.IntN(9))) + digitsN(r, 8)
		sum := 0
		for i := range 8 {
			sum += int(d[i]-'0') * (9 - i)
		}
		sum -= int(d[8] - '0')
		if sum%11 == 0 {
			return d
		}
	}
}

// fiscalCode: the Italian codice fiscale of a person: surname and given
// name letters, birth year, month letter, day (+40 for women), municipality
// code and the check letter.
func fiscalCode(r *rand.Rand, surname, given string, female bool, y, m, d int) string {
	s := surnameCode(fold(surname)) + givenCode(fold(given))
	day := d
	if female {
		day += 40
	}
	towns := []string{"H501", "F205", "F839", "L219", "G273", "D969", "A944", "D612", "A662", "C351", "L736", "L781", "G224", "L424", "B157", "G337", "F257", "G478", "B354", "G702"}
	s += fmt.Sprintf("%02d%c%02d%s", y%100, "ABCDEHLMPRST"[m-1], day, towns[r.IntN(len(towns))])
	return s + string(cfCheck(s))
}

func fold(s string) string {
	repl := strings.NewReplacer("à", "a", "á", "a", "â", "a", "ä", "a", "è", "e", "é", "e", "ê", "e", "ë", "e", "ì", "i", "í", "i", "î", "i", "ï", "i",
		"ò", "o", "ó", "o", "ô", "o", "ö", "o", "ù", "u", "ú", "u", "û", "u", "ü", "u", "ñ", "n", "ç", "c", "ß", "ss", "ş", "s", "ğ", "g", "ı", "i")
	s = repl.Replace(strings.ToLower(s))
	var b strings.Builder
	for _, c := range s {
		if c >= 'a' && c <= 'z' {
			b.WriteRune(c - 'a' + 'A')
		}
	}
	return b.String()
}

func splitCV(s string) (cons, vow string) {
	for _, c := range s {
		if strings.ContainsRune("AEIOU", c) {
			vow += string(c)
		} else {
			cons += string(c)
		}
	}
	return
}

func surnameCode(s string) string {
	c, v := splitCV(s)
	return (c + v + "XXX")[:3]
}

func givenCode(s string) string {
	c, v := splitCV(s)
	if len(c) >= 4 {
		return c[0:1] + c[2:4]
	}
	return (c + v + "XXX")[:3]
}

func cfCheck(s string) byte {
	odd := []int{1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 2, 4, 18, 20, 11, 3, 6, 8, 12, 14, 16, 10, 22, 25, 24, 23}
	sum := 0
	for i := 0; i < 15; i++ {
		c := s[i]
		var v int
		if c >= '0' && c <= '9' {
			v = int(c - '0')
		} else {
			v = int(c - 'A')
		}
		if i%2 == 0 { // 1-based odd position
			sum += odd[v]
		} else {
			sum += v
		}
	}
	return byte('A' + sum%26)
}

func caSIN(r *rand.Rand) string {
	first := "12345679"[r.IntN(8)]
	b := string(first) + digitsN(r, 7)
	s := b + string(checkdigit.Luhn(b))
	return s[0:3] + " " + s[3:6] + " " + s[6:]
}

func auTFN(r *rand.Rand, spaced bool) string {
	w := []int{1, 4, 3, 7, 5, 8, 6, 9, 10}
	for {
		d := string(byte('1'+r.IntN(9))) + digitsN(r, 8)
		sum := 0
		for i := range 9 {
			sum += int(d[i]-'0') * w[i]
		}
		if sum%11 == 0 {
			if spaced {
				return d[0:3] + " " + d[3:6] + " " + d[6:]
			}
			return d
		}
	}
}

func auMedicare(r *rand.Rand, spaced bool) string {
	d := string(byte('2'+r.IntN(5))) + digitsN(r, 7)
	w := []int{1, 3, 7, 9, 1, 3, 7, 9}
	sum := 0
	for i := range 8 {
		sum += int(d[i]-'0') * w[i]
	}
	s := d + string(byte('0'+sum%10)) + string(byte('1'+r.IntN(9)))
	if spaced {
		return s[0:4] + " " + s[4:9] + " " + s[9:]
	}
	return s
}

// vin: a 17-character VIN for a real manufacturer prefix with its check
// digit in position 9.
func vin(r *rand.Rand) string {
	const alpha = "ABCDEFGHJKLMNPRSTUVWXYZ0123456789"
	wmis := []string{"1HG", "1FT", "2T1", "3VW", "5YJ", "JHM", "JTD", "KMH", "WVW", "WBA", "WDB", "WAU", "VF1", "VF3", "ZFA", "ZAR", "VSS", "SAJ", "YV1", "XLR", "TMB", "SAL"}
	b := []byte(wmis[r.IntN(len(wmis))])
	for len(b) < 17 {
		b = append(b, alpha[r.IntN(len(alpha))])
	}
	// model year (position 10) from the year code letters and digits
	b[9] = "ABCDEFGHJKLMNPRSTVWXY123456789"[r.IntN(30)]
	for i := 12; i < 17; i++ {
		b[i] = byte('0' + r.IntN(10))
	}
	b[8] = vinCheck(string(b))
	return string(b)
}

func vinCheck(v string) byte {
	translit := func(c byte) int {
		switch {
		case c >= '0' && c <= '9':
			return int(c - '0')
		case c >= 'A' && c <= 'H':
			return int(c-'A') + 1
		case c >= 'J' && c <= 'N':
			return int(c-'J') + 1
		case c == 'P':
			return 7
		case c == 'R':
			return 9
		case c >= 'S' && c <= 'Z':
			return int(c-'S') + 2
		}
		return 0
	}
	w := []int{8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2}
	sum := 0
	for i := range 17 {
		sum += translit(v[i]) * w[i]
	}
	if sum%11 == 10 {
		return 'X'
	}
	return byte('0' + sum%11)
}

func imei(r *rand.Rand) string {
	tacs := []string{"35", "86", "01", "99", "49", "35"}
	b := tacs[r.IntN(len(tacs))] + digitsN(r, 12)
	return b + string(checkdigit.Luhn(b))
}

// gtin14 check digit: weights 3,1,3,… from the left over 13 digits.
func gtin14(r *rand.Rand) string {
	b := "0" + string(byte('0'+r.IntN(9))) + digitsN(r, 11)
	sum := 0
	for i := range 13 {
		w := 1
		if i%2 == 0 {
			w = 3
		}
		sum += int(b[i]-'0') * w
	}
	return b + string(byte('0'+(10-sum%10)%10))
}

func udi(r *rand.Rand) string {
	s := "(01)" + gtin14(r)
	if r.IntN(2) == 0 {
		s += fmt.Sprintf("(17)%02d%02d%02d", 25+r.IntN(8), 1+r.IntN(12), 1+r.IntN(28))
	}
	s += "(10)" + digitsN(r, 4+r.IntN(4)) + string(byte('A'+r.IntN(26)))
	if r.IntN(2) == 0 {
		s += "(21)" + digitsN(r, 2+r.IntN(6))
	}
	return s
}

func serial(r *rand.Rand) string {
	const an = "ABCDEFGHJKLMNPRSTUVWXYZ0123456789"
	n := 8 + r.IntN(6)
	b := make([]byte, n)
	for i := range b {
		b[i] = an[r.IntN(len(an))]
	}
	// at least two digits and two letters so it reads as a serial
	b[1] = byte('0' + r.IntN(10))
	b[n-1] = byte('0' + r.IntN(10))
	b[0] = byte('A' + r.IntN(26))
	if b[0] == 'I' || b[0] == 'O' {
		b[0] = 'K'
	}
	s := string(b)
	if r.IntN(4) == 0 {
		s = s[:4] + "-" + s[4:]
	}
	return s
}

func card(r *rand.Rand) string {
	prefixes := []string{"4", "51", "55", "2221", "34", "37", "6011", "65"}
	p := prefixes[r.IntN(len(prefixes))]
	n := 16
	if p == "34" || p == "37" {
		n = 15
	}
	s := p + digitsN(r, n-1-len(p))
	s += string(checkdigit.Luhn(s))
	if r.IntN(2) == 0 {
		var parts []string
		for i := 0; i < len(s); i += 4 {
			parts = append(parts, s[i:min(i+4, len(s))])
		}
		return strings.Join(parts, " ")
	}
	return s
}

func iban(r *rand.Rand, cc string) string {
	lengths := map[string]int{"DE": 22, "FR": 27, "GB": 22, "NL": 18, "ES": 24, "IT": 27}
	var bban strings.Builder
	for i := 0; bban.Len() < lengths[cc]-4; i++ {
		switch {
		case (cc == "GB" || cc == "NL") && i < 4, cc == "IT" && i == 0:
			bban.WriteByte(byte('A' + r.IntN(26)))
		default:
			bban.WriteByte(byte('0' + r.IntN(10)))
		}
	}
	check := checkdigit.IBAN(cc, bban.String())
	s := fmt.Sprintf("%s%02d%s", cc, check, bban.String())
	if r.IntN(2) == 0 {
		var parts []string
		for i := 0; i < len(s); i += 4 {
			parts = append(parts, s[i:min(i+4, len(s))])
		}
		return strings.Join(parts, " ")
	}
	return s
}
