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
)

// Classes lists every class in a stable order.
func Classes() []Class {
	return []Class{Email, Phone, USSSN, CreditCard, IBAN, IPAddress, DateOfBirth, MedicalRecordNumber, HealthPlanID, USPassport, DriverLicense, Secret}
}

// Finding is one match: its class, byte span [Start, End) in the scanned
// text, and a confidence in (0, 1].
type Finding struct {
	Class      Class   `json:"class"`
	Start      int     `json:"start"`
	End        int     `json:"end"`
	Confidence float64 `json:"confidence"`
}

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
	case Email:
		return 7
	case USSSN:
		return 6
	case MedicalRecordNumber, HealthPlanID, USPassport, DriverLicense:
		return 5
	case DateOfBirth:
		return 4
	case IPAddress:
		return 3
	case Phone:
		return 2
	}
	return 1
}

// Scan returns the findings in text, ordered by start, without overlaps.
func (s Scanner) Scan(text []byte) []Finding {
	min := s.MinConfidence
	if min == 0 {
		min = 0.5
	}
	var out []Finding
	add := func(f Finding) {
		if f.Confidence >= min && f.End > f.Start {
			out = append(out, f)
		}
	}
	n := len(text)
	for i := 0; i < n; i++ {
		c := text[i]
		cls := charClass[c]
		if cls&classAlnum == 0 {
			// Spaces and most punctuation start nothing: one lookup.
			if cls&classStarter != 0 {
				matchPunct(text, i, add)
			}
			continue
		}
		// A word starts here: the loop reaches a letter or digit only
		// after a byte that is neither, because words are skipped whole.
		// Nothing starts inside a word but an email's '@', which ends it.
		j := i + 1
		// Eight bytes at a time while the word goes on (most words end
		// within the first eight), then byte by byte.
		for j+8 <= n {
			if m := nonAlnum8(binary.LittleEndian.Uint64(text[j:])); m != 0 {
				j += bits.TrailingZeros64(m) >> 3
				break
			}
			j += 8
		}
		for j < n && charClass[text[j]]&classAlnum != 0 {
			j++
		}
		if cls&classDigit != 0 {
			matchNumeric(text, i, add)
			i = j - 1
			continue
		}
		// Dismiss the word unless its first letters can start a finding
		// (wordMayMatch, written out here: in the .wasm a call per word
		// costs more than the test).
		if i+1 < n {
			d := text[i+1]
			dcls := charClass[d]
			may := cls&classUpper != 0 && dcls&classUpper != 0 || // IBAN (DE89…), AKIA…, MRN, SSN
				c == 'A' || c == 'g' && (d == 'h' || d == 'l') || c == 'x' && d == 'o' || c == 'e' && d == 'y' // secret prefixes
			if !may && dcls&(classUpper|classLower) != 0 {
				third := 26
				if i+2 < n {
					if e := text[i+2] | 0x20; e >= 'a' && e <= 'z' && charClass[text[i+2]]&(classUpper|classLower) != 0 {
						third = int(e - 'a')
					}
				}
				k := (int((c|0x20)-'a')*26+int((d|0x20)-'a'))*27 + third
				may = keywordStarts3[k/64]&(1<<(k%64)) != 0
			}
			if !may && cls&classHex != 0 && j-i <= 4 && j < n && text[j] == ':' {
				may = hexThenColon(text, i)
			}
			if may {
				matchWord(text, i, add)
			}
		}
		i = j - 1
	}
	return resolve(out)
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

// matchPunct tries the classes that start with punctuation.
func matchPunct(text []byte, i int, emit func(Finding)) {
	n := len(text)
	switch text[i] {
	case '@':
		if f, ok := matchEmail(text, i); ok {
			emit(f)
		}
	case '+', '(':
		if i+1 < n && isDigit(text[i+1]) && (i == 0 || !isAlnum(text[i-1])) {
			if f, ok := matchPhone(text, i); ok {
				emit(f)
			}
		}
	case '-':
		if (i == 0 || !isAlnum(text[i-1])) && hasPrefixAt(text, i, "-----BEGIN ") {
			if f, ok := matchPEM(text, i); ok {
				emit(f)
			}
		}
	case ':':
		if i+1 < n && text[i+1] == ':' && (i == 0 || text[i-1] != ':' && !isAlnum(text[i-1])) {
			if f, ok := matchIPv6(text, i); ok {
				emit(f)
			}
		}
	}
}

// matchWord tries the classes that start with a letter, filtered by the
// letter so most words cost one switch.
func matchWord(text []byte, i int, emit func(Finding)) {
	try := func(f Finding, ok bool) {
		if ok {
			emit(f)
		}
	}
	c := text[i]
	if isUpper(c) {
		try(matchIBAN(text, i))
	}
	switch c {
	case 'A', 'g', 'x', 'e':
		try(matchSecretPrefix(text, i))
	}
	if keywordAt(text, i) {
		try(matchContextID(text, i))
		try(matchAssignment(text, i))
	}
	if isHex(c) && hexThenColon(text, i) {
		try(matchIPv6(text, i))
	}
}

// wordMayMatch is the inline-cheap test that dismisses almost every word
// of ordinary prose before any matcher runs: only a few first-letter
// shapes can start a finding.
func wordMayMatch(text []byte, i int) bool {
	if i+1 >= len(text) {
		return false
	}
	c, d := text[i], text[i+1]
	switch {
	case isUpper(c) && isUpper(d): // IBAN (DE89…), AKIA…, MRN, SSN
		return true
	case c == 'A', c == 'g' && (d == 'h' || d == 'l'), c == 'x' && d == 'o', c == 'e' && d == 'y':
		return true // secret prefixes
	case isAlpha(d) && keywordAt(text, i):
		return true
	case isHex(c) && hexThenColon(text, i):
		return true
	}
	return false
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
		third := 26
		if len(w) > 2 && isLower(w[2]) {
			third = int(w[2] - 'a')
		}
		k := (int(w[0]-'a')*26+int(w[1]-'a'))*27 + third
		t[k/64] |= 1 << (k % 64)
	}
	forEachKeyword(mark)
	return t
}()

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

// resolve keeps, among overlapping findings, the one of highest priority
// (then the longest, then the earliest). Findings are grouped into runs
// of transitively overlapping spans first, so the choice is quadratic only
// within a run (a handful), not over the whole text.
func resolve(fs []Finding) []Finding {
	if len(fs) < 2 {
		return fs
	}
	slices.SortFunc(fs, func(a, b Finding) int { return a.Start - b.Start })
	out := fs[:0:0]
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
	c := slices.Clone(run)
	slices.SortStableFunc(c, func(a, b Finding) int {
		if pa, pb := priority(a.Class), priority(b.Class); pa != pb {
			return pb - pa
		}
		if la, lb := a.End-a.Start, b.End-b.Start; la != lb {
			return lb - la
		}
		return a.Start - b.Start
	})
	var kept []Finding
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
		case '@', '+', '(', '-', ':':
			t[c] |= classStarter
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

// contextBefore reports whether any of words occurs (case-insensitively,
// at a word start) within window bytes before i.
func contextBefore(text []byte, i, window int, words ...string) bool {
	// First letters of the words as a bit set: most positions of the
	// window start none of them and cost one test.
	var first uint64
	for _, w := range words {
		first |= 1 << (w[0] & 63)
	}
	start := max(i-window, 0)
	for j := start; j < i; j++ {
		c := lower(text[j])
		if first&(1<<(c&63)) == 0 || j > 0 && isAlpha(text[j-1]) {
			continue
		}
		for _, w := range words {
			if w[0] == c && j+len(w) <= i && hasFoldPrefixAt(text, j, w) {
				return true
			}
		}
	}
	return false
}
