// Package scan finds personal data and secrets in text with a hand-written
// single pass: each byte that can start a finding (a digit, '@', '+', a
// letter that begins a known prefix, a context word) triggers a small
// matcher, and validators (Luhn, mod-97, SSN area rules, address ranges)
// discard look-alikes. It allocates only for findings and has no
// dependencies, so it compiles for wasip1 inside the piiguard filter as
// well as natively.
package scan

import (
	"encoding/binary"
	"math/bits"
	"slices"
	"sync"
)

// Class is a kind of personal data; its name is what configuration,
// findings and tokens use.
type Class string

// The classes piiguard knows. They match the control plane's mesh file.
const (
	Email               Class = "EMAIL"
	Phone               Class = "PHONE"
	USSSN               Class = "US_SSN"
	CreditCard          Class = "CREDIT_CARD"
	IBAN                Class = "IBAN"
	IPAddress           Class = "IP_ADDRESS"
	DateOfBirth         Class = "DATE_OF_BIRTH"
	MedicalRecordNumber Class = "MEDICAL_RECORD_NUMBER"
	HealthPlanID        Class = "HEALTH_PLAN_ID"
	USPassport          Class = "US_PASSPORT"
	DriverLicense       Class = "DRIVER_LICENSE"
	Secret              Class = "SECRET"
	MACAddress          Class = "MAC_ADDRESS"
	CryptoWallet        Class = "CRYPTO_WALLET"
	Fax                 Class = "FAX"
	URL                 Class = "URL"
	USNPI               Class = "US_NPI"
	MedicalLicense      Class = "MEDICAL_LICENSE"
	USITIN              Class = "US_ITIN"
	USBankNumber        Class = "US_BANK_NUMBER"
	ABARoutingNumber    Class = "ABA_ROUTING_NUMBER"
	UKNINO              Class = "UK_NINO"
	UKNHS               Class = "UK_NHS"
	FRNIR               Class = "FR_NIR"
	DETaxID             Class = "DE_TAX_ID"
	DEHealthInsurance   Class = "DE_HEALTH_INSURANCE"
	ESNIF               Class = "ES_NIF"
	ESNIE               Class = "ES_NIE"
	NLBSN               Class = "NL_BSN"
	ITFiscalCode        Class = "IT_FISCAL_CODE"
	CASIN               Class = "CA_SIN"
	AUTFN               Class = "AU_TFN"
	AUMedicare          Class = "AU_MEDICARE"
	Name                Class = "NAME"
	Address             Class = "ADDRESS"
	Date                Class = "DATE"
	Vehicle             Class = "VEHICLE"
	Device              Class = "DEVICE"
)

// Classes lists every class in a stable order.
func Classes() []Class {
	return []Class{Email, Phone, USSSN, CreditCard, IBAN, IPAddress, DateOfBirth, MedicalRecordNumber, HealthPlanID, USPassport, DriverLicense, Secret, MACAddress, CryptoWallet, Fax, URL,
		USNPI, MedicalLicense, USITIN, USBankNumber, ABARoutingNumber, UKNINO, UKNHS, FRNIR, DETaxID,
		DEHealthInsurance, ESNIF, ESNIE, NLBSN, ITFiscalCode, CASIN, AUTFN, AUMedicare,
		Name, Address, Date, Vehicle, Device}
}

// Finding is one match: its class, byte span [Start, End) in the scanned
// text, and a confidence in (0, 1].
type Finding struct {
	Class      Class   `json:"class"`
	Start      int     `json:"start"`
	End        int     `json:"end"`
	Confidence float64 `json:"confidence"`
}

// defaultMinConfidence is the floor of a Scanner whose MinConfidence is
// zero. Below it are the weak guesses (a bare nine-digit number as a
// passport number) that only a lowered floor reports.
const defaultMinConfidence = 0.5

// Scanner holds the settings of a scan. The zero value reports findings
// of every class at confidence ≥ 0.5.
type Scanner struct {
	// MinConfidence drops findings below it (default 0.5).
	MinConfidence float64
}

// priority breaks overlaps: the more specific (validated) class wins.
func priority(c Class) int {
	switch c {
	case Secret:
		return 10
	case IBAN:
		// A Luhn-valid run inside a mod-97-valid IBAN is part of the IBAN.
		return 9
	case CreditCard:
		return 8
	case Email, CryptoWallet:
		return 7
	case USSSN:
		return 6
	case USNPI, USITIN, USBankNumber, ABARoutingNumber, UKNINO, UKNHS, FRNIR, DETaxID, ESNIF, ESNIE, NLBSN, ITFiscalCode, CASIN, AUTFN, AUMedicare:
		// Above the context ids and phone numbers: a checksum-valid
		// Australian Medicare number wins over the HEALTH_PLAN_ID that
		// "medicare" alone gives it, an NHS number over the phone number
		// its 3-3-4 grouping also reads as.
		return 6
	case MedicalRecordNumber, HealthPlanID, USPassport, DriverLicense, Vehicle, Device:
		return 5
	case DateOfBirth, Date, Address, MedicalLicense, DEHealthInsurance:
		// Short checks on common letter-and-digit shapes: an MRN or
		// licence phrase before one names it better.
		return 4
	case IPAddress, MACAddress:
		return 3
	case Phone, Fax:
		return 2
	}
	return 1
}

// Scan returns the findings in text, ordered by start, without overlaps.
func (s Scanner) Scan(text []byte) []Finding {
	out := s.findings()
	// Eight bytes at a time, finding in each block the positions where a
	// finding can start — word starts and a few punctuation marks — with
	// word arithmetic: prose has about one such position per six bytes,
	// and in the .wasm every loop iteration and call costs far more than
	// the arithmetic (Go's wasm backend dispatches each back edge through
	// a branch table).
	//
	// One loop: a mark is taken from the current block until none is
	// left, then the next block is read.
	n := len(text)
	var prev uint64     // top bit set: the byte before the block is alphanumeric
	var prevHigh uint64 // top bit set: the byte before the block is not ASCII
	var marks uint64
	for i := -8; ; {
		if marks == 0 {
			i += 8
			if i >= n {
				break
			}
			var x uint64
			if i+8 <= n {
				x = binary.LittleEndian.Uint64(text[i:])
			} else {
				x = tail8(text[i:]) // zero padding starts nothing
			}
			alnum := ^nonAlnum8(x) & highs8
			starts := alnum &^ (alnum<<8 | prev)
			if dismissByLetter {
				// A letter after a non-ASCII byte may continue a word
				// that starts with a Latin capital ("Ángel"): kept.
				afterHigh := (x&highs8)<<8 | prevHigh
				starts &^= noStart8(x) &^ afterHigh
				prevHigh = x >> 56 & 0x80
			}
			marks = starts | starters8(x)
			prev = alnum >> 56
			continue
		}
		p := i + bits.TrailingZeros64(marks)>>3
		marks &= marks - 1
		c := text[p]
		cls := charClass[c]
		if cls&classAlnum == 0 {
			matchPunct(text, p, &out)
			continue
		}
		if cls&classDigit != 0 {
			matchNumeric(text, p, &out)
			continue
		}
		if p >= 2 && text[p-1] >= 0x80 {
			// A word starting with a Latin capital in UTF-8 ("Élodie"):
			// its first ASCII letter is what was marked.
			if e, ok := capitalAt(text, p-2); ok && e == p {
				out.add(matchName(text, p-2))
			}
		}
		if p+1 >= n {
			continue
		}
		// Dismiss the word unless its first two letters can start a
		// finding (one two-bit lookup), then its first three letters
		// and bytes if they can only start a keyword.
		d := text[p+1]
		var may, keyword bool
		if c|d < 0x80 { // no keyword or prefix has a non-ASCII byte
			k := uint(c)<<7 | uint(d)
			pair := pairKinds[k/32] >> (k % 32 * 2) & 3
			may = pair&pairAlways != 0
			if pair&pairKeyword != 0 {
				third := 26
				if p+2 < n && charClass[text[p+2]]&(classUpper|classLower) != 0 {
					third = int((text[p+2] | 0x20) - 'a')
				}
				k3 := (int((c|0x20)-'a')*26+int((d|0x20)-'a'))*27 + third
				keyword = keywordStarts3[k3/64]&(1<<(k3%64)) != 0 && keywordPrefixAt(text, p, k3)
				may = may || keyword
			}
		} else {
			may = isUpper(c) // a name with a non-ASCII letter ("Müller")
		}
		if may {
			matchWord(text, p, keyword, &out)
		}
	}
	return out.result()
}

// candidatePool holds the lists findings are collected into before
// overlaps are resolved, so a scan allocates only its result. A cache, not
// state: what it holds never changes a result.
var candidatePool sync.Pool

// maxPooledFindings keeps the lists of unusually dense texts out of the
// pool, so one such text does not pin its list (40 bytes a finding) for
// every later scan.
const maxPooledFindings = 1 << 14

const highs8 = 0x8080808080808080

// tail8 reads the last, short block of a text (fewer than eight bytes) as
// a little-endian word padded with zero bytes. Only the end of a text
// takes this path, so the call costs nothing per block.
func tail8(b []byte) uint64 {
	var t [8]byte
	copy(t[:], b)
	return binary.LittleEndian.Uint64(t[:])
}

// starters8 marks with its top bit each byte of x that is one of the
// punctuation marks a finding can start at: @ + ( - and : ; < = >, the
// separators of name: value, name = value and <name>value (one range
// test, about the cost of the single ':' it replaced). For an ASCII byte
// b, (b ^ c) + 0x7f has its top bit set unless b == c, and never carries
// into the next byte. Small enough to inline: in the .wasm a call per
// block costs more than the arithmetic.
func starters8(x uint64) uint64 {
	const ones, lows = 0x0101010101010101, 0x7f7f7f7f7f7f7f7f
	low := x & lows
	differs := ((low ^ '@'*ones) + lows) & ((low ^ '+'*ones) + lows) & ((low ^ '('*ones) + lows) &
		((low ^ '-'*ones) + lows)
	separator := (low + (0x80-':')*ones) &^ (low + (0x7f-'>')*ones)
	return (^differs | separator) &^ x & highs8
}

// noStart8 marks the lower-case letters no finding starts a word with —
// f j k o q t u v w y z, about a third of English words — so those words
// are dismissed eight bytes at a time (n and r start npm_ and rk_ tokens). TestNoStartLetters checks the
// set against every keyword and secret prefix.
func noStart8(x uint64) uint64 {
	const ones, lows = 0x0101010101010101, 0x7f7f7f7f7f7f7f7f
	// low in [lo, hi]: the top bit of low + (0x80 - lo) is set and that of
	// low + (0x7f - hi) is not.
	low := x & lows
	return ((low+(0x80-'f')*ones)&^(low+(0x7f-'f')*ones) |
		(low+(0x80-'j')*ones)&^(low+(0x7f-'k')*ones) |
		(low+(0x80-'o')*ones)&^(low+(0x7f-'o')*ones) |
		(low+(0x80-'q')*ones)&^(low+(0x7f-'q')*ones) |
		(low+(0x80-'t')*ones)&^(low+(0x7f-'w')*ones) |
		(low+(0x80-'y')*ones)&^(low+(0x7f-'z')*ones)) &^ x & highs8
}

// nonAlnum8 marks with its top bit each of the eight bytes of x (little
// endian) that is not an ASCII letter or digit. Each range test adds a
// constant to the byte's low seven bits, which cannot carry into the next
// byte, and reads the top bit.
func nonAlnum8(x uint64) uint64 {
	const ones, highs, lows = 0x0101010101010101, 0x8080808080808080, 0x7f7f7f7f7f7f7f7f
	low := x & lows
	// b >= lo sets the top bit of b + (0x80 - lo); b > hi sets it of b + (0x7f - hi).
	digit := (low + (0x80-'0')*ones) &^ (low + (0x7f-'9')*ones)
	folded := low | 0x20*ones
	letter := (folded + (0x80-'a')*ones) &^ (folded + (0x7f-'z')*ones)
	return ^(digit|letter)&highs | x&highs
}

// findings collects what the matchers find, keeping those at or above the
// scanner's confidence floor. A concrete type rather than a callback, so
// adding one is inlined.
type findings struct {
	min    float64
	list   []Finding
	pooled *[]Finding // where list came from, if from candidatePool
}

// result resolves the overlaps among the findings and returns them in a
// list of their own, giving the candidate list back to the pool.
func (fs *findings) result() []Finding {
	if fs.list == nil {
		return nil
	}
	kept := slices.Clone(resolve(fs.list))
	if cap(fs.list) <= maxPooledFindings {
		if fs.pooled == nil {
			fs.pooled = new([]Finding)
		}
		*fs.pooled = fs.list
		candidatePool.Put(fs.pooled)
	}
	return kept
}

func (s Scanner) findings() findings {
	min := s.MinConfidence
	if min == 0 {
		min = defaultMinConfidence
	}
	return findings{min: min}
}

// add keeps f if ok and f clears the floor; its arguments are a matcher's
// results.
func (fs *findings) add(f Finding, ok bool) {
	if ok && f.Confidence >= fs.min && f.End > f.Start {
		if fs.list == nil {
			if p, ok := candidatePool.Get().(*[]Finding); ok {
				fs.pooled, fs.list = p, (*p)[:0]
			} else {
				fs.list = make([]Finding, 0, 64)
			}
		}
		fs.list = append(fs.list, f)
	}
}

// matchPunct tries the classes that start with punctuation.
func matchPunct(text []byte, i int, out *findings) {
	n := len(text)
	switch text[i] {
	case '@':
		out.add(matchEmail(text, i))
	case '+', '(':
		if i+1 < n && isDigit(text[i+1]) && (i == 0 || !isAlnum(text[i-1])) {
			out.add(matchPhone(text, i))
			out.add(matchUDI(text, i))
		}
		if text[i] == '(' {
			out.add(matchCallAssignment(text, i)) // setProperty("API_TOKEN", "…")
		}
	case '-':
		if (i == 0 || !isAlnum(text[i-1])) && hasPrefixAt(text, i, "-----BEGIN ") {
			out.add(matchPEM(text, i))
		} else if w := hexWordBefore(text, i); w >= 0 && i-w == 2 {
			out.add(matchMAC(text, w)) // aa-bb-…
		}
	case '=', '>':
		out.add(matchSeparator(text, i))
	case ':':
		out.add(matchSeparator(text, i))
		if w := hexWordBefore(text, i); w >= 0 {
			// An IPv6 address whose first group starts with a letter
			// (fe80:…), or a MAC address (aa:bb:…); one starting with a
			// digit is a numeric match.
			out.add(matchIPv6(text, w))
			if i-w == 2 {
				out.add(matchMAC(text, w))
			}
		} else if i+1 < n && text[i+1] == ':' && (i == 0 || text[i-1] != ':' && !isAlnum(text[i-1])) {
			out.add(matchIPv6(text, i))
		}
	}
}

// matchWord tries the classes that start with a letter, filtered by the
// letter so most words cost one switch.
// matchCapitalised tries the classes that start with a capital letter.
func matchCapitalised(text []byte, i int, out *findings) {
	c := text[i]
	// A capital and a small letter ("Maria", "The") starts no IBAN, VIN,
	// plate or national id: only a name or an address.
	if i+1 < len(text) && !isLower(text[i+1]) {
		out.add(matchIBAN(text, i))
		out.add(matchVIN(text, i))
		out.add(matchPlate(text, i))
		matchIDWord(text, i, out)
	}
	// One gazetteer lookup for the name and address matchers.
	var flags wordFlags
	var caps, initial bool
	end := shortToken(text, i)
	if end != 0 {
		flags = names.lookupShort(text, i, end)
	} else if end, caps, initial = nameToken(text, i); end != 0 {
		flags = tokenFlags(text, i, end)
	}
	if end != 0 {
		// An ordinary word or a stop word in small letters after its
		// capital ("The", "Tuesday", "Hospital") starts neither, but a PO
		// box ("Post Office Box") may.
		if flags&(wordGiven|wordSurname|wordTitle|wordStreetFirst|wordStreetAdjective) == 0 && flags&(wordStop|wordEnglish|wordCue) != 0 &&
			!caps && c != 'P' && c != 'B' && c != 'A' && c != 'C' {
			return
		}
		out.add(matchNameToken(text, i, end, caps, initial, flags))
	}
	out.add(matchAddressWord(text, i, end, flags))
}

func matchWord(text []byte, i int, keyword bool, out *findings) {
	c := text[i]
	if isUpper(c) {
		matchCapitalised(text, i, out)
	} else if c == 'x' {
		matchIDWord(text, i, out) // a lower-case NIE ("x9613851n")
	}
	if isUpper(c) && i+1 < len(text) && isLower(text[i+1]) && c != 'H' && c != 'B' {
		// A capital and a small letter starts no secret, wallet or URL
		// but "Http…" and "Bearer …": only a keyword is tried.
		if keyword {
			out.add(matchContextID(text, i))
			out.add(matchAssignment(text, i))
		}
		return
	}
	switch c {
	case 'A', 'G', 'g', 'x', 'e':
		out.add(matchSecretPrefix(text, i))
	case 'b', 'B':
		out.add(matchBech32Address(text, i))
		out.add(matchBearer(text, i))
	case 'h', 'H':
		out.add(matchURL(text, i))
		out.add(matchSecretWord(text, i))
	case 's', 'S':
		if i+2 < len(text) && text[i+1] == '/' && text[i+2]|0x20 == 'n' {
			out.add(idAfterPhrase(text, i, deviceRule, "s/n")) // "S/N: …"
		}
		out.add(matchSecretWord(text, i))
	case 'r', 'n', 'p', 'a':
		out.add(matchSecretWord(text, i))
	}
	if keyword {
		out.add(matchContextID(text, i))
		out.add(matchAssignment(text, i))
	}
}

// keywordStarts marks the first two letters of every context phrase and
// credential name, so an ordinary word is dismissed with one lookup. It is
// computed once and only read.
var keywordStarts = func() (t [26 * 26]bool) {
	mark := func(w string) {
		if len(w) >= 2 && isLower(w[0]) && isLower(w[1]) {
			t[int(w[0]-'a')*26+int(w[1]-'a')] = true
		}
	}
	forEachKeyword(mark)
	return t
}()

// forEachKeyword calls fn with every context phrase and credential name.
func forEachKeyword(fn func(string)) {
	for _, r := range contextRuleTable {
		for _, w := range r.words {
			fn(w)
		}
	}
	for _, w := range assignmentNames {
		fn(w)
	}
	for _, w := range secretTriggers {
		fn(w)
	}
}

func keywordStart(a, b byte) bool {
	return isLower(a) && isLower(b) && keywordStarts[int(a-'a')*26+int(b-'a')]
}

// keywordStarts3 refines keywordStarts with the third character (a letter,
// or slot 26 for anything else): "patient" shares "pa" with "passport" but
// not "pat", so most prose words stop here.
// A bit set, 2.3 KB, so it stays in the L1 cache: as bools it missed often
// enough to cost a sixth of a prose scan.
var keywordStarts3 = func() (t [(26*26*27 + 63) / 64]uint64) {
	mark := func(w string) {
		if len(w) < 2 || !isLower(w[0]) || !isLower(w[1]) {
			return
		}
		k := keywordK3(w)
		t[k/64] |= 1 << (k % 64)
	}
	forEachKeyword(mark)
	return t
}()

// pairKinds says, two bits per pair of a word's first two bytes (both
// ASCII, the first a letter), whether the pair can start a finding outright
// (pairAlways) — two capitals (IBAN, AKIA…, MRN), a capital and a digit
// (a Krankenversichertennummer, a NIE), x and a digit (a NIE in lower
// case), a secret prefix (A3T,
// gh, gi for github_pat_, gl, xo, ey) — or
// begins a keyword (pairKeyword), which then needs its third letter and
// first bytes checked. One load per word: most words are neither.
// Computed once and only read.
var pairKinds = func() (t [128 * 128 / 32]uint64) {
	for c := 0; c < 128; c++ {
		for d := 0; d < 128; d++ {
			b, e := byte(c), byte(d)
			if !isAlpha(b) {
				continue
			}
			var kind uint64
			if isAlpha(e) && keywordStart(lower(b), lower(e)) {
				kind |= pairKeyword
			}
			if isUpper(b) && (isUpper(e) || isLower(e) || isDigit(e) || e == '\'' || e == '.' || e == '-') || (b|0x20) == 's' && e == '/' || b == 'A' && e == '3' || b == 'g' && (e == 'h' || e == 'i' || e == 'l') || b == 'x' && (e == 'o' || isDigit(e)) || b == 'e' && e == 'y' || b == 'b' && e == 'c' || (b|0x20) == 'h' && (e|0x20) == 't' {
				kind |= pairAlways
			}
			k := c<<7 | d
			t[k/32] |= kind << (k % 32 * 2)
		}
	}
	return t
}()

const (
	pairAlways  = 1
	pairKeyword = 2
)

// keywordPrefix is a keyword's first (up to) sixteen bytes as two
// little-endian words, with masks of the bytes it has.
type keywordPrefix struct{ lo, hi, loMask, hiMask uint64 }

// keywordPrefixes holds every keyword's prefix, grouped by the keyword's
// first three letters as keywordStarts3 numbers them (k3); the group of a
// k3 whose bit is set is keywordGroups[r], r being the bit's rank — the
// set bits before it, keywordRanks3 counting them per word of the set.
// "patient" is then compared with "patient id" alone, not with every
// keyword starting "pa". Computed once and only read.
var keywordPrefixes, keywordGroups, keywordRanks3 = func() ([]keywordPrefix, [][2]uint16, [len(keywordStarts3)]uint16) {
	byK3 := map[int][]keywordPrefix{}
	forEachKeyword(func(w string) {
		if len(w) < 2 || !isLower(w[0]) || !isLower(w[1]) {
			return
		}
		var b, m [16]byte
		for i := 0; i < len(w) && i < 16; i++ {
			b[i], m[i] = w[i], 0xff
		}
		byK3[keywordK3(w)] = append(byK3[keywordK3(w)], keywordPrefix{
			lo: binary.LittleEndian.Uint64(b[:]), hi: binary.LittleEndian.Uint64(b[8:]),
			loMask: binary.LittleEndian.Uint64(m[:]), hiMask: binary.LittleEndian.Uint64(m[8:]),
		})
	})
	var all []keywordPrefix
	var groups [][2]uint16
	var ranks [len(keywordStarts3)]uint16
	for wi, word := range keywordStarts3 {
		ranks[wi] = uint16(len(groups))
		for bit := 0; bit < 64; bit++ {
			if word&(1<<bit) != 0 {
				ps := byK3[wi*64+bit]
				groups = append(groups, [2]uint16{uint16(len(all)), uint16(len(all) + len(ps))})
				all = append(all, ps...)
			}
		}
	}
	return all, groups, ranks
}()

// keywordK3 numbers a keyword's first three letters as keywordStarts3
// does: the third is slot 26 when it is not a letter.
func keywordK3(w string) int {
	third := 26
	if len(w) > 2 && isLower(w[2]) {
		third = int(w[2] - 'a')
	}
	return (int(w[0]-'a')*26+int(w[1]-'a'))*27 + third
}

// keywordPrefixAt says whether the text at p, ASCII case folded, begins
// with the first sixteen bytes of a keyword whose first three letters are
// numbered k3, a bit set in keywordStarts3: the check a word passing that
// set gets before any matcher runs, in four word compares per candidate.
func keywordPrefixAt(text []byte, p, k3 int) bool {
	word := keywordStarts3[k3/64]
	g := keywordGroups[int(keywordRanks3[k3/64])+bits.OnesCount64(word&(1<<(k3%64)-1))]
	var lo, hi uint64
	if len(text)-p >= 16 {
		lo, hi = binary.LittleEndian.Uint64(text[p:]), binary.LittleEndian.Uint64(text[p+8:])
	} else {
		// Zero padding matches no keyword byte.
		var b [16]byte
		copy(b[:], text[p:])
		lo, hi = binary.LittleEndian.Uint64(b[:]), binary.LittleEndian.Uint64(b[8:])
	}
	lo, hi = fold8(lo), fold8(hi)
	for _, kp := range keywordPrefixes[g[0]:g[1]] {
		if lo&kp.loMask == kp.lo && hi&kp.hiMask == kp.hi {
			return true
		}
	}
	return false
}

// fold8 lowers the ASCII capital letters among the eight bytes of x, as
// lower does one byte at a time.
func fold8(x uint64) uint64 {
	const ones, lows = 0x0101010101010101, 0x7f7f7f7f7f7f7f7f
	low := x & lows
	upper := (low + (0x80-'A')*ones) &^ (low + (0x7f-'Z')*ones) &^ x & highs8
	return x | upper>>2
}

// keywordAt says whether a keyword may start at text[i].
func keywordAt(text []byte, i int) bool {
	if i+1 >= len(text) {
		return false
	}
	a, b := lower(text[i]), lower(text[i+1])
	if !isLower(a) || !isLower(b) {
		return false
	}
	third := 26
	if i+2 < len(text) {
		if c := lower(text[i+2]); isLower(c) {
			third = int(c - 'a')
		}
	}
	k := (int(a-'a')*26+int(b-'a'))*27 + third
	return keywordStarts3[k/64]&(1<<(k%64)) != 0
}

// hexWordBefore returns the start of the word before the ':' at text[i]
// when that word is one to four hex digits starting with a letter, or -1.
func hexWordBefore(text []byte, i int) int {
	w := i
	for w > 0 && i-w < 4 && isHex(text[w-1]) {
		w--
	}
	if w == i || w > 0 && isAlnum(text[w-1]) || !isAlpha(text[w]) {
		return -1
	}
	return w
}

// resolve keeps, among overlapping findings, the one of highest priority
// (then the longest, then the earliest). Findings are grouped into runs
// of transitively overlapping spans first, so the choice is quadratic only
// within a run (a handful), not over the whole text.
func resolve(fs []Finding) []Finding {
	if len(fs) < 2 {
		return fs
	}
	// Matchers are tried in text order, so the list is nearly always in
	// order already; a plain pass over the starts costs a tenth of the
	// sort's.
	for i := 1; i < len(fs); i++ {
		if fs[i].Start < fs[i-1].Start {
			slices.SortFunc(fs, func(a, b Finding) int { return a.Start - b.Start })
			break
		}
	}
	// Filtered in place: a run never yields more findings than it holds,
	// so the kept ones are written only over runs already read.
	out := fs[:0]
	for i := 0; i < len(fs); {
		j, end := i+1, fs[i].End
		for j < len(fs) && fs[j].Start < end {
			end = max(end, fs[j].End)
			j++
		}
		out = append(out, pick(fs[i:j])...)
		i = j
	}
	return out
}

func pick(run []Finding) []Finding {
	if len(run) == 1 {
		return run
	}
	// Ranked in a scratch copy (on the stack for the usual handful), the
	// kept findings are written back over run, which the caller has done
	// reading: no allocation per overlap.
	var scratch [16]Finding
	c := append(scratch[:0], run...)
	slices.SortStableFunc(c, func(a, b Finding) int {
		// A guess below the default floor (reported only when the floor
		// is lowered) loses to any finding at or above it, whatever its
		// class.
		ga, gb := a.Confidence < defaultMinConfidence, b.Confidence < defaultMinConfidence
		if ga != gb {
			if ga {
				return 1
			}
			return -1
		}
		// Between two guesses the likelier wins: the weak tier's forms
		// overlap by design (nine bare digits read as an SSN, a passport,
		// a licence and an account), and a guess's confidence ranks the
		// narrower form above the wider.
		if ga && a.Confidence != b.Confidence {
			if a.Confidence > b.Confidence {
				return -1
			}
			return 1
		}
		if pa, pb := priority(a.Class), priority(b.Class); pa != pb {
			return pb - pa
		}
		if la, lb := a.End-a.Start, b.End-b.Start; la != lb {
			return lb - la
		}
		return a.Start - b.Start
	})
	kept := run[:0]
	for _, f := range c {
		if !slices.ContainsFunc(kept, func(k Finding) bool { return f.Start < k.End && k.Start < f.End }) {
			kept = append(kept, f)
		}
	}
	slices.SortFunc(kept, func(a, b Finding) int { return a.Start - b.Start })
	return kept
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
func isUpper(c byte) bool { return c >= 'A' && c <= 'Z' }
func isLower(c byte) bool { return c >= 'a' && c <= 'z' }
func isAlpha(c byte) bool { return charClass[c]&(classUpper|classLower) != 0 }
func isAlnum(c byte) bool { return charClass[c]&(classDigit|classUpper|classLower) != 0 }
func isHex(c byte) bool   { return charClass[c]&classHex != 0 }

// Character classes as one table lookup instead of a chain of range
// tests: these run for nearly every byte of the text. Read-only.
const (
	classDigit = 1 << iota
	classUpper
	classLower
	classHex
	// classStarter marks the punctuation a finding can start with.
	classStarter
	// classNumber marks what a number's shape is read across: digits, hex
	// letters and number punctuation (see shapeAt).
	classNumber

	classAlnum = classDigit | classUpper | classLower
)

var charClass = func() (t [256]uint8) {
	for c := 0; c < 256; c++ {
		b := byte(c)
		if isDigit(b) {
			t[c] |= classDigit | classHex
		}
		if isUpper(b) {
			t[c] |= classUpper
		}
		if isLower(b) {
			t[c] |= classLower
		}
		if b >= 'a' && b <= 'f' || b >= 'A' && b <= 'F' {
			t[c] |= classHex
		}
		switch b {
		case '@', '+', '(', '-', ':', ';', '<', '=', '>':
			t[c] |= classStarter
		}
		switch b {
		case ':', '.', ' ', '-', '/', '(', ')':
			t[c] |= classNumber
		}
		if t[c]&classHex != 0 {
			t[c] |= classNumber
		}
	}
	return t
}()

func lower(c byte) byte {
	if isUpper(c) {
		return c + 'a' - 'A'
	}
	return c
}

func hasPrefixAt(text []byte, i int, p string) bool {
	return len(text)-i >= len(p) && string(text[i:i+len(p)]) == p
}

// hasFoldPrefixAt is hasPrefixAt ignoring ASCII case; p is lower case.
func hasFoldPrefixAt(text []byte, i int, p string) bool {
	if len(text)-i < len(p) {
		return false
	}
	for j := 0; j < len(p); j++ {
		if lower(text[i+j]) != p[j] {
			return false
		}
	}
	return true
}

// contextWords are words looked for, case-insensitively and at a word
// start, within window bytes before a match. Each word starts with a
// lower-case letter or '#' (TestContextWordsStart).
type contextWords struct {
	window int
	first  uint64 // the words' first bytes as a bit set, by their low six bits
	hash   bool   // a word starts with '#'
	words  []string
	// byFirst lists the words by their first byte's low five bits (a–z
	// and '#' do not collide), so a word start is compared only with the
	// words that share its first letter: the name and event lists hold a
	// hundred words or more.
	byFirst [32][]string
}

func newContext(window int, words ...string) contextWords {
	cw := contextWords{window: window, words: words}
	for _, w := range words {
		cw.first |= 1 << (w[0] & 63)
		cw.hash = cw.hash || w[0] == '#'
		cw.byFirst[w[0]&31] = append(cw.byFirst[w[0]&31], w)
	}
	return cw
}

// before reports whether any of the words occurs before i: starting at a
// letter (or '#') not preceded by a letter, and ending by i.
func (cw *contextWords) before(text []byte, i int) bool {
	// Eight bytes at a time: the word starts of a block as a mask, so only
	// the half dozen words of a window are looked at, not its every byte.
	lo := max(i-cw.window, 0)
	var prev uint64 // top bit set: the byte before the block is a letter
	if lo > 0 && isAlpha(text[lo-1]) {
		prev = 0x80
	}
	for b := lo; b < i; b += 8 {
		var x uint64
		if b+8 <= i {
			x = binary.LittleEndian.Uint64(text[b:])
		} else {
			x = tail8(text[b:i]) // zero padding starts no word
		}
		letter := letters8(x)
		starts := letter
		if cw.hash {
			starts |= eq8(x&0x7f7f7f7f7f7f7f7f, '#') &^ x
		}
		starts &^= letter<<8 | prev
		prev = letter >> 56
		for ; starts != 0; starts &= starts - 1 {
			j := b + bits.TrailingZeros64(starts)>>3
			c := lower(text[j])
			if cw.first&(1<<(c&63)) == 0 {
				continue
			}
			for _, w := range cw.byFirst[c&31] {
				if w[0] == c && j+len(w) <= i && hasFoldPrefixAt(text, j, w) {
					return true
				}
			}
		}
	}
	return false
}

// letters8 marks with its top bit each of the eight bytes of x that is an
// ASCII letter. nonAlnum8 keeps its own copy of the letter test: built on
// this one, the scan loop's block arithmetic grew by two operations and
// the dense corpus scan by 3–4%.
func letters8(x uint64) uint64 {
	const ones, lows = 0x0101010101010101, 0x7f7f7f7f7f7f7f7f
	folded := x&lows | 0x20*ones
	return (folded + (0x80-'a')*ones) &^ (folded + (0x7f-'z')*ones) &^ x & highs8
}
