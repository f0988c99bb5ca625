package scan

import (
	"bytes"
	"encoding/binary"
	"math/bits"
	"net/netip"
	"slices"
)

// --- EMAIL -------------------------------------------------------------

// isLocalChar accepts UTF-8 bytes too: internationalized addresses
// (anaïs@…) are found whole, and a span never splits a character.
func isLocalChar(c byte) bool {
	return isAlnum(c) || c == '.' || c == '_' || c == '%' || c == '+' || c == '-' || c >= 0x80
}

func isDomainChar(c byte) bool { return isAlnum(c) || c == '.' || c == '-' }

// matchEmail expands around the '@' at at.
func matchEmail(text []byte, at int) (Finding, bool) {
	s := at
	for s > 0 && isLocalChar(text[s-1]) {
		s--
	}
	for s < at && (text[s] == '.' || text[s] == '-') {
		s++
	}
	if s == at {
		return Finding{}, false
	}
	e := at + 1
	for e < len(text) && isDomainChar(text[e]) {
		e++
	}
	for e > at+1 && (text[e-1] == '.' || text[e-1] == '-') {
		e--
	}
	dom := text[at+1 : e]
	lastDot := -1
	for j, c := range dom {
		if c == '.' {
			lastDot = j
		}
	}
	if lastDot <= 0 || len(dom)-lastDot-1 < 2 {
		return Finding{}, false
	}
	tld := dom[lastDot+1:]
	if !hasPrefixAt(tld, 0, "xn--") { // a punycode TLD ("xn--p1ai") has digits and dashes
		for _, c := range tld {
			if !isAlpha(c) {
				return Finding{}, false
			}
		}
	}
	return Finding{Class: Email, Start: s, End: e, Confidence: 0.95}, true
}

// --- numbers: cards, SSNs, phones, IPv4, dates, IBAN digits ------------

// digitRun reads digits from i allowing single separators among seps
// between digit groups. It returns the end, the digits and the number of
// separators used.
// The digits land in buf, so a run costs no allocation.
func digitRun(text []byte, i int, seps string, maxDigits int, buf *[32]byte) (end int, digits []byte, nsep int) {
	j := i
	d := buf[:0]
	for j < len(text) {
		c := text[j]
		if isDigit(c) {
			if len(d) == maxDigits {
				return j, d, nsep
			}
			d = append(d, c)
			j++
			continue
		}
		if j+1 < len(text) && isDigit(text[j+1]) && containsByte(seps, c) && j > i {
			nsep++
			j++
			continue
		}
		break
	}
	return j, d, nsep
}

func containsByte(s string, c byte) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			return true
		}
	}
	return false
}

// endsClean says the match at [start,end) is not glued to more
// alphanumerics or to a further number group (a version string, an id).
func endsClean(text []byte, end int) bool {
	if end >= len(text) {
		return true
	}
	c := text[end]
	if isAlnum(c) {
		return false
	}
	if (c == '.' || c == '-' || c == '/' || c == ':') && end+1 < len(text) && isDigit(text[end+1]) {
		return false
	}
	return true
}

// startsClean says a number starting at i is not the continuation of a
// longer one: "10.2.3.4.5" holds no address at "2.3.4.5", nor
// "12-123-45-6789" a social security number at "123". It is endsClean's
// rule at the other end; a space still separates numbers.
func startsClean(text []byte, i int) bool {
	if i < 2 || !isDigit(text[i-2]) {
		return true
	}
	c := text[i-1]
	return c != '.' && c != '-' && c != '/' && c != ':'
}

// numericShape describes the run of digits and number punctuation at i (up
// to 48 bytes), read once so that matchNumeric runs only the matchers that
// can match: most numbers in a dense text fit one class's shape at most.
type numericShape struct {
	digits  int  // digits and hex letters (numericDigits)
	decimal int  // decimal digits
	first   int  // length of the leading run of decimal digits
	sep     byte // the byte after it (0 at the end of the text)
	colons  int  // ':' in the leading run of hex digits, ':' and '.' (IPv6)
}

func shapeAt(text []byte, i int) numericShape {
	// Eight bytes at a time: each byte's kind as a mask of top bits, the
	// counts as population counts of the bytes before the first byte that
	// ends the number. In the .wasm a loop iteration costs far more than
	// the arithmetic, and this takes six at most instead of 48.
	const ones, lows = 0x0101010101010101, 0x7f7f7f7f7f7f7f7f
	var sh numericShape
	inFirst, v6 := true, true
	for off := 0; off < 48; off += 8 {
		p := i + off
		if p >= len(text) {
			break
		}
		var x uint64
		if p+8 <= len(text) {
			x = binary.LittleEndian.Uint64(text[p:])
		} else {
			x = tail8(text[p:]) // zero padding ends the number, as the end of the text does
		}
		ascii := ^x & highs8
		low := x & lows
		digit := (low + (0x80-'0')*ones) &^ (low + (0x7f-'9')*ones) & ascii
		folded := low | 0x20*ones
		hexLetter := (folded + (0x80-'a')*ones) &^ (folded + (0x7f-'f')*ones) & ascii
		colon := eq8(low, ':') & ascii
		sep := (eq8(low, ' ') | eq8(low, '-') | eq8(low, '/') |
			(low+(0x80-'(')*ones)&^(low+(0x7f-')')*ones)) & ascii
		stop := ^(digit | hexLetter | colon | sep | eq8(low, '.')&ascii) & highs8
		valid := uint64(highs8)
		if stop != 0 {
			valid = (stop&-stop - 1) & highs8
		}
		if inFirst {
			if nd := ^digit & highs8; nd != 0 {
				k := bits.TrailingZeros64(nd) >> 3
				sh.first += k
				sh.sep = byte(x >> (8 * k))
				inFirst = false
			} else {
				sh.first += 8
			}
		}
		sh.digits += bits.OnesCount64((digit | hexLetter) & valid)
		sh.decimal += bits.OnesCount64(digit & valid)
		if v6 {
			counted := colon & valid
			if s := sep & valid; s != 0 {
				counted &= s&-s - 1
				v6 = false
			}
			if off == 40 {
				counted &= 0x8080808080 // an address fits in 45 bytes
			}
			sh.colons += bits.OnesCount64(counted)
		}
		if stop != 0 {
			return sh
		}
	}
	if inFirst {
		// A run of digits longer than the window.
		j := i + sh.first
		for j < len(text) && isDigit(text[j]) {
			j++
		}
		sh.first = j - i
		if j < len(text) {
			sh.sep = text[j]
		}
	}
	return sh
}

// isLetter8Day says whether a two-digit day at i is followed by a space,
// '.', ',' or an ordinal suffix: the start of a date with a month name.
func isLetter8Day(text []byte, i int) bool {
	if !isDigit(text[i+1]) {
		return false
	}
	c := text[i+2]
	return c == ' ' || c == '.' || c == ',' || c == 's' || c == 'n' || c == 'r' || c == 't'
}

// eq8 marks with its top bit each byte of low (top bits clear) equal to c.
func eq8(low uint64, c byte) uint64 {
	const ones, lows = 0x0101010101010101, 0x7f7f7f7f7f7f7f7f
	return ^((low ^ uint64(c)*ones) + lows) & highs8
}

// matchNumeric tries the classes that start with a digit at i and whose
// shape the number has. Each test below is necessary for its matcher (the
// differential fuzz test holds this to trying them all).
func matchNumeric(text []byte, i int, out *findings) {
	// A Bitcoin address starting 1 or 3: base58, so its second byte may
	// be a letter, which the shape test below would stop at.
	if (text[i] == '1' || text[i] == '3') && len(text)-i >= 26 && base58Value[text[i+1]] != 0xff && base58Value[text[i+25]] != 0xff {
		out.add(matchBase58Address(text, i))
	}
	// A day and a month name ("14 March", "14. März", "March 14,").
	if len(text)-i >= 6 && (text[i+1] == ' ' || text[i+1] == '.' || text[i+1] == ',' || isLetter8Day(text, i)) {
		out.add(matchMonthDate(text, i))
	}
	// A house number and its street, or a postal code and its city.
	if h := houseNumber(text, i); h > 0 && h+1 < len(text) && (text[h] == ' ' || text[h] == ',') {
		out.add(matchAddressNumber(text, i))
	}
	// A VIN, and a licence plate starting with a digit ("1234 BCD").
	// A VIN has a letter among its first three characters (the maker's
	// code); a plate starting with a digit, within its first six.
	if len(text)-i >= 17 && isAlnum(text[i+16]) && (isUpper(text[i+1]) || isUpper(text[i+2])) {
		out.add(matchVIN(text, i))
	}
	if len(text)-i >= 6 && (isUpper(text[i+1]) || isUpper(text[i+2]) || isUpper(text[i+3]) || isUpper(text[i+4]) || isUpper(text[i+5])) {
		out.add(matchPlate(text, i))
	}
	// An age over 89 ("92-year-old", "aged 93").
	if (text[i] == '9' || text[i] == '1') && len(text)-i >= 3 && isDigit(text[i+1]) {
		out.add(matchAge(text, i))
	}
	// A byte that ends the number among the first four leaves fewer than
	// four digits ("2 weeks", "20 mg"): most numbers in prose stop here.
	if len(text)-i < 4 || charClass[text[i+1]]&classNumber == 0 || charClass[text[i+2]]&classNumber == 0 ||
		charClass[text[i+3]]&classNumber == 0 || !startsClean(text, i) {
		return
	}
	sh := shapeAt(text, i)
	if sh.digits < 4 {
		return
	}
	// The weak tier's forms are tried only when the floor is lowered to
	// report them.
	weak := out.min < defaultMinConfidence
	if sh.decimal >= 13 { // 13–19 digits, single spaces or dashes between
		out.add(matchCard(text, i))
	}
	if sh.first == 3 && (sh.sep == '-' || sh.sep == ' ' || sh.sep == '.') || sh.first == 9 || sh.first == 5 && sh.sep == '-' && weak {
		out.add(matchSSN(text, i))
	}
	if sh.first <= 3 && sh.sep == '.' {
		out.add(matchIPv4(text, i))
	}
	if sh.first <= 4 && sh.first != 3 && (sh.sep == '-' || sh.sep == '/' || sh.sep == '.') {
		out.add(matchDate(text, i))
	}
	// A phone number starting with a digit is North American: ten or
	// eleven digits, grouped 3-3-4 or 1-3-3-4 or not at all. At most four
	// bytes per digit ("1) (2"), so the first ten fit in the 48 read.
	if sh.decimal >= 10 && (sh.first == 3 || sh.first == 1 || sh.first == 10 || sh.first == 11) {
		out.add(matchPhone(text, i))
	}
	if sh.decimal >= 9 && (text[i] == '0' || text[i] == '3' || text[i] >= '6') {
		out.add(matchNationalPhone(text, i))
	}
	if sh.colons >= 2 {
		out.add(matchIPv6(text, i))
	}
	if sh.first == 2 && (sh.sep == ':' || sh.sep == '-') || sh.first <= 4 && sh.digits >= 12 {
		out.add(matchMAC(text, i))
	}
	if sh.decimal >= 8 {
		matchIDNumber(text, i, sh, weak, out)
	}
	if sh.first == 7 && sh.sep != '.' && sh.sep != '/' {
		out.add(matchNIF(text, i)) // the older seven-digit DNI
	}
}

// The context words each matcher looks for before a number, and how far
// back. Read-only.
var (
	cardContext    = newContext(40, "card", "visa", "mastercard", "amex", "credit", "cc", "payment")
	cardIDContext  = newContext(24, "order", "invoice", "tracking", "ref", "id", "#")
	ssnContext     = newContext(32, "ssn", "social security", "ss#", "ss #")
	phoneContext   = newContext(32, "phone", "tel", "call", "mobile", "cell", "fax", "contact", "whatsapp")
	phoneIDContext = newContext(24, "order", "invoice", "tracking", "account", "ref")
	faxContext     = newContext(16, "fax", "telefax", "télécopie", "telecopier")
	versionContext = newContext(16, "version", "release", "build")
	ipContext      = newContext(24, "ip", "address", "host", "client", "from", "server")
	birthContext   = newContext(40, "born", "dob", "d.o.b", "date of birth", "birth date", "birthdate", "birthday", "geboren",
		"geburtsdatum", "né le", "née le", "date de naissance", "nacido", "nacida", "fecha de nacimiento",
		"geboortedatum", "nato", "nata", "data di nascita")
)

// --- CREDIT_CARD -------------------------------------------------------

func luhn(d []byte) bool {
	sum, double := 0, false
	for i := len(d) - 1; i >= 0; i-- {
		n := int(d[i] - '0')
		if double {
			n *= 2
			if n > 9 {
				n -= 9
			}
		}
		sum += n
		double = !double
	}
	return sum%10 == 0
}

// cardPrefix says whether the digits start like a real card scheme's
// numbers, which keeps Luhn-valid order ids out.
func cardPrefix(d []byte) bool {
	p2 := int(d[0]-'0')*10 + int(d[1]-'0')
	p4 := p2*100 + int(d[2]-'0')*10 + int(d[3]-'0')
	switch {
	case d[0] == '4': // Visa
		return true
	case p2 >= 51 && p2 <= 55, p4 >= 2221 && p4 <= 2720: // Mastercard
		return true
	case p2 == 34 || p2 == 37: // Amex
		return true
	case p4 == 6011 || p2 == 65 || p4/10 >= 644 && p4/10 <= 649: // Discover
		return true
	case p2 == 35 || p2 == 36 || p2 == 38 || p2 == 30 || p2 == 62: // JCB, Diners, UnionPay
		return true
	case p4 == 5019 || p4 == 4571: // Dankort
		return true
	case p4 == 5018 || p4 == 5020 || p4 == 5038 || p4 == 5893 || p4 == 6304 || p4 == 6759 || p4 == 6761 || p4 == 6762 || p4 == 6763: // Maestro
		return true
	case d[0] == '1': // UATP
		return true
	}
	return false
}

// cardLength says whether a number of n digits is a length the scheme its
// digits start has.
func cardLength(d []byte) bool {
	n := len(d)
	p2 := int(d[0]-'0')*10 + int(d[1]-'0')
	switch {
	case d[0] == '4': // Visa
		return n == 13 || n == 16 || n == 19
	case p2 == 34 || p2 == 37: // Amex
		return n == 15
	case p2 >= 51 && p2 <= 55 || p2 == 22 || p2 == 23 || p2 == 24 || p2 == 25 || p2 == 26 || p2 == 27: // Mastercard
		return n == 16
	case p2 == 30 || p2 == 36 || p2 == 38: // Diners
		return n >= 14 && n <= 19
	case d[0] == '1': // UATP
		return n == 15
	case p2 == 50 || p2 == 58 || p2 == 63 || p2 == 67: // Maestro, Dankort
		return n >= 12 && n <= 19
	}
	return n >= 16 && n <= 19 // Discover, JCB, UnionPay
}

// afterIBANHead says whether the number at i follows an IBAN's country
// code and check digits ("DE00 4111 …"): it is the rest of an account
// number, valid or not, never a card.
func afterIBANHead(text []byte, i int) bool {
	if i < 5 || text[i-1] != ' ' {
		return false
	}
	h := i - 5
	return isUpper(text[h]) && isUpper(text[h+1]) && isDigit(text[h+2]) && isDigit(text[h+3]) && (h == 0 || !isAlnum(text[h-1]))
}

func matchCard(text []byte, i int) (Finding, bool) {
	if afterIBANHead(text, i) {
		return Finding{}, false
	}
	var buf [32]byte
	end, d, nsep := digitRun(text, i, " -", 19, &buf)
	// A card followed by a space and more digits ("4111111111111111
	// 12/27", a grouped number and its expiry) reads as one longer run:
	// then the card is the longest run of whole groups, ending at a space,
	// that is one.
	for !(len(d) >= 13 && endsClean(text, end) && cardPrefix(d) && cardLength(d) && luhn(d)) {
		k := end - 1
		for k > i && text[k] != ' ' {
			k--
		}
		if k <= i {
			return Finding{}, false
		}
		end = k
		d = d[:digitsIn(text[i:end])]
		nsep = bytesIn(text[i:end], " -")
	}
	if d[0] == '1' && nsep > 0 && !(nsep == 2 && end-i == 17 && text[i+4] == text[i+10]) {
		return Finding{}, false // UATP is printed whole or 4-5-6; "1 25 12 28 …" is another number
	}
	conf := 0.85
	if nsep > 0 {
		conf = 0.95
	}
	if cardContext.before(text, i) {
		conf = 0.99
	}
	// An ungrouped number next to an order or reference word is an id.
	if nsep == 0 && conf < 0.99 && cardIDContext.before(text, i) {
		conf -= 0.45
	}
	return Finding{Class: CreditCard, Start: i, End: end, Confidence: conf}, true
}

// digitsIn counts the decimal digits of b.
func digitsIn(b []byte) int {
	n := 0
	for _, c := range b {
		if isDigit(c) {
			n++
		}
	}
	return n
}

// bytesIn counts the bytes of b that are among set.
func bytesIn(b []byte, set string) int {
	n := 0
	for _, c := range b {
		if containsByte(set, c) {
			n++
		}
	}
	return n
}

// --- US_SSN ------------------------------------------------------------

func validSSN(d []byte) bool {
	area := int(d[0]-'0')*100 + int(d[1]-'0')*10 + int(d[2]-'0')
	group := int(d[3]-'0')*10 + int(d[4]-'0')
	serial := int(d[5]-'0')*1000 + int(d[6]-'0')*100 + int(d[7]-'0')*10 + int(d[8]-'0')
	return area != 0 && area != 666 && area < 900 && group != 0 && serial != 0
}

// ssnSample says whether nine SSN digits are a published example rather
// than anyone's number: the Woolworth wallet card's, and the one every
// form shows. Only the weak tier asks: a grouped sample in a test record
// is still worth reporting.
func ssnSample(d []byte) bool {
	return string(d) == "078051120" || string(d) == "123456789"
}

// matchSSN reads ddd-dd-dddd, ddd dd dddd and ddd.dd.dddd, and, as weak
// guesses, nine bare digits and the half-grouped ddd-dddddd and
// ddddd-dddd that Presidio reports below its threshold.
func matchSSN(text []byte, i int) (Finding, bool) {
	if len(text)-i >= 10 {
		sep := text[i+3]
		if (sep == '-' || sep == ' ' || sep == '.') && len(text)-i >= 11 && text[i+6] == sep {
			d := [9]byte{text[i], text[i+1], text[i+2], text[i+4], text[i+5], text[i+7], text[i+8], text[i+9], text[i+10]}
			if allDigits(d[:]) && endsClean(text, i+11) && validSSN(d[:]) {
				conf := 0.9
				switch sep {
				case ' ':
					conf = 0.7
				case '.':
					conf = 0.5 // also how part and version numbers are dotted
				}
				if ssnContext.before(text, i) {
					conf = 0.99
				}
				return Finding{Class: USSSN, Start: i, End: i + 11, Confidence: conf}, true
			}
			return Finding{}, false
		}
		// The weak half-grouped forms: no context lookback for them.
		h := 3
		if sep != '-' {
			h = 5
		}
		if text[i+h] == '-' {
			var d [9]byte
			copy(d[:], text[i:i+h])
			copy(d[h:], text[i+h+1:i+10])
			if allDigits(d[:]) && endsClean(text, i+10) && validSSN(d[:]) && !ssnSample(d[:]) {
				return Finding{Class: USSSN, Start: i, End: i + 10, Confidence: weakPartial}, true
			}
			return Finding{}, false
		}
	}
	if !bareRun(text, i, 9) || !validSSN(text[i:i+9]) {
		return Finding{}, false
	}
	if ssnContext.before(text, i) {
		return Finding{Class: USSSN, Start: i, End: i + 9, Confidence: 0.9}, true
	}
	if ssnSample(text[i : i+9]) {
		return Finding{}, false
	}
	return Finding{Class: USSSN, Start: i, End: i + 9, Confidence: weakExact}, true
}

// --- PHONE -------------------------------------------------------------

// The groupings of a written North American number: 3-3-4 and 1-3-3-4.
var (
	nanpGroups            = [...]int{3, 3, 4}
	nanpGroupsWithCountry = [...]int{1, 3, 3, 4}
)

func matchPhone(text []byte, i int) (Finding, bool) {
	j := i
	intl := false
	if text[j] == '+' {
		intl = true
		j++
	}
	var digits int
	var groups int
	// At most 15 digits, so at most 15 groups: fixed arrays, no allocation.
	var lensBuf [16]int
	lens := lensBuf[:0]
	cur := 0
	var firstBuf [11]byte
	firstDigits := firstBuf[:0]
	paren := false
	// Where the third and fourth groups end, and whether a space follows:
	// a national number followed by a space and more digits ("415-555-0132
	// 2pm") is read as one run, and the number is its first groups.
	var groupEnd [5]int
	for j < len(text) {
		c := text[j]
		switch {
		case isDigit(c):
			if len(firstDigits) < 11 {
				firstDigits = append(firstDigits, c)
			}
			digits++
			cur++
			j++
			if j == len(text) || !isDigit(text[j]) {
				if groups < len(groupEnd) {
					groupEnd[groups] = j
				}
				groups++
				lens = append(lens, cur)
				cur = 0
			}
			if digits > 15 {
				return Finding{}, false
			}
			continue
		case c == '(' && !paren && j+1 < len(text) && isDigit(text[j+1]):
			paren = true
			j++
			continue
		case c == ')' && paren:
			paren = false
			j++
			continue
		case (c == ' ' || c == '-' || c == '.') && j+1 < len(text) && (isDigit(text[j+1]) || text[j+1] == '('):
			j++
			continue
		}
		break
	}
	if !intl && !paren && groups > 3 {
		// 3-3-4 or 1-3-3-4 and then a space: the number ends there.
		n := 0
		switch {
		case lens[0] == 3 && lens[1] == 3 && lens[2] == 4:
			n = 3
		case groups > 4 && lens[0] == 1 && lens[1] == 3 && lens[2] == 3 && lens[3] == 4:
			n = 4
		}
		if n > 0 && text[groupEnd[n-1]] == ' ' {
			j, groups, lens = groupEnd[n-1], n, lens[:n]
			digits = 0
			for _, l := range lens {
				digits += l
			}
		}
	}
	if paren || !endsClean(text, j) || digits < 8 {
		return Finding{}, false
	}
	// The context is looked for only once the digits could be a phone
	// number: it is the dearest test here.
	hasContext := func() bool {
		return phoneContext.before(text, i)
	}
	switch {
	case intl:
		if digits < 8 || digits > 15 {
			return Finding{}, false
		}
		ctx := hasContext()
		if groups < 2 && !ctx {
			return Finding{}, false
		}
		conf := 0.85
		if ctx {
			conf = 0.97
		}
		return Finding{Class: phoneClass(text, i), Start: i, End: j, Confidence: conf}, true
	case digits == 10 || digits == 11 && firstDigits[0] == '1':
		nanp := firstDigits
		if digits == 11 {
			nanp = nanp[1:]
		}
		// North American: area code and exchange start with 2–9.
		if nanp[0] < '2' || nanp[3] < '2' {
			return Finding{}, false
		}
		ctx := hasContext()
		if groups < 3 && !ctx && !(text[i] == '(') {
			// A bare 10-digit run is as likely an id as a phone number.
			return Finding{}, false
		}
		// National numbers are written 3-3-4 (or 1-3-3-4); other groupings
		// are something else.
		if groups > 1 && !slices.Equal(lens, nanpGroups[:]) && !slices.Equal(lens, nanpGroupsWithCountry[:]) {
			return Finding{}, false
		}
		conf := 0.8
		if ctx {
			conf = 0.97
		}
		if !ctx && phoneIDContext.before(text, i) {
			conf -= 0.3
		}
		return Finding{Class: phoneClass(text, i), Start: i, End: j, Confidence: conf}, true
	}
	return Finding{}, false
}

// phoneClass is FAX for a number a fax word comes just before, PHONE
// otherwise.
func phoneClass(text []byte, i int) Class {
	if faxContext.before(text, i) {
		return Fax
	}
	return Phone
}

// --- IP_ADDRESS --------------------------------------------------------

func matchIPv4(text []byte, i int) (Finding, bool) {
	j := i
	for part := 0; part < 4; part++ {
		if part > 0 {
			if j >= len(text) || text[j] != '.' {
				return Finding{}, false
			}
			j++
		}
		s := j
		v := 0
		for j < len(text) && isDigit(text[j]) && j-s < 3 {
			v = v*10 + int(text[j]-'0')
			j++
		}
		if j == s || v > 255 || j-s > 1 && text[s] == '0' {
			return Finding{}, false
		}
	}
	// 1.2.3.4.5 is a version string, not an address.
	if j < len(text) && (isAlnum(text[j]) || text[j] == '.' && j+1 < len(text) && isDigit(text[j+1])) {
		return Finding{}, false
	}
	j = prefixLength(text, j, 32) // "10.0.0.0/8": the network is the finding
	// An address word wins over a version word; the context is read
	// only as far as it decides.
	conf := 0.9
	if ipContext.before(text, i) {
		conf = 0.97
	} else if versionContext.before(text, i) {
		conf = 0.4
	}
	return Finding{Class: IPAddress, Start: i, End: j, Confidence: conf}, true
}

var doubleColon = []byte("::")

// prefixLength extends an address ending at j over a CIDR prefix length
// ("/24", at most max) and returns the new end.
func prefixLength(text []byte, j, max int) int {
	if j+1 >= len(text) || text[j] != '/' || !isDigit(text[j+1]) {
		return j
	}
	k, v := j+1, 0
	for k < len(text) && k-j <= 3 && isDigit(text[k]) {
		v = v*10 + int(text[k]-'0')
		k++
	}
	if v > max || k < len(text) && (isAlnum(text[k]) || text[k] == '/' || text[k] == '.' && k+1 < len(text) && isDigit(text[k+1])) {
		return j
	}
	return k
}

func matchIPv6(text []byte, i int) (Finding, bool) {
	// A group after a ':' is inside a longer run of groups, which is the
	// address or is not one: no fragment of it is ("1::2" in
	// "2001:db8::1::2").
	if i > 0 && text[i-1] == ':' && isHex(text[i]) {
		return Finding{}, false
	}
	j := i
	colons := 0
	for j < len(text) && (isHex(text[j]) || text[j] == ':' || text[j] == '.') && j-i < 45 {
		if text[j] == ':' {
			colons++
		}
		j++
	}
	if colons < 2 {
		return Finding{}, false
	}
	for j > i && text[j-1] == '.' {
		j--
	}
	end := j
	if j < len(text) && text[j] == '%' {
		// A zone: "fe80::1%eth0".
		k := j + 1
		for k < len(text) && k-j <= 16 && (isAlnum(text[k]) || text[k] == '.' || text[k] == '_' || text[k] == '-') {
			k++
		}
		if k > j+1 {
			end = k
		}
	}
	if end < len(text) && isAlnum(text[end]) {
		return Finding{}, false
	}
	// Without "::" an address has seven colons, six before an IPv4 tail:
	// times like 12:30:45 stop here, before a string is made to parse.
	if colons < 6 && !bytes.Contains(text[i:j], doubleColon) {
		return Finding{}, false
	}
	a, err := netip.ParseAddr(string(text[i:j]))
	if err != nil || !a.Is6() {
		return Finding{}, false
	}
	// "::" (the unspecified address) only standing alone: not in "a::b"
	// code or "[::2]" slices.
	if a.IsUnspecified() && (i > 0 && (isAlnum(text[i-1]) || text[i-1] == '[' || text[i-1] == ':') || end < len(text) && (text[end] == ']' || isAlnum(text[end]))) {
		return Finding{}, false
	}
	return Finding{Class: IPAddress, Start: i, End: prefixLength(text, end, 128), Confidence: 0.9}, true
}

// --- DATE_OF_BIRTH -----------------------------------------------------

func num(text []byte, i, n int) (int, bool) {
	if len(text)-i < n {
		return 0, false
	}
	v := 0
	for j := i; j < i+n; j++ {
		if !isDigit(text[j]) {
			return 0, false
		}
		v = v*10 + int(text[j]-'0')
	}
	return v, true
}

func validDate(y, m, d int) bool {
	if y < 1890 || y > 2100 || m < 1 || m > 12 || d < 1 {
		return false
	}
	days := [...]int{31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31}
	return d <= days[m-1]
}

// shortNum reads a number of one or two digits at i and returns it and
// its end (i if there is none).
func shortNum(text []byte, i int) (int, int) {
	v, j := 0, i
	for j < len(text) && j-i < 2 && isDigit(text[j]) {
		v = v*10 + int(text[j]-'0')
		j++
	}
	if j < len(text) && isDigit(text[j]) {
		return 0, i
	}
	return v, j
}

// matchDate finds YYYY-MM-DD, MM/DD/YYYY, DD.MM.YYYY (and / or - or .
// variants) preceded by a birth context word.
func matchDate(text []byte, i int) (Finding, bool) {
	end := 0
	if y, ok := num(text, i, 4); ok && i+10 <= len(text) && (text[i+4] == '-' || text[i+4] == '/' || text[i+4] == '.') && text[i+7] == text[i+4] {
		m, ok1 := num(text, i+5, 2)
		d, ok2 := num(text, i+8, 2)
		if ok1 && ok2 && validDate(y, m, d) {
			end = i + 10
		}
	} else if a, j := shortNum(text, i); j > i && j < len(text) && (text[j] == '/' || text[j] == '.' || text[j] == '-') {
		// Day and month of one or two digits: "14/03/2024", "7/7/2023",
		// "14.5.2019".
		if b, k := shortNum(text, j+1); k > j+1 && k < len(text) && text[k] == text[j] {
			if y, ok := num(text, k+1, 4); ok && (validDate(y, a, b) || validDate(y, b, a)) {
				end = k + 5
			}
		}
	}
	if end == 0 || !endsClean(text, end) {
		return Finding{}, false
	}
	class := personDate(text, i, end)
	if class == "" {
		return Finding{}, false
	}
	return Finding{Class: class, Start: i, End: end, Confidence: 0.95}, true
}
