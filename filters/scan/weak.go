package scan

// --- the weak tier -------------------------------------------------------
//
// Below the default floor are guesses: the bare, context-free forms of an
// id that are as often something else (nine digits as a passport number,
// a checksum-valid ten-digit number that is also a phone number). Only a
// scan with a lowered floor reports them, and in resolve a guess loses
// every overlap against a finding at or above the default floor, so they
// never displace one. Between guesses the likelier wins, and their
// confidences rank the narrower form above the wider.
//
// A weak form is tried only when the floor is lowered (out.min below the
// default), costs no context lookback of its own, and reuses the shape
// the caller has read: matchNumeric's run on every bare number.
const (
	weakChecked = 0.4  // a check passes, but the form is as often another number's
	weakExact   = 0.35 // the id's exact written form, which has no check
	weakPartial = 0.3  // a form near the id's, a range of lengths, or a failed check
	weakWide    = 0.25 // any number in a wide range of lengths
)

// matchPassportGuess: a US passport number is nine digits (older books)
// or a capital and eight digits (since 2021), and nothing checks either.
func matchPassportGuess(text []byte, i int) (Finding, bool) {
	if len(text)-i < 9 || !isDigit(text[i]) && !isUpper(text[i]) || !bareRun(text, i+1, 8) {
		return Finding{}, false
	}
	return Finding{Class: USPassport, Start: i, End: i + 9, Confidence: weakExact}, true
}

// matchLicenseGuess: most US states number driving licences with a
// capital and seven to twelve digits, or nine to thirteen digits; the
// ranges are wider than a passport's, so the guess is weaker.
func matchLicenseGuess(text []byte, i int) (Finding, bool) {
	j := i
	if j < len(text) && isUpper(text[j]) {
		j++
	}
	k := j
	for k < len(text) && isDigit(text[k]) && k-j <= 13 {
		k++
	}
	n := k - j
	if j > i && (n < 7 || n > 12) || j == i && (n < 9 || n > 13) || !endsClean(text, k) {
		return Finding{}, false
	}
	return Finding{Class: DriverLicense, Start: i, End: k, Confidence: weakPartial}, true
}
