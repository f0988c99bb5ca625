package scan

// --- national, tax, bank and medical identifiers ------------------------
//
// Each class has a validator, a pure function over the identifier's
// normalized characters (separators removed) that allocates nothing, and
// a matcher that reads the written forms at a word start. A matcher never
// relies on matchNumeric's or matchIDWord's shape tests, which only skip
// it when it cannot match: the reference scanner calls every matcher.
//
// The context an id needs is a phrase right before it (past separators
// and filler words: "NHS number is 943 476 5919"), not anywhere in a
// window: most of these ids are short checksums over common number
// shapes, so a phrase a sentence away says little, and the adjacent test
// costs a few compares where a window costs a walk over its words. It
// runs after the checksum, which most look-alikes fail.

// Confidence of an id named by its phrase.
const idContextConfidence = 0.95

// idDigits is a number read as groups of digits split by one kind of
// separator, the shape of most printed ids.
type idDigits struct {
	d    [24]byte
	nd   int
	lens [8]byte // the groups' lengths as '0'+n, so a shape is a string
	ng   int
	end  int
}

// shape says whether the groups have the lengths written in s ("333").
func (g *idDigits) shape(s string) bool {
	return g.ng == len(s) && string(g.lens[:g.ng]) == s
}

// readIDDigits reads digits from i, with sep (0: none) allowed singly
// between groups. More than 24 digits or 8 groups is no id.
func readIDDigits(text []byte, i int, sep byte) (g idDigits, ok bool) {
	j, cur := i, 0
	for j < len(text) {
		c := text[j]
		if isDigit(c) {
			if g.nd == len(g.d) {
				return g, false
			}
			g.d[g.nd] = c
			g.nd++
			cur++
			j++
			continue
		}
		if sep != 0 && c == sep && cur > 0 && j+1 < len(text) && isDigit(text[j+1]) {
			if g.ng == len(g.lens)-1 || cur > 9 {
				return g, false
			}
			g.lens[g.ng] = byte('0' + cur)
			g.ng++
			cur = 0
			j++
			continue
		}
		break
	}
	if cur == 0 || cur > 9 && g.ng > 0 {
		return g, false
	}
	if cur <= 9 {
		g.lens[g.ng] = byte('0' + cur)
	} else {
		g.lens[g.ng] = 'x' // one long bare run: its length is nd
	}
	g.ng++
	g.end = j
	return g, true
}

// bareRun reads the run of n digits at i, and says whether it is exactly
// that: no more digits, no separator and further digits after it.
func bareRun(text []byte, i, n int) bool {
	if len(text)-i < n {
		return false
	}
	for j := i; j < i+n; j++ {
		if !isDigit(text[j]) {
			return false
		}
	}
	return endsClean(text, i+n)
}

// looseStart says whether a number at i continues something before it —
// a country code ("+34 612 345 678") or another group of digits ("12 345
// 678 901") — so that it is no id on its shape alone.
func looseStart(text []byte, i int) bool {
	if i == 0 {
		return false
	}
	c := text[i-1]
	if c == '+' || c == '(' || c == ')' {
		return true
	}
	return c == ' ' && i >= 2 && (isDigit(text[i-2]) || text[i-2] == ')')
}

// idFillers are the words between an id's phrase and the id: "number",
// "ist", "n°", "lautet".
var idFillers = newIDPhrases("is", "ist", "est", "es", "no", "nr", "nº", "n°", "num", "number", "nummer", "numero", "numéro", "número", "id", "identifier", "lautet", "was", "of")

// fillersByLast groups idFillers by their last bytes' low six bits, so
// the word before a number is compared with two or three of them, not
// all. Computed once and only read.
var fillersByLast = func() (t [64][]string) {
	for _, w := range idFillers.words {
		t[w[len(w)-1]&63] = append(t[w[len(w)-1]&63], w)
	}
	return t
}()

// idPhrases are the phrases of an id (or the fillers), with their last
// two bytes as a 256-bit set (see tail2): the word before a number rarely
// ends like any of them, and then no phrase is compared.
type idPhrases struct {
	tails [4]uint64
	words []string
}

// tail2 numbers the last two bytes of a word, lower case, for
// idPhrases.tails.
func tail2(last, before byte) uint {
	return (uint(last)*31 + uint(before)) & 255
}

func newIDPhrases(words ...string) idPhrases {
	ps := idPhrases{words: words}
	for _, w := range words {
		t := tail2(w[len(w)-1], w[len(w)-2])
		ps.tails[t/64] |= 1 << (t % 64)
	}
	return ps
}

func (ps *idPhrases) mayEnd(t uint) bool { return ps.tails[t/64]&(1<<(t%64)) != 0 }

// isIDSep is what may stand between a phrase, its fillers and the id.
func isIDSep(c byte) bool {
	switch c {
	case ' ', '\t', '\n', '\r', ':', '#', '=', '.', '-', '(', ')', '"', '\'', ',':
		return true
	}
	return false
}

// endsWithWord says whether the text before j ends with w (lower case),
// ASCII case folded, starting at a word boundary.
func endsWithWord(text []byte, j int, w string) bool {
	s := j - len(w)
	if s < 0 || lower(text[j-1]) != w[len(w)-1] {
		return false
	}
	if s > 0 && isAlnum(text[s-1]) {
		return false
	}
	return hasFoldPrefixAt(text, s, w)
}

// phraseBefore says whether one of phrases (lower case) ends right
// before the id at i: past separators and up to three filler words, and
// no more than 48 bytes back.
func phraseBefore(text []byte, i int, ps *idPhrases) bool {
	j := i
	lo := max(i-48, 0)
	for k := 0; ; k++ {
		for j > lo && isIDSep(text[j-1]) {
			j--
		}
		if j == lo {
			return false
		}
		// The last two bytes are compared before a whole phrase is:
		// every phrase and filler has two.
		c := lower(text[j-1])
		var c2 byte
		if j >= 2 {
			c2 = lower(text[j-2])
		}
		t := tail2(c, c2)
		if ps.mayEnd(t) {
			for _, p := range ps.words {
				if p[len(p)-1] == c && p[len(p)-2] == c2 && endsWithWord(text, j, p) {
					return true
				}
			}
		}
		if k == 3 || !idFillers.mayEnd(t) {
			return false
		}
		f := 0
		for _, w := range fillersByLast[c&63] {
			if w[len(w)-1] == c && w[len(w)-2] == c2 && endsWithWord(text, j, w) {
				f = len(w)
				break
			}
		}
		if f == 0 {
			return false
		}
		j -= f
	}
}

// The phrases naming each id, lower case. Read-only.
var (
	npiPhrases      = newIDPhrases("npi", "national provider", "national provider identifier")
	deaPhrases      = newIDPhrases("dea", "dea registration", "drug enforcement administration")
	itinPhrases     = newIDPhrases("itin", "taxpayer identification")
	bankPhrases     = newIDPhrases("account number", "account no", "account nr", "acct", "bank account", "checking account", "savings account", "a/c", "kontonummer", "rekeningnummer")
	abaPhrases      = newIDPhrases("routing", "aba", "rtn", "transit", "routing transit")
	ninoPhrases     = newIDPhrases("nino", "national insurance", "ni number", "ni no")
	nhsPhrases      = newIDPhrases("nhs", "national health service")
	nirPhrases      = newIDPhrases("nir", "insee", "sécurité sociale", "securite sociale", "social security", "sécu", "secu")
	deTaxPhrases    = newIDPhrases("steuer-id", "steuerid", "steuer-idnr", "idnr", "steueridentifikationsnummer", "identifikationsnummer", "tax id", "tax identification")
	kvnrPhrases     = newIDPhrases("kvnr", "krankenversichertennummer", "versichertennummer", "krankenversicherungsnummer", "versicherten-nr", "versichertennr", "health insurance")
	nifPhrases      = newIDPhrases("dni", "nif", "d.n.i", "n.i.f", "documento nacional de identidad", "documento de identidad")
	niePhrases      = newIDPhrases("nie", "n.i.e", "identidad de extranjero", "extranjero")
	bsnPhrases      = newIDPhrases("bsn", "burgerservicenummer", "sofinummer", "sofi-nummer", "sofi", "citizen service")
	fiscalPhrases   = newIDPhrases("codice fiscale", "cod. fiscale", "cod fiscale", "c.f", "cf", "fiscal code", "tax code")
	sinPhrases      = newIDPhrases("sin", "social insurance", "assurance sociale", "nas")
	tfnPhrases      = newIDPhrases("tfn", "tax file")
	medicarePhrases = newIDPhrases("medicare", "medicare card")
	// Phone words of the countries that write numbers 3-3-3.
	phonePhrases = newIDPhrases("llámame al", "llamar al", "teléfono", "telefono", "móvil", "movil", "tfno", "tlf", "telefon", "telefonu", "tel", "phone", "mobile", "cell", "komórka")
)

// idFinding reports class over [i, end) at conf, or at the context
// confidence when one of phrases names it; conf 0 is a form reported only
// with its phrase.
func idFinding(text []byte, class Class, i, end int, conf float64, phrases *idPhrases) (Finding, bool) {
	if conf < idContextConfidence && phraseBefore(text, i, phrases) {
		conf = idContextConfidence
	}
	return Finding{Class: class, Start: i, End: end, Confidence: conf}, conf > 0
}

// matchIDNumber tries the identifiers that start with a digit, each only
// when the number's shape is one of its written forms; the number has
// eight digits at least. An account number goes first: of candidates of
// one priority over one span the first wins, and its phrase names the
// number where a bare checksum only fits it.
// weak says the floor is lowered to report the weak tier's forms.
func matchIDNumber(text []byte, i int, sh numericShape, weak bool, out *findings) {
	switch sh.first {
	case 1:
		// 1 84 12 76 451 089 46
		if sh.sep == ' ' && len(text)-i >= 21 && text[i+4] == ' ' && text[i+7] == ' ' {
			out.add(matchNIR(text, i))
		}
	case 2:
		// 12 345 678 911, not the country code of a phone number
		if sh.sep == ' ' && len(text)-i >= 14 && text[i+6] == ' ' && text[i+10] == ' ' {
			out.add(matchDETaxID(text, i))
		}
	case 3:
		// 3-2-4 (ITIN), 3-3-4 (NHS, and most phone numbers) or 3-3-3,
		// told apart by where the next separators are.
		if sh.sep != ' ' && sh.sep != '-' {
			return
		}
		if len(text)-i < 11 {
			if weak && text[i] == '9' && sh.sep == '-' {
				out.add(matchITIN(text, i)) // 3-6
			}
			return
		}
		switch {
		case text[i+7] != sh.sep:
			if text[i] == '9' && (text[i+6] == sh.sep || weak && sh.sep == '-') {
				out.add(matchITIN(text, i))
			}
		case len(text)-i > 11 && isDigit(text[i+11]):
			out.add(matchNHS(text, i))
		default:
			out.add(matchSIN(text, i))
			out.add(matchTFN(text, i))
			out.add(matchBSN(text, i))
		}
	case 4:
		// 4-4-1 (ABA), 4.2.3 (BSN), 4-5-1 (Medicare): the second
		// separator's place sets them apart from dates, cards and IBANs.
		switch {
		case len(text)-i < 11:
		case sh.sep == '-' && text[i+9] == '-' && (len(text)-i == 11 || !isDigit(text[i+11])):
			out.add(matchABA(text, i))
		case sh.sep == '.' && text[i+7] == '.':
			out.add(matchBSN(text, i))
		case sh.sep == ' ' && text[i+10] == ' ':
			out.add(matchAUMedicare(text, i))
		}
	case 5:
		if weak && text[i] == '9' && sh.sep == '-' {
			out.add(matchITIN(text, i)) // 5-4
		}
	case 6:
		if sh.sep == 'A' || sh.sep == 'B' {
			out.add(matchNIR(text, i)) // Corsica's 2A and 2B
		}
	case 13:
		out.add(matchBankNumber(text, i))
		out.add(matchNIR(text, i)) // the key written apart
		if weak {
			out.add(matchLicenseGuess(text, i))
		}
	case 8:
		out.add(matchBankNumber(text, i))
		out.add(matchNIF(text, i))
	// A bare run: its checks are made here first, as most runs fail them
	// all and a matcher call per class would cost more than the checks.
	case 9:
		out.add(matchBankNumber(text, i))
		d := text[i : i+9]
		if text[i] == '9' && validITIN(d) {
			out.add(matchITIN(text, i))
		}
		if validABA(d) {
			out.add(matchABA(text, i))
		}
		if validBSN(d) {
			out.add(matchBSN(text, i))
		}
		if validSIN(d) {
			out.add(matchSIN(text, i))
		}
		if validTFN(d) {
			out.add(matchTFN(text, i))
		}
		if weak {
			out.add(matchPassportGuess(text, i))
			out.add(matchLicenseGuess(text, i))
		}
	case 10:
		out.add(matchBankNumber(text, i))
		d := text[i : i+10]
		if validNPI(d) {
			out.add(matchNPI(text, i))
		}
		if validNHS(d) {
			out.add(matchNHS(text, i))
		}
		if validAUMedicare(d) {
			out.add(matchAUMedicare(text, i))
		}
		if weak {
			out.add(matchLicenseGuess(text, i))
		}
	case 11:
		out.add(matchBankNumber(text, i))
		if validDETaxID(text[i : i+11]) {
			out.add(matchDETaxID(text, i))
		}
		if weak {
			out.add(matchLicenseGuess(text, i))
		}
	case 15:
		out.add(matchBankNumber(text, i))
		if validNIR(text[i : i+15]) {
			out.add(matchNIR(text, i))
		}
	case 12:
		out.add(matchBankNumber(text, i))
		if weak {
			out.add(matchLicenseGuess(text, i))
		}
	case 14, 16, 17:
		out.add(matchBankNumber(text, i))
	}
}

// matchIDWord tries the identifiers that start with a capital letter,
// and the NIE in lower case.
func matchIDWord(text []byte, i int, out *findings) {
	if len(text)-i < 8 {
		return
	}
	c, d := text[i], text[i+1]
	if c == 'x' {
		out.add(matchNIE(text, i))
		return
	}
	if !isUpper(c) {
		return
	}
	if isDigit(d) && out.min < defaultMinConfidence {
		out.add(matchPassportGuess(text, i))
		out.add(matchLicenseGuess(text, i))
	}
	if len(text)-i < 9 {
		return
	}
	e := text[i+2]
	switch {
	case isDigit(d):
		out.add(matchKVNR(text, i))
		if c >= 'X' {
			out.add(matchNIE(text, i))
		}
		if d == '9' {
			out.add(matchDEA(text, i))
		}
	case !isUpper(d):
	case isDigit(e):
		// Seven digits (DEA) or six and a letter (NINO).
		if isDigit(text[i+8]) {
			out.add(matchDEA(text, i))
		} else {
			out.add(matchNINO(text, i))
		}
	case e == ' ':
		out.add(matchNINO(text, i))
	case isUpper(e):
		// A word of sixteen characters ending with a capital.
		if len(text)-i >= 16 && isUpper(text[i+15]) && (len(text)-i == 16 || !isAlnum(text[i+16])) {
			out.add(matchFiscalCode(text, i))
		}
	}
}

// --- US_NPI --------------------------------------------------------------

// validNPI: ten digits, Luhn over the card-issuer prefix 80840 and them.
func validNPI(d []byte) bool {
	if len(d) != 10 {
		return false
	}
	var all [15]byte
	copy(all[:], "80840")
	copy(all[5:], d)
	return allDigits(d) && luhn(all[:])
}

func allDigits(d []byte) bool {
	for _, c := range d {
		if !isDigit(c) {
			return false
		}
	}
	return len(d) > 0
}

// matchNPI: one ten-digit number in ten passes the check, and unix
// timestamps and order numbers are ten digits too, so alone an NPI is
// reported below the default floor — and not at all when it could be a
// North American phone number (area code and exchange from 2), which it
// would displace in a scan with a lower floor.
func matchNPI(text []byte, i int) (Finding, bool) {
	if !bareRun(text, i, 10) || !validNPI(text[i:i+10]) {
		return Finding{}, false
	}
	conf := 0.4
	if text[i] >= '2' && text[i+3] >= '2' || looseStart(text, i) {
		conf = 0
	}
	return idFinding(text, USNPI, i, i+10, conf, &npiPhrases)
}

// --- MEDICAL_LICENSE (DEA registration number) ---------------------------

// validDEA: a registrant-type letter, a letter or 9, seven digits the
// last of which checks the others.
func validDEA(s []byte) bool {
	if len(s) != 9 || !containsByte("ABCDEFGHJKLMPRSTUX", s[0]) || !isUpper(s[1]) && s[1] != '9' || !allDigits(s[2:]) {
		return false
	}
	v := func(k int) int { return int(s[2+k] - '0') }
	return (v(0)+v(2)+v(4)+2*(v(1)+v(3)+v(5)))%10 == v(6)
}

// matchDEA: a registrant letter, a letter or 9 and seven digits whose
// check digit passes is a DEA number, as Presidio scores it, unless the
// words before it name another kind of code: a part or order number has
// the same shape, and the check digit passes one in ten of those.
func matchDEA(text []byte, i int) (Finding, bool) {
	if len(text)-i < 9 || !validDEA(text[i:i+9]) || !endsClean(text, i+9) {
		return Finding{}, false
	}
	conf := 0.6
	if phraseBefore(text, i, &deaDecoys) {
		conf = 0.4
	}
	return idFinding(text, MedicalLicense, i, i+9, conf, &deaPhrases)
}

// deaDecoys name the codes that share a DEA number's shape.
var deaDecoys = newIDPhrases("part", "order", "lot", "batch", "item", "sku", "ref", "reference", "invoice", "serial", "model", "policy", "ticket", "tracking", "claim", "product", "catalog", "catalogue", "article", "artikel", "référence", "commande", "pedido", "bestelling", "ordine")

// --- US_ITIN -------------------------------------------------------------

// validITIN: nine digits starting 9, the middle group one the IRS
// issues (50–65, 70–88, 90–92, 94–99).
func validITIN(d []byte) bool {
	if len(d) != 9 || d[0] != '9' || !allDigits(d) {
		return false
	}
	g := int(d[3]-'0')*10 + int(d[4]-'0')
	return g >= 50 && g <= 65 || g >= 70 && g <= 88 || g >= 90 && g <= 92 || g >= 94 && g <= 99
}

// matchITIN reads 3-2-4 (dashes or spaces), and as weak guesses nine
// bare digits and the half-grouped 3-6 and 5-4.
func matchITIN(text []byte, i int) (Finding, bool) {
	if len(text)-i >= 10 && (text[i+3] == '-' && isDigit(text[i+6]) || text[i+5] == '-' && isDigit(text[i+3])) {
		h := 3
		if text[i+3] != '-' {
			h = 5
		}
		var d [9]byte
		copy(d[:], text[i:i+h])
		copy(d[h:], text[i+h+1:i+10])
		if !validITIN(d[:]) || !endsClean(text, i+10) {
			return Finding{}, false
		}
		return Finding{Class: USITIN, Start: i, End: i + 10, Confidence: weakPartial}, true
	}
	if len(text)-i >= 11 && (text[i+3] == '-' || text[i+3] == ' ') {
		g, ok := readIDDigits(text, i, text[i+3])
		if !ok || !g.shape("324") || !validITIN(g.d[:9]) || !endsClean(text, g.end) {
			return Finding{}, false
		}
		conf := 0.85
		if text[i+3] == ' ' {
			conf = 0.65
		}
		return idFinding(text, USITIN, i, g.end, conf, &itinPhrases)
	}
	if !bareRun(text, i, 9) || !validITIN(text[i:i+9]) {
		return Finding{}, false
	}
	return idFinding(text, USITIN, i, i+9, weakExact, &itinPhrases)
}

// --- US_BANK_NUMBER ------------------------------------------------------

// matchBankNumber: an account number has no check and any length from 8
// to 17 digits, so only its phrase makes one; without it the number is
// the widest of the weak guesses.
func matchBankNumber(text []byte, i int) (Finding, bool) {
	j := i
	for j < len(text) && isDigit(text[j]) && j-i <= 17 {
		j++
	}
	if n := j - i; n < 8 || n > 17 || !endsClean(text, j) {
		return Finding{}, false
	}
	conf := weakWide
	if phraseBefore(text, i, &bankPhrases) {
		conf = 0.85
	}
	return Finding{Class: USBankNumber, Start: i, End: j, Confidence: conf}, true
}

// --- ABA_ROUTING_NUMBER --------------------------------------------------

func validABA(d []byte) bool {
	if len(d) != 9 || !allDigits(d) {
		return false
	}
	p := int(d[0]-'0')*10 + int(d[1]-'0')
	if !(p <= 12 || p >= 21 && p <= 32 || p >= 61 && p <= 72 || p == 80) {
		return false
	}
	v := func(k int) int { return int(d[k] - '0') }
	return (3*(v(0)+v(3)+v(6))+7*(v(1)+v(4)+v(7))+v(2)+v(5)+v(8))%10 == 0
}

// matchABA: nine bare digits pass the check one time in ten; the 4-4-1
// form is how routing numbers alone are printed.
func matchABA(text []byte, i int) (Finding, bool) {
	if len(text)-i > 4 && text[i+4] == '-' {
		g, ok := readIDDigits(text, i, '-')
		if !ok || !g.shape("441") || !validABA(g.d[:9]) || !endsClean(text, g.end) {
			return Finding{}, false
		}
		return idFinding(text, ABARoutingNumber, i, g.end, 0.7, &abaPhrases)
	}
	if !bareRun(text, i, 9) || !validABA(text[i:i+9]) {
		return Finding{}, false
	}
	conf := 0.4
	if looseStart(text, i) {
		conf = 0 // inside an international phone number
	}
	return idFinding(text, ABARoutingNumber, i, i+9, conf, &abaPhrases)
}

// --- UK_NINO -------------------------------------------------------------

// validNINO: "AB123456C" — prefix letters that are allocated, six digits,
// a suffix A–D.
func validNINO(s []byte) bool {
	if len(s) != 9 || !isUpper(s[0]) || !isUpper(s[1]) || !allDigits(s[2:8]) || s[8] < 'A' || s[8] > 'D' {
		return false
	}
	if containsByte("DFIQUV", s[0]) || containsByte("DFIQUVO", s[1]) {
		return false
	}
	switch string(s[:2]) {
	case "BG", "GB", "KN", "NK", "NT", "TN", "ZZ":
		return false
	}
	return true
}

// matchNINO reads "AB123456C", "AB 12 34 56 C", "AB 123456 C" or "AB
// 123456C". The number has no check, so alone it is reported below the
// phrase's confidence, grouped higher than compact. Only capitals are
// read: a lower-case pair of letters starts one prose word in three, and
// the scan loop lets few of them reach a matcher.
func matchNINO(text []byte, i int) (Finding, bool) {
	var s [9]byte
	j, n, spaces := i, 0, 0
	for j < len(text) && n < 9 {
		c := text[j]
		if c == ' ' && (n == 2 || n == 4 || n == 6 || n == 8) && j > i && text[j-1] != ' ' {
			spaces++
			j++
			continue
		}
		if !isAlnum(c) {
			break
		}
		s[n] = c
		n++
		j++
	}
	if n != 9 || !validNINO(s[:]) || j < len(text) && isAlnum(text[j]) {
		return Finding{}, false
	}
	// All pairs spaced, the digits together, or none.
	conf := 0.6
	switch {
	case spaces == 4 || spaces == 2 && text[i+2] == ' ' && text[i+9] == ' ':
		conf = 0.8
	case spaces == 1 && text[i+2] == ' ':
	case spaces != 0:
		return Finding{}, false
	}
	return idFinding(text, UKNINO, i, j, conf, &ninoPhrases)
}

// --- UK_NHS --------------------------------------------------------------

func validNHS(d []byte) bool {
	if len(d) != 10 || !allDigits(d) {
		return false
	}
	sum := 0
	for k := 0; k < 9; k++ {
		sum += int(d[k]-'0') * (10 - k)
	}
	c := 11 - sum%11
	if c == 11 {
		c = 0
	}
	return c != 10 && c == int(d[9]-'0')
}

// matchNHS reads 3-3-4 (spaces or dashes) or ten bare digits. Bare, or
// grouped the way a North American phone number is (area code and
// exchange from 2), one in eleven phone numbers passes the check: those
// forms are weak guesses without the phrase. A 3-3-4 number no phone can
// be is reported alone, unless a phone word or a country code comes
// before it.
func matchNHS(text []byte, i int) (Finding, bool) {
	if len(text)-i > 3 && (text[i+3] == ' ' || text[i+3] == '-') {
		// Read in place: most 3-3-4 numbers are phone numbers, and this
		// runs for each of them.
		sep := text[i+3]
		if len(text)-i < 12 || text[i+7] != sep {
			return Finding{}, false
		}
		d := [10]byte{text[i], text[i+1], text[i+2], text[i+4], text[i+5], text[i+6], text[i+8], text[i+9], text[i+10], text[i+11]}
		if !validNHS(d[:]) || !endsClean(text, i+12) {
			return Finding{}, false
		}
		conf := 0.6
		if d[0] >= '2' && d[3] >= '2' || looseStart(text, i) || phoneContext.before(text, i) {
			conf = weakChecked
		}
		return idFinding(text, UKNHS, i, i+12, conf, &nhsPhrases)
	}
	if !bareRun(text, i, 10) || !validNHS(text[i:i+10]) {
		return Finding{}, false
	}
	return idFinding(text, UKNHS, i, i+10, weakChecked, &nhsPhrases)
}

// --- FR_NIR --------------------------------------------------------------

// validNIR: sex, year, month, department (2A/2B in Corsica), commune,
// order and a key of 97 minus the first thirteen digits mod 97.
func validNIR(s []byte) bool {
	if len(s) != 15 || !containsByte("123478", s[0]) || !allDigits(s[1:5]) || !allDigits(s[7:]) {
		return false
	}
	m := int(s[3]-'0')*10 + int(s[4]-'0')
	if !(m >= 1 && m <= 12 || m >= 20 && m <= 42 || m >= 50) {
		return false
	}
	var n uint64
	for k := 0; k < 13; k++ {
		c := s[k]
		switch {
		case k == 5 && (s[6] == 'A' || s[6] == 'B'):
			if c != '2' {
				return false
			}
			c = '1' // 2A counts as 19, 2B as 18
		case k == 6 && (c == 'A' || c == 'B'):
			c = '9' - (c - 'A')
		}
		if !isDigit(c) {
			return false
		}
		n = n*10 + uint64(c-'0')
	}
	if s[5] == '0' && s[6] == '0' {
		return false // no department 00
	}
	key := int(s[13]-'0')*10 + int(s[14]-'0')
	return key == 97-int(n%97)
}

// matchNIR reads "1 84 12 76 451 089 46", its compact form, or thirteen
// digits and the key apart. The key is a two-digit check, so the spaced
// form alone is reported high; compact, fifteen digits are often a card
// or an order number, lower.
func matchNIR(text []byte, i int) (Finding, bool) {
	var s [15]byte
	var lens [8]byte
	j, n, ng, cur := i, 0, 0, 0
	for j < len(text) && n < 15 {
		c := text[j]
		if c == ' ' && cur > 0 && j+1 < len(text) && isAlnum(text[j+1]) && ng < len(lens)-1 {
			lens[ng] = byte('0' + cur)
			ng, cur = ng+1, 0
			j++
			continue
		}
		if !isDigit(c) && !(n == 6 && (c == 'A' || c == 'B')) {
			break
		}
		s[n] = c
		n, cur = n+1, cur+1
		j++
	}
	// Group lengths as '0'+n: spaced "1222332", compact 15 ('?'), or
	// thirteen digits and the key ("=2").
	lens[ng] = byte('0' + cur)
	ng++
	if shape := string(lens[:ng]); n != 15 || shape != "1222332" && shape != "?" && shape != "=2" || !endsClean(text, j) {
		return Finding{}, false
	}
	if !validNIR(s[:]) {
		return Finding{}, false
	}
	conf := 0.9
	if ng != 7 {
		conf = 0.65
	}
	return idFinding(text, FRNIR, i, j, conf, &nirPhrases)
}

// --- DE_TAX_ID (Steuerliche Identifikationsnummer) -----------------------

// validDETaxID: eleven digits, the first not 0; among the first ten one
// digit appears twice or three times (never three in a row) and the rest
// at most once; the last is the ISO 7064 MOD 11,10 check digit.
func validDETaxID(d []byte) bool {
	if len(d) != 11 || d[0] == '0' || !allDigits(d) {
		return false
	}
	var count [10]uint8
	for _, c := range d[:10] {
		count[c-'0']++
	}
	repeated := 0
	for v, n := range count {
		switch {
		case n == 2:
			repeated++
		case n == 3:
			repeated++
			for k := 0; k+2 < 10; k++ {
				if d[k] == byte('0'+v) && d[k+1] == d[k] && d[k+2] == d[k] {
					return false
				}
			}
		case n > 3:
			return false
		}
	}
	if repeated != 1 {
		return false
	}
	product := 10
	for _, c := range d[:10] {
		sum := (int(c-'0') + product) % 10
		if sum == 0 {
			sum = 10
		}
		product = sum * 2 % 11
	}
	check := 11 - product
	if check == 10 {
		check = 0
	}
	return check == int(d[10]-'0')
}

// matchDETaxID reads "12 345 678 901" or eleven bare digits. Bare, eleven
// digits are as often an order or customer number: the phrase is needed.
func matchDETaxID(text []byte, i int) (Finding, bool) {
	if len(text)-i > 2 && text[i+2] == ' ' {
		g, ok := readIDDigits(text, i, ' ')
		if !ok || !g.shape("2333") || !validDETaxID(g.d[:11]) || !endsClean(text, g.end) {
			return Finding{}, false
		}
		conf := 0.6
		if looseStart(text, i) {
			conf = 0
		}
		return idFinding(text, DETaxID, i, g.end, conf, &deTaxPhrases)
	}
	if !bareRun(text, i, 11) || !validDETaxID(text[i:i+11]) {
		return Finding{}, false
	}
	conf := 0.4
	if looseStart(text, i) {
		conf = 0 // inside an international phone number
	}
	return idFinding(text, DETaxID, i, i+11, conf, &deTaxPhrases)
}

// --- DE_HEALTH_INSURANCE (Krankenversichertennummer) ---------------------

// validKVNR: a capital and nine digits; the letter's number (A=01) and
// the first eight digits, weighted 1, 2, 1, 2, … with the digits of each
// product summed, give the last digit mod 10.
func validKVNR(s []byte) bool {
	if len(s) != 10 || !isUpper(s[0]) || !allDigits(s[1:]) {
		return false
	}
	v := int(s[0]-'A') + 1
	var seq [10]int
	seq[0], seq[1] = v/10, v%10
	for k := 1; k <= 8; k++ {
		seq[k+1] = int(s[k] - '0')
	}
	sum := 0
	for k, n := range seq {
		if k%2 == 1 {
			n *= 2
		}
		sum += n/10 + n%10
	}
	return sum%10 == int(s[9]-'0')
}

// matchKVNR: a letter and nine digits is a common serial shape, and the
// check passes one in ten: alone it is below the default floor.
func matchKVNR(text []byte, i int) (Finding, bool) {
	if len(text)-i < 10 || !validKVNR(text[i:i+10]) || !endsClean(text, i+10) {
		return Finding{}, false
	}
	return idFinding(text, DEHealthInsurance, i, i+10, 0.4, &kvnrPhrases)
}

// --- ES_NIF (DNI) and ES_NIE ---------------------------------------------

const dniLetters = "TRWAGMYFPDXBNJZSQVHLCKE"

// validNIF: eight digits and the letter of their value mod 23.
func validNIF(s []byte) bool {
	if len(s) != 9 || !allDigits(s[:8]) {
		return false
	}
	n := 0
	for _, c := range s[:8] {
		n = n*10 + int(c-'0')
	}
	return s[8] == dniLetters[n%23]
}

// validNIE: X, Y or Z (0, 1, 2), seven digits and the letter of the
// eight-digit value mod 23.
func validNIE(s []byte) bool {
	if len(s) != 9 || s[0] < 'X' || s[0] > 'Z' || !allDigits(s[1:8]) {
		return false
	}
	n := int(s[0] - 'X')
	for _, c := range s[1:8] {
		n = n*10 + int(c-'0')
	}
	return s[8] == dniLetters[n%23]
}

// letterAfter reads the control letter after the digits ending at j,
// optionally after a '-' or a space, and returns it in upper case with
// the id's end; lower says it was written in lower case.
func letterAfter(text []byte, j int) (c byte, end int, spaced, lower bool) {
	if j < len(text) && (text[j] == '-' || text[j] == ' ') {
		spaced = text[j] == ' '
		j++
	}
	if j >= len(text) || !isAlpha(text[j]) || j+1 < len(text) && isAlnum(text[j+1]) {
		return 0, 0, false, false
	}
	return text[j] &^ 0x20, j + 1, spaced, isLower(text[j])
}

// matchNIF reads "12345678Z", "12345678-Z" or "12345678 Z", and the
// older seven-digit DNI ("1111111G", read as zero-padded): the letter
// checks the number one in 23, firm enough alone unless a space sets it
// apart like a word. A lower-case letter is how a word or a code ends as
// often: alone it is a weak guess.
func matchNIF(text []byte, i int) (Finding, bool) {
	var s [9]byte
	s[0] = '0'
	nd := 8
	if len(text)-i >= 8 && !isDigit(text[i+7]) {
		nd = 7
	}
	if len(text)-i < nd+1 || !allDigits(text[i:i+nd]) {
		return Finding{}, false
	}
	copy(s[8-nd:8], text[i:i+nd])
	c, end, spaced, low := letterAfter(text, i+nd)
	if end == 0 {
		return Finding{}, false
	}
	s[8] = c
	if !validNIF(s[:]) {
		return Finding{}, false
	}
	conf := 0.75
	switch {
	case low, spaced && nd == 7:
		conf = weakChecked
	case spaced:
		conf = 0.55
	case nd == 7:
		conf = 0.6 // seven digits and a letter are also a part number's shape
	}
	return idFinding(text, ESNIF, i, end, conf, &nifPhrases)
}

// matchNIE reads "X1234567L", "X1234567-L", and the lower-case
// "x1234567l" as a weak guess. Lower case starting y or z is not read:
// the .wasm build dismisses words starting with those letters before any
// matcher (noStart8), and both builds find the same.
func matchNIE(text []byte, i int) (Finding, bool) {
	if len(text)-i < 9 || !allDigits(text[i+1:i+8]) || text[i] != 'x' && (text[i] < 'X' || text[i] > 'Z') {
		return Finding{}, false
	}
	c, end, _, low := letterAfter(text, i+8)
	if end == 0 {
		return Finding{}, false
	}
	s := [9]byte{text[i] &^ 0x20, text[i+1], text[i+2], text[i+3], text[i+4], text[i+5], text[i+6], text[i+7], c}
	if !validNIE(s[:]) {
		return Finding{}, false
	}
	conf := 0.8
	if low || text[i] == 'x' {
		conf = weakChecked
	}
	return idFinding(text, ESNIE, i, end, conf, &niePhrases)
}

// --- NL_BSN --------------------------------------------------------------

// validBSN: the eleven-proof, 9·d1 + 8·d2 + … + 2·d8 − d9 ≡ 0 (mod 11),
// on a number other than zero.
func validBSN(d []byte) bool {
	if len(d) != 9 || !allDigits(d) {
		return false
	}
	sum, nonzero := 0, false
	for k, c := range d {
		w := 9 - k
		if k == 8 {
			w = -1
		}
		sum += w * int(c-'0')
		nonzero = nonzero || c != '0'
	}
	return nonzero && sum%11 == 0
}

// matchBSN reads "1234.56.782", 3-3-3 or nine bare digits. One nine-digit
// number in eleven passes the proof, and nine digits are what invoices,
// passports and phone numbers have: only the dotted form, which is
// particular to the BSN, is reported without the phrase.
func matchBSN(text []byte, i int) (Finding, bool) {
	var g idDigits
	var ok bool
	conf := 0.0
	switch {
	case len(text)-i > 4 && text[i+4] == '.':
		g, ok = readIDDigits(text, i, '.')
		ok = ok && g.shape("423")
		conf = 0.8
	case len(text)-i > 3 && (text[i+3] == ' ' || text[i+3] == '-'):
		g, ok = readIDDigits(text, i, text[i+3])
		ok = ok && g.shape("333")
	default:
		if !bareRun(text, i, 9) || !validBSN(text[i:i+9]) {
			return Finding{}, false
		}
		return idFinding(text, NLBSN, i, i+9, 0, &bsnPhrases)
	}
	if !ok || !validBSN(g.d[:9]) || !endsClean(text, g.end) {
		return Finding{}, false
	}
	return idFinding(text, NLBSN, i, g.end, conf, &bsnPhrases)
}

// --- IT_FISCAL_CODE (codice fiscale) -------------------------------------

// fiscalOdd is the value of a character in an odd position (the first,
// third, …) of a codice fiscale, by letter (a digit counts as the letter
// of its value: 0 as A).
var fiscalOdd = [26]uint8{1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 2, 4, 18, 20, 11, 3, 6, 8, 12, 14, 16, 10, 22, 25, 24, 23}

// omocodeDigit is the digit a character stands for in a digit position:
// itself, or one of the letters LMNPQRSTUV that replace digits when two
// people would share a code; -1 otherwise.
func omocodeDigit(c byte) int {
	if isDigit(c) {
		return int(c - '0')
	}
	for k := 0; k < 10; k++ {
		if "LMNPQRSTUV"[k] == c {
			return k
		}
	}
	return -1
}

// fiscalShape: three letters of the surname, three of the name, the
// year, a month letter, the day (+40 for women), the place and a check
// letter.
func fiscalShape(s []byte) bool {
	if len(s) != 16 {
		return false
	}
	for k := 0; k < 6; k++ {
		if !isUpper(s[k]) {
			return false
		}
	}
	for _, k := range [...]int{6, 7, 9, 10, 12, 13, 14} {
		if omocodeDigit(s[k]) < 0 {
			return false
		}
	}
	if !containsByte("ABCDEHLMPRST", s[8]) || !isUpper(s[11]) || !isUpper(s[15]) {
		return false
	}
	day := omocodeDigit(s[9])*10 + omocodeDigit(s[10])
	return day >= 1 && day <= 31 || day >= 41 && day <= 71
}

// fiscalCheck is the check letter of a well-shaped code's first fifteen
// characters.
func fiscalCheck(s []byte) byte {
	sum := 0
	for k, c := range s[:15] {
		v := int(c - 'A')
		if isDigit(c) {
			v = int(c - '0')
		}
		if k%2 == 0 {
			v = int(fiscalOdd[v])
		}
		sum += v
	}
	return byte('A' + sum%26)
}

func validFiscalCode(s []byte) bool {
	return fiscalShape(s) && s[15] == fiscalCheck(s)
}

// matchFiscalCode: a code whose check letter is wrong is still the
// shape only a codice fiscale has, most likely one mistyped: a weak
// guess, which its phrase does not raise.
func matchFiscalCode(text []byte, i int) (Finding, bool) {
	if len(text)-i < 16 || !fiscalShape(text[i:i+16]) || i+16 < len(text) && isAlnum(text[i+16]) {
		return Finding{}, false
	}
	if text[i+15] != fiscalCheck(text[i:i+16]) {
		return Finding{Class: ITFiscalCode, Start: i, End: i + 16, Confidence: weakPartial}, true
	}
	return idFinding(text, ITFiscalCode, i, i+16, 0.85, &fiscalPhrases)
}

// --- CA_SIN and AU_TFN ---------------------------------------------------

// validSIN: nine digits, Luhn, not starting 0 (unassigned) or 8 (business
// numbers).
func validSIN(d []byte) bool {
	return len(d) == 9 && allDigits(d) && d[0] != '0' && d[0] != '8' && luhn(d)
}

var tfnWeights = [9]int{1, 4, 3, 7, 5, 8, 6, 9, 10}

func validTFN(d []byte) bool {
	if len(d) != 9 || !allDigits(d) {
		return false
	}
	sum := 0
	for k, c := range d {
		sum += tfnWeights[k] * int(c-'0')
	}
	return sum%11 == 0
}

// matchNine reads a SIN or TFN: 3-3-3 (spaces or dashes) or nine bare
// digits. Bare, nine digits are too common for a one-in-ten check: only
// the phrase makes an id of them, and without it they are a weak guess. Grouped, they are reported alone unless
// they look like a phone number (a phone word or a country code before
// them: Spanish and Polish numbers are written 3-3-3), or the phrase of
// another nine-digit id names them.
func matchNine(text []byte, i int, class Class, phrases *idPhrases, others ...*idPhrases) (Finding, bool) {
	// A switch, not a function value: a slice passed to one escapes, and
	// the digits would be allocated.
	valid := func(d []byte) bool {
		if class == CASIN {
			return validSIN(d)
		}
		return validTFN(d)
	}
	if len(text)-i > 3 && (text[i+3] == ' ' || text[i+3] == '-') {
		g, ok := readIDDigits(text, i, text[i+3])
		if !ok || !g.shape("333") || !valid(g.d[:9]) || !endsClean(text, g.end) {
			return Finding{}, false
		}
		if phraseBefore(text, i, phrases) {
			return Finding{Class: class, Start: i, End: g.end, Confidence: idContextConfidence}, true
		}
		if looseStart(text, i) || phoneContext.before(text, i) || phraseBefore(text, i, &phonePhrases) {
			return Finding{}, false
		}
		for _, o := range others {
			if phraseBefore(text, i, o) {
				return Finding{}, false
			}
		}
		return Finding{Class: class, Start: i, End: g.end, Confidence: 0.6}, true
	}
	if !bareRun(text, i, 9) || !valid(text[i:i+9]) {
		return Finding{}, false
	}
	return idFinding(text, class, i, i+9, weakChecked, phrases)
}

func matchSIN(text []byte, i int) (Finding, bool) {
	return matchNine(text, i, CASIN, &sinPhrases, &tfnPhrases, &bsnPhrases)
}

func matchTFN(text []byte, i int) (Finding, bool) {
	return matchNine(text, i, AUTFN, &tfnPhrases, &sinPhrases, &bsnPhrases)
}

// --- AU_MEDICARE ---------------------------------------------------------

// validAUMedicare: ten digits, the first 2–6; the ninth checks the eight
// before it (weights 1, 3, 7, 9); the tenth is the card's issue number.
func validAUMedicare(d []byte) bool {
	if len(d) != 10 || !allDigits(d) || d[0] < '2' || d[0] > '6' {
		return false
	}
	w := [8]int{1, 3, 7, 9, 1, 3, 7, 9}
	sum := 0
	for k := range w {
		sum += w[k] * int(d[k]-'0')
	}
	return sum%10 == int(d[8]-'0')
}

// matchAUMedicare reads "2123 45670 1" or ten bare digits, and the
// person's reference number after a space or '/' if one follows. Bare,
// ten digits need "Medicare" before them (alone they are a weak guess);
// the 4-5-1 grouping is the card's own and is reported alone.
func matchAUMedicare(text []byte, i int) (Finding, bool) {
	var g idDigits
	var ok bool
	conf, irn := weakChecked, false
	if len(text)-i > 4 && text[i+4] == ' ' {
		g, ok = readIDDigits(text, i, ' ')
		irn = ok && g.shape("4511") && g.d[10] != '0'
		ok = irn || ok && g.shape("451")
		conf = 0.65
		if looseStart(text, i) {
			conf = 0
		}
	} else {
		g, ok = readIDDigits(text, i, 0)
		ok = ok && g.nd == 10
	}
	if !ok || !validAUMedicare(g.d[:10]) {
		return Finding{}, false
	}
	end := g.end
	if !irn && end+1 < len(text) && (text[end] == '/' || text[end] == ' ' && g.ng == 1) && text[end+1] >= '1' && text[end+1] <= '9' && endsClean(text, end+2) {
		end += 2
	}
	if !endsClean(text, end) {
		return Finding{}, false
	}
	return idFinding(text, AUMedicare, i, end, conf, &medicarePhrases)
}
