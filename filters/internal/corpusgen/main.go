// Command corpusgen writes the labeled corpus the scanner's precision and
// recall tests run on: generated positives for every class in varied
// surroundings, and negatives that look like personal data but are not.
//
//	go run ./internal/corpusgen > testdata/corpus.jsonl
package main

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"math/big"
	"math/rand/v2"
	"os"
	"strings"

	"github.com/secureai-nexus/nexus/filters/internal/checkdigit"
)

type span struct {
	Class string `json:"class"`
	Value string `json:"value"`
}

type example struct {
	Text  string `json:"text"`
	Spans []span `json:"spans"`
}

func main() {
	r := rand.New(rand.NewPCG(2026, 11))
	enc := json.NewEncoder(os.Stdout)
	emit := func(text string, spans ...span) { _ = enc.Encode(example{Text: text, Spans: spans}) }
	pick := func(xs ...string) string { return xs[r.IntN(len(xs))] }
	digits := func(n int) string {
		var b strings.Builder
		for i := 0; i < n; i++ {
			b.WriteByte(byte('0' + r.IntN(10)))
		}
		return b.String()
	}

	for i := 0; i < 200; i++ {
		user := pick("jane", "j.doe", "mario.rossi", "li_wei", "ana-maria", "o'neil", "x")
		if user == "o'neil" {
			user = "oneil"
		}
		dom := pick("example.com", "mail.example.org", "clinic.example.co.uk", "bank.example")
		e := fmt.Sprintf("%s%d@%s", user, r.IntN(1000), dom)
		emit(fmt.Sprintf(pick("Contact %s for details.", "email: %s", "cc <%s>", "sent by %s, thanks", "%s"), e), span{"EMAIL", e})

		c := card(r)
		shown := c
		if r.IntN(2) == 0 {
			shown = group(c, pick(" ", "-"))
		}
		emit(fmt.Sprintf(pick("My card is %s, expiry 09/28.", "charge %s please", "Visa %s", "cc: %s"), shown), span{"CREDIT_CARD", shown})

		ssn := fmt.Sprintf("%03d-%02d-%04d", 1+r.IntN(665), 1+r.IntN(99), 1+r.IntN(9999))
		emit(fmt.Sprintf(pick("SSN %s on file", "social security number: %s", "his ssn is %s.", "patient %s"), ssn), span{"US_SSN", ssn})

		ph := phone(r)
		emit(fmt.Sprintf(pick("Call me at %s tomorrow.", "phone: %s", "Mobile %s", "reach the ward on %s"), ph), span{"PHONE", ph})

		ib := iban(r)
		emit(fmt.Sprintf(pick("IBAN %s", "wire to %s today", "account: %s"), ib), span{"IBAN", ib})

		ip := fmt.Sprintf("%d.%d.%d.%d", 1+r.IntN(223), r.IntN(256), r.IntN(256), 1+r.IntN(254))
		if r.IntN(4) == 0 {
			ip = fmt.Sprintf("2001:db8:%x::%x", r.IntN(65535), 1+r.IntN(65535))
		}
		emit(fmt.Sprintf(pick("login from %s failed", "client ip %s", "server at %s"), ip), span{"IP_ADDRESS", ip})

		y, m, d := 1930+r.IntN(80), 1+r.IntN(12), 1+r.IntN(28)
		dob := pick(fmt.Sprintf("%04d-%02d-%02d", y, m, d), fmt.Sprintf("%02d/%02d/%04d", m, d, y), fmt.Sprintf("%02d.%02d.%04d", d, m, y))
		emit(fmt.Sprintf(pick("DOB: %s", "born %s in Lyon", "date of birth %s", "birthday is %s"), dob), span{"DATE_OF_BIRTH", dob})

		mrn := pick("MRN", "A", "HC") + digits(6+r.IntN(3))
		mrn = strings.TrimPrefix(mrn, "MRN")
		emit(fmt.Sprintf(pick("MRN: %s", "medical record number %s", "Patient ID %s admitted"), mrn), span{"MEDICAL_RECORD_NUMBER", mrn})

		hp := pick("XKZ", "W", "MBR") + digits(8)
		emit(fmt.Sprintf(pick("member id %s", "Insurance ID: %s", "subscriber id %s"), hp), span{"HEALTH_PLAN_ID", hp})

		pp := digits(9)
		if pp[0] == '0' {
			pp = "5" + pp[1:]
		}
		emit(fmt.Sprintf(pick("passport number %s", "Passport: %s"), pp), span{"US_PASSPORT", pp})

		dl := pick("D", "S", "") + digits(7+r.IntN(2))
		emit(fmt.Sprintf(pick("driver's license %s", "DL# %s", "driver license number %s"), dl), span{"DRIVER_LICENSE", dl})

		sec := secret(r)
		emit(fmt.Sprintf(pick("token %s leaked", "export AWS_KEY=%s", "use %s"), sec), span{"SECRET", sec})

	}

	// Month-name dates of birth and MAC addresses, from a stream of their
	// own so the lines above stay as they were.
	r2 := rand.New(rand.NewPCG(2026, 12))
	pick2 := func(xs ...string) string { return xs[r2.IntN(len(xs))] }
	for i := 0; i < 200; i++ {
		y, m, d := 1930+r2.IntN(80), 1+r2.IntN(12), 1+r2.IntN(28)
		months := [...]string{"January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"}
		mdob := pick2(fmt.Sprintf("%d %s %04d", d, months[m-1], y), fmt.Sprintf("%s %d, %04d", months[m-1], d, y))
		admitted := fmt.Sprintf("%04d-01-05", 2020+r2.IntN(5))
		text := pick2("Patient born "+mdob+", admitted "+admitted, "DOB: "+mdob, "date of birth "+mdob+".")
		spans := []span{{"DATE_OF_BIRTH", mdob}}
		if strings.HasPrefix(text, "Patient born") {
			spans = append(spans, span{"DATE", admitted})
		}
		emit(text, spans...)

		hex := "0123456789abcdef"
		var mac strings.Builder
		sep := pick2(":", "-")
		for g := 0; g < 6; g++ {
			if g > 0 {
				mac.WriteString(sep)
			}
			mac.WriteByte(hex[1+r2.IntN(15)])
			mac.WriteByte(hex[r2.IntN(16)])
		}
		emit(fmt.Sprintf(pick2("device %s joined the ward network", "MAC %s", "badge reader %s offline"), mac.String()), span{"MAC_ADDRESS", mac.String()})

		addr := bitcoinAddress(r2)
		emit(fmt.Sprintf(pick2("donations to %s please", "BTC wallet: %s", "refund to %s"), addr), span{"CRYPTO_WALLET", addr})

		fax := fmt.Sprintf("%d%02d-555-%04d", 2+r2.IntN(8), r2.IntN(100), r2.IntN(10000))
		emit(fmt.Sprintf(pick2("Fax: %s", "send the referral by fax %s", "telefax %s"), fax), span{"FAX", fax})

		u := pick2("https://portal.example-clinic.org/results?token=", "http://ehr.local/view?patient_id=", "https://files.example.net/share?sig=") + rsHex(r2, 12+r2.IntN(20))
		emit(fmt.Sprintf(pick2("open %s to see it", "link: %s", "shared %s."), u), span{"URL", u})
		page := pick2("https://www.example.org/guide/chapter-3", "http://intranet.local/wiki/Discharge_checklist", "https://example.com/?q=weather")
		emit(fmt.Sprintf(pick2("see %s for details", "read %s first"), page))
	}

	// Negatives: digits and dotted numbers that are not personal data.
	for i := 0; i < 400; i++ {
		switch i % 10 {
		case 0:
			// 16 digits that fail Luhn.
			c := card(r)
			last := (int(c[len(c)-1]-'0') + 1 + r.IntN(8)) % 10
			emit(fmt.Sprintf("card %s%d declined", c[:len(c)-1], last))
		case 1:
			emit(fmt.Sprintf("Order #%s shipped", digits(10+r.IntN(6))))
		case 2:
			emit(fmt.Sprintf("at %d-%02d-%02dT%02d:%02d:%02dZ the job ran", 2020+r.IntN(6), 1+r.IntN(12), 1+r.IntN(28), r.IntN(24), r.IntN(60), r.IntN(60)))
		case 3:
			emit(fmt.Sprintf("upgrade to version %d.%d.%d.%d now", r.IntN(10), r.IntN(20), r.IntN(50), r.IntN(999)))
		case 4:
			emit(fmt.Sprintf("for i := 0; i < %s; i++ { x += %s }", digits(10), digits(4)))
		case 5:
			emit(fmt.Sprintf("tracking number %s", digits(12)))
		case 6:
			emit(fmt.Sprintf("the meeting is on %d-%02d-%02d in room %d", 2026, 1+r.IntN(12), 1+r.IntN(28), r.IntN(500)))
		case 7:
			emit(fmt.Sprintf("elapsed %d.%03d s, %d ms p99", r.IntN(100), r.IntN(1000), r.IntN(1000)))
		case 8:
			emit(fmt.Sprintf("invoice %s-%s total %d.%02d EUR", digits(4), digits(6), r.IntN(10000), r.IntN(100)))
		case 9:
			emit(fmt.Sprintf("sha %x build %s", r.Uint64(), digits(8)))
		}
	}
}

func card(r *rand.Rand) string {
	prefixes := []string{"4", "51", "55", "2221", "34", "37", "6011", "65"}
	p := prefixes[r.IntN(len(prefixes))]
	n := 16
	if p == "34" || p == "37" {
		n = 15
	}
	var b strings.Builder
	b.WriteString(p)
	for b.Len() < n-1 {
		b.WriteByte(byte('0' + r.IntN(10)))
	}
	s := b.String()
	return s + string(checkdigit.Luhn(s))
}

func group(s, sep string) string {
	var parts []string
	for i := 0; i < len(s); i += 4 {
		parts = append(parts, s[i:min(i+4, len(s))])
	}
	return strings.Join(parts, sep)
}

func phone(r *rand.Rand) string {
	a, x := 200+r.IntN(800), 200+r.IntN(800)
	l := r.IntN(10000)
	switch r.IntN(5) {
	case 0:
		return fmt.Sprintf("(%d) %d-%04d", a, x, l)
	case 1:
		return fmt.Sprintf("%d-%d-%04d", a, x, l)
	case 2:
		return fmt.Sprintf("+1 %d %d %04d", a, x, l)
	case 3:
		return fmt.Sprintf("+44 20 %04d %04d", r.IntN(10000), l)
	}
	return fmt.Sprintf("+49 30 %d %04d", 1000+r.IntN(9000), l)
}

func iban(r *rand.Rand) string {
	countries := map[string]int{"DE": 22, "FR": 27, "GB": 22, "NL": 18, "ES": 24}
	ccs := []string{"DE", "FR", "GB", "NL", "ES"}
	cc := ccs[r.IntN(len(ccs))]
	var bban strings.Builder
	for bban.Len() < countries[cc]-4 {
		if (cc == "GB" || cc == "NL") && bban.Len() < 4 {
			bban.WriteByte(byte('A' + r.IntN(26)))
		} else {
			bban.WriteByte(byte('0' + r.IntN(10)))
		}
	}
	check := checkdigit.IBAN(cc, bban.String())
	s := fmt.Sprintf("%s%02d%s", cc, check, bban.String())
	if r.IntN(2) == 0 {
		return group(s, " ")
	}
	return s
}

func secret(r *rand.Rand) string {
	const up = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
	const an = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	rs := func(alpha string, n int) string {
		b := make([]byte, n)
		for i := range b {
			b[i] = alpha[r.IntN(len(alpha))]
		}
		return string(b)
	}
	switch r.IntN(4) {
	case 0:
		return "AKIA" + rs(up, 16)
	case 1:
		return "ghp_" + rs(an, 36)
	case 2:
		return "xoxb-" + rs("0123456789", 11) + "-" + rs(an, 24)
	}
	return "eyJhbGciOiJIUzI1NiJ9." + rs(an, 30) + "." + rs(an, 43)
}

// bitcoinAddress is a legacy or script address (base58check) for a random
// hash, with its real checksum.
func bitcoinAddress(r *rand.Rand) string {
	payload := make([]byte, 21, 25)
	payload[0] = byte(5 * r.IntN(2)) // 0x00 (1…) or 0x05 (3…)
	for i := 1; i < 21; i++ {
		payload[i] = byte(r.IntN(256))
	}
	first := sha256.Sum256(payload)
	second := sha256.Sum256(first[:])
	b := append(payload, second[:4]...)
	const alphabet = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
	n := new(big.Int).SetBytes(b)
	var out []byte
	mod, base := new(big.Int), big.NewInt(58)
	for n.Sign() > 0 {
		n.DivMod(n, base, mod)
		out = append(out, alphabet[mod.Int64()])
	}
	for _, c := range b {
		if c != 0 {
			break
		}
		out = append(out, '1')
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return string(out)
}

func rsHex(r *rand.Rand, n int) string {
	const hex = "0123456789abcdef"
	b := make([]byte, n)
	for i := range b {
		b[i] = hex[r.IntN(16)]
	}
	return string(b)
}
