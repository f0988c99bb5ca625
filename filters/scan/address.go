package scan

import "strings"

// ADDRESS: street addresses as the seven countries write them — the house
// number first ("221B Baker Street", "12 rue de la Paix") or after the
// street ("Via Roma 10", "Hauptstraße 5", "Berliner Str. 12a") — with an
// apartment or suite and the postal code and city that follow on the same
// line; PO boxes; and a postal code with its city alone ("75011 Paris",
// "Boston, MA 02115", "1016 GV Amsterdam", "London NW1 6XE").

// usStates are the two-letter codes of US states and territories.
const usStates = "AL AK AZ AR CA CO CT DE DC FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH NJ NM NY NC ND OH OK OR PA RI SC SD TN TX UT VT VA WA WV WI WY PR GU VI AS MP"

func usState(text []byte, i int) bool {
	if i+2 > len(text) || !isUpper(text[i]) || !isUpper(text[i+1]) {
		return false
	}
	for k := 0; k+2 <= len(usStates); k += 3 {
		if usStates[k] == text[i] && usStates[k+1] == text[i+1] {
			return true
		}
	}
	return false
}

// houseNumber reads a house number at i: 1–5 digits, a range ("263-267"),
// and a letter ("221B", "12a"). It returns its end, or 0.
func houseNumber(text []byte, i int) int {
	n := len(text)
	j := i
	for j < n && j-i < 5 && isDigit(text[j]) {
		j++
	}
	if j == i || j < n && isDigit(text[j]) {
		return 0
	}
	if j+1 < n && text[j] == '-' && isDigit(text[j+1]) {
		k := j + 1
		for k < n && k-j <= 5 && isDigit(text[k]) {
			k++
		}
		j = k
	}
	if j < n && isAlpha(text[j]) && (j+1 == n || !isAlnum(text[j+1])) {
		j++
	}
	return j
}

// streetWord reads a word of a street's name at j: letters (UTF-8 ones
// included), with apostrophes and hyphens inside ("d'Italie",
// "Champs-Élysées"). It returns its end, or 0.
func streetWord(text []byte, j int) int {
	n := len(text)
	k := j
	for k < n {
		c := text[k]
		switch {
		case isAlpha(c):
			k++
		case c >= 0xC3 && c <= 0xC5 && k+1 < n && text[k+1]&0xC0 == 0x80:
			k += 2
		case (c == '\'' || c == '-') && k > j && k+1 < n && (isAlpha(text[k+1]) || text[k+1] >= 0xC3 && text[k+1] <= 0xC5):
			k++
		case c == 0xE2 && k > j && k+3 < n && text[k+1] == 0x80 && text[k+2] == 0x99:
			k += 3
		default:
			if k == j {
				return 0
			}
			return k
		}
	}
	if k == j {
		return 0
	}
	return k
}

// matchAddressNumber tries an address at the number at i: a house number
// and the street after it, or a postal code and its city.
func matchAddressNumber(text []byte, i int) (Finding, bool) {
	if i > 0 && (isAlnum(text[i-1]) || text[i-1] == '.' || text[i-1] == '-' || text[i-1] == '/' || text[i-1] == '#' || text[i-1] == '$' || text[i-1] == '+') {
		return Finding{}, false
	}
	h := houseNumber(text, i)
	if h == 0 {
		return Finding{}, false
	}
	if f, ok := houseAndStreet(text, i, h); ok {
		return f, true
	}
	if e := postalCity(text, i, true); e > 0 {
		return Finding{Class: Address, Start: i, End: e, Confidence: 0.85}, true
	}
	return Finding{}, false
}

// houseAndStreet reads a house number ending at h and the street after it.
func houseAndStreet(text []byte, i, h int) (Finding, bool) {
	n := len(text)
	j := h
	for _, w := range [...]string{" bis", " ter", " quater"} {
		if hasFoldPrefixAt(text, j, w) && j+len(w) < n && !isAlpha(text[j+len(w)]) {
			j += len(w)
			break
		}
	}
	comma := j < n && text[j] == ','
	if comma {
		j++
	}
	if j+1 >= n || text[j] != ' ' || !isAlnum(text[j+1]) && text[j+1] < 0xC3 {
		return Finding{}, false
	}
	j++
	e := streetTypeFirst(text, j)
	if e == 0 && !comma {
		// Only a street written type first follows a comma ("12, rue
		// de la Paix").
		e = streetTypeLast(text, j)
	}
	if e == 0 {
		return Finding{}, false
	}
	return Finding{Class: Address, Start: i, End: addressTail(text, e), Confidence: 0.9}, true
}

// streetFirstPairs marks the first two letters of every street type
// written first. Computed once and only read.
var streetFirstPairs = func() (t [(26*26 + 63) / 64]uint64) {
	for _, w := range strings.Fields(streetFirstWords) {
		if len(w) >= 2 && isLower(w[0]) && isLower(w[1]) {
			k := int(w[0]-'a')*26 + int(w[1]-'a')
			t[k/64] |= 1 << (k % 64)
		}
	}
	return t
}()

// streetTypeFirst reads a street written type first ("rue de la Paix",
// "avenue Foch") at j and returns its end, or 0.
func streetTypeFirst(text []byte, j int) int {
	// The first two letters rule out most words ("500 mg", "3 times")
	// before a lookup.
	if j+1 >= len(text) || !isAlpha(text[j]) || !isAlpha(text[j+1]) {
		return 0
	}
	if k := int(lower(text[j])-'a')*26 + int(lower(text[j+1])-'a'); streetFirstPairs[k/64]&(1<<(k%64)) == 0 {
		return 0
	}
	e := streetWord(text, j)
	if e == 0 || names.lookup(text, j, e)&wordStreetFirst == 0 {
		return 0
	}
	if e < len(text) && text[e] == '.' {
		e++ // "av.", "bd."
	}
	end := 0
	k := e
	// The name goes on through particles ("de la", "des", "d'Italie") and
	// ends at its last capitalised word ("avenue Foch", "rue de la Paix").
	for words := 0; words < 6 && k+1 < len(text) && text[k] == ' '; words++ {
		s := k + 1
		w := streetWord(text, s)
		if w == 0 {
			break
		}
		if _, ok := capitalAt(text, s); ok {
			end = w
		} else if particleFlag(text, s, w) == 0 && !(w-s > 2 && (text[s] == 'd' || text[s] == 'l') && (text[s+1] == '\'' || text[s+1] == 0xE2)) {
			break
		}
		k = w
	}
	return end
}

// streetTypeLast reads a street written with its type last ("Baker
// Street", "Evergreen Terrace", "5th Avenue NW") at j and returns its
// end, or 0.
func streetTypeLast(text []byte, j int) int {
	n := len(text)
	k := j
	for tokens := 0; tokens < 5; tokens++ {
		var e int
		if isDigit(text[k]) {
			// An ordinal: "5th Avenue", "42nd Street".
			d := k
			for d < n && isDigit(text[d]) {
				d++
			}
			if d+2 > n || !(hasFoldPrefixAt(text, d, "st") || hasFoldPrefixAt(text, d, "nd") || hasFoldPrefixAt(text, d, "rd") || hasFoldPrefixAt(text, d, "th")) {
				return 0
			}
			e = d + 2
		} else {
			var ini bool
			e, _, ini = nameToken(text, k)
			if e == 0 || ini {
				return 0
			}
			if tokens == 0 && hasFoldPrefixAt(text, k, "broadway") && e-k == 8 {
				return e // a street without a type
			}
			if e+2 < n && text[e] == '\'' && text[e+1] == 's' && text[e+2] == ' ' {
				e += 2 // "Queen's Road"
			}
			if tokens > 0 && names.lookup(text, k, e)&wordStreet != 0 && !(e+2 < n && text[e] == '.' && text[e+1] == ' ' && isUpper(text[e+2]) && names.lookup(text, k, e)&wordTitle != 0) {
				// The type ("Dr. O'Meara" is a doctor): then an optional dot
				// and direction.
				if e < n && text[e] == '.' {
					e++
				}
				if d := direction(text, e); d > 0 {
					e = d
				}
				return e
			}
		}
		if e >= n || text[e] != ' ' || e+1 >= n {
			return 0
		}
		k = e + 1
	}
	return 0
}

// direction reads " NW", " N", " S.E." after a street type and returns
// its end, or 0.
func direction(text []byte, e int) int {
	if e+2 > len(text) || text[e] != ' ' {
		return 0
	}
	k := e + 1
	d := k
	for d < len(text) && d-k < 2 && (text[d] == 'N' || text[d] == 'S' || text[d] == 'E' || text[d] == 'W') {
		d++
	}
	if d == k || d < len(text) && isAlnum(text[d]) {
		return 0
	}
	return d
}

// addressTail extends a street address ending at e with what follows on
// its line: an apartment or suite, then the postal code and city.
func addressTail(text []byte, e int) int {
	n := len(text)
	k := e
	// ", Apt 4B", " Suite 200", " #12"
	for _, sep := range [...]string{", ", " "} {
		if !hasPrefixAt(text, k, sep) {
			continue
		}
		u := k + len(sep)
		if u < n && text[u] == '#' && u+1 < n && isAlnum(text[u+1]) {
			if a := unitID(text, u+1); a > 0 {
				k = a
			}
			break
		}
		w := streetWord(text, u)
		if w == 0 {
			continue
		}
		if foldedOneOf(text[u:w], "apt", "apartment", "suite", "ste", "unit", "flat", "app", "appt", "piso", "scala", "interno", "int", "bus", "wohnung") {
			a := w
			if a < n && text[a] == '.' {
				a++
			}
			if a < n && text[a] == ' ' {
				a++
			}
			if a < n && text[a] == '#' {
				a++
			}
			if end := unitID(text, a); end > 0 {
				k = end
			}
		}
		break
	}
	// ", 5º D": a Spanish floor and door.
	if hasPrefixAt(text, k, ", ") && k+2 < n && isDigit(text[k+2]) {
		d := k + 2
		for d < n && d-k < 5 && isDigit(text[d]) {
			d++
		}
		if d+1 < n && text[d] == 0xC2 && (text[d+1] == 0xBA || text[d+1] == 0xAA) {
			d += 2
			if d+1 < n && text[d] == ' ' && isUpper(text[d+1]) && (d+2 == n || !isAlnum(text[d+2])) {
				d += 2
			}
			k = d
		}
	}
	// ", 75002 Paris", ", Springfield, IL 62704", ", London NW1 6XE"
	if hasPrefixAt(text, k, ", ") || hasPrefixAt(text, k, " ") && k+1 < n && isDigit(text[k+1]) {
		u := k + 1
		if text[k] == ',' {
			u++
		}
		if u < n && isDigit(text[u]) {
			if end := postalCity(text, u, false); end > 0 {
				return end
			}
		} else if end := cityStateZip(text, u); end > 0 {
			return end
		}
	}
	return k
}

// unitID reads an apartment's id ("4B", "200", "3-2") and returns its
// end, or 0.
func unitID(text []byte, a int) int {
	b := a
	for b < len(text) && b-a < 6 && (isAlnum(text[b]) || text[b] == '-' && b > a) {
		b++
	}
	if b == a || b < len(text) && isAlnum(text[b]) || !isDigit(text[a]) && !(b-a == 1 && isUpper(text[a])) {
		return 0
	}
	return b
}

// foldedOneOf says whether the word b, ASCII case folded, is one of ws
// (lower case): a comparison, where folding into a buffer would move the
// buffer to the heap.
func foldedOneOf(b []byte, ws ...string) bool {
	for _, w := range ws {
		if len(w) == len(b) && hasFoldPrefixAt(b, 0, w) {
			return true
		}
	}
	return false
}

// postalCity reads a postal code and the city after it at i: five digits
// (France, Germany, Spain, Italy), four digits and two letters (the
// Netherlands) or four digits (Belgium, Switzerland, Austria), then the
// city's capitalised words. Alone (not after a street), five or four
// digits need a city the gazetteer knows.
func postalCity(text []byte, i int, alone bool) int {
	n := len(text)
	j := i
	for j < n && j-i < 5 && isDigit(text[j]) {
		j++
	}
	digits := j - i
	if digits < 4 || j+2 >= n || text[j] != ' ' || i > 0 && isDigit(text[i-1]) {
		return 0
	}
	k := j + 1
	dutch := false
	if digits == 4 && k+3 < n && isUpper(text[k]) && isUpper(text[k+1]) && text[k+2] == ' ' {
		k += 3
		dutch = true
	}
	if hasPrefixAt(text, k, "'s-") {
		if e2 := streetWord(text, k+3); e2 > 0 {
			return e2 // "'s-Hertogenbosch"
		}
	}
	e, _, ini := nameToken(text, k)
	if e == 0 || ini {
		return 0
	}
	f := names.lookup(text, k, e)
	if f&wordStop != 0 && e+1 < n && text[e] == ' ' && (hasFoldPrefixAt(text, k, "san") || hasFoldPrefixAt(text, k, "sant") || hasFoldPrefixAt(text, k, "st")) {
		// "San Sebastián", "Santa Cruz", "St. Gallen": the saint's name
		// is the city's.
		if e2, _, ini2 := nameToken(text, e+1); e2 != 0 && !ini2 {
			return e2
		}
	}
	if hasPrefixAt(text, k, "'s-") {
		if e2 := streetWord(text, k+3); e2 > 0 {
			return e2 // "'s-Hertogenbosch"
		}
	}
	if alone && !dutch && f&wordPlace == 0 {
		return 0
	}
	if f&(wordStop|wordStreet|wordStreetFirst) != 0 && f&wordCity == 0 {
		return 0
	}
	// "Frankfurt am Main", "Aix-en-Provence" (one token), "Den Haag".
	for m := 0; m < 2 && e+1 < n && text[e] == ' '; m++ {
		q := e + 1
		if p := lowerWordEnd(text, q); p > q && p-q <= 4 && p+1 < n && text[p] == ' ' && (particleFlag(text, q, p) != 0 || cityLinker(text[q:p])) {
			q = p + 1 // "Frankfurt am Main", "Freiburg im Breisgau", "Saint-Germain-en-Laye"
		}
		e2, _, ini2 := nameToken(text, q)
		if e2 == 0 || ini2 || names.lookup(text, q, e2)&(wordStop|wordStreet|wordGiven) != 0 && names.lookup(text, q, e2)&wordCity == 0 {
			break
		}
		if q == e+1 && !alone {
			break // "75002 Paris Hospital": only one capitalised word
		}
		e = e2
	}
	return e
}

// cityStateZip reads "Springfield, IL 62704" (and "-1234"), or a UK city
// and postcode "London NW1 6XE", at u, and returns its end, or 0.
func cityStateZip(text []byte, u int) int {
	n := len(text)
	k := u
	for tokens := 0; tokens < 3; tokens++ {
		e, _, ini := nameToken(text, k)
		if e == 0 || ini {
			return 0
		}
		if e+1 < n && text[e] == ' ' {
			if p := ukPostcode(text, e+1); p > 0 {
				return p
			}
		}
		if e+2 < n && text[e] == ',' && text[e+1] == ' ' && usState(text, e+2) {
			if z := zipAt(text, e+4); z > 0 {
				return z
			}
			return 0
		}
		if e >= n || text[e] != ' ' {
			return 0
		}
		k = e + 1
	}
	return 0
}

// zipAt reads " 12345" or " 12345-6789" at k and returns its end, or 0.
func zipAt(text []byte, k int) int {
	n := len(text)
	if k >= n || text[k] != ' ' {
		return 0
	}
	z := k + 1
	d := z
	for d < n && isDigit(text[d]) {
		d++
	}
	if d-z != 5 {
		return 0
	}
	if d+5 <= n && text[d] == '-' && isDigit(text[d+1]) {
		e := d + 1
		for e < n && isDigit(text[e]) {
			e++
		}
		if e-d-1 == 4 {
			d = e
		}
	}
	if d < n && isAlnum(text[d]) {
		return 0
	}
	return d
}

// ukPostcode reads a UK postcode at k ("NW1 6XE", "SW1A 1AA", "M1 1AE")
// and returns its end, or 0.
func ukPostcode(text []byte, k int) int {
	n := len(text)
	j := k
	for j < n && j-k < 2 && isUpper(text[j]) {
		j++
	}
	if j == k || j >= n || !isDigit(text[j]) {
		return 0
	}
	j++
	if j < n && (isDigit(text[j]) || isUpper(text[j])) {
		j++
	}
	if j+4 > n || text[j] != ' ' || !isDigit(text[j+1]) || !isUpper(text[j+2]) || !isUpper(text[j+3]) {
		return 0
	}
	for _, c := range text[j+2 : j+4] {
		switch c {
		case 'C', 'I', 'K', 'M', 'O', 'V':
			return 0
		}
	}
	if j+4 < n && isAlnum(text[j+4]) {
		return 0
	}
	return j + 4
}

// matchAddressWord tries an address at the capitalised word at i: a
// street written type first or a German or Dutch street word, then the
// house number; a PO box; "Boston, MA 02115" at the state; a UK postcode.
func matchAddressWord(text []byte, i, tokenEnd int, f wordFlags) (Finding, bool) {
	n := len(text)
	if i+1 >= n {
		return Finding{}, false
	}
	// The forms that need no gazetteer are tried first, each only when its
	// first bytes fit: most capitalised words end here.
	c, d := text[i], text[i+1]
	if isUpper(d) && (i+2 == n || !isAlnum(text[i+2])) {
		// "MA 02115" after "Boston, ": the finding starts at the city.
		if usState(text, i) && i >= 4 && text[i-1] == ' ' && text[i-2] == ',' {
			if z := zipAt(text, i+2); z > 0 {
				if s := cityBefore(text, i-2); s >= 0 {
					return Finding{Class: Address, Start: s, End: z, Confidence: 0.85}, true
				}
			}
		}
	}
	if isDigit(d) || isUpper(d) && i+2 < n && isDigit(text[i+2]) {
		if p := ukPostcode(text, i); p > 0 {
			start := i
			if s := cityBefore(text, i-1); s >= 0 && text[i-1] == ' ' {
				start = s
			}
			return Finding{Class: Address, Start: start, End: p, Confidence: 0.75}, true
		}
	}
	if (c == 'P' && (d == 'O' || d == 'o' || d == '.') || c == 'B' && (d == 'P' || d == '.' || d == 'o') || c == 'A' && d == 'p' || c == 'C' && d == 'a') && i+3 < n {
		if end := poBox(text, i); end > 0 {
			return Finding{Class: Address, Start: i, End: addressTail(text, end), Confidence: 0.9}, true
		}
	}
	var e int
	if f&(wordStreetFirst|wordStreetAdjective) == 0 {
		// Only a one-word street ("Hauptstraße 5") or an adjective and a
		// street word ("Berliner Straße 5") is left: the word is followed
		// by a house number or by another capitalised word.
		if e = tokenEnd; e == 0 || e+2 >= n || text[e] != ' ' && text[e] != '.' && text[e] != ',' {
			return Finding{}, false
		}
		k := e
		if text[k] == '.' {
			k++
		}
		if k < n && text[k] == ',' {
			k++
		}
		if !(k+1 < n && text[k] == ' ' && isDigit(text[k+1])) && !(text[e] == ' ' && e-i > 4 && hasPrefixAt(text, e-2, "er") && isUpper(text[e+1])) {
			return Finding{}, false
		}
	} else if e = streetWord(text, i); e == 0 {
		return Finding{}, false
	}
	j := 0
	if f&wordStreetAdjective != 0 && e+1 < n && text[e] == ' ' {
		// "Nieuwe Binnenweg 160", "Lange Voorhout 138c", "Am Markt 16",
		// "Gran Vía 84": an adjective or preposition, a street, a number.
		if w := streetWord(text, e+1); w > 0 {
			if _, ok := capitalAt(text, e+1); ok && names.lookup(text, e+1, w)&wordStop == 0 {
				j = w
				goto number
			}
		}
	}
	switch {
	case f&wordStreetFirst != 0:
		// "Via Roma 10", "Calle de Alcalá, 45", "Avenida de la Constitución 12"
		j = e
		if j < n && text[j] == '.' {
			j++
		}
		named := false
		for words := 0; words < 6 && j+1 < n && text[j] == ' '; words++ {
			w := streetWord(text, j+1)
			if w == 0 {
				break
			}
			if _, ok := capitalAt(text, j+1); ok {
				named = true
			}
			j = w
		}
		if !named {
			return Finding{}, false
		}
	case streetSuffix(text, i, e):
		// "Hauptstraße 5", "Kerkstraat 12", "Hauptstr. 5"
		j = e
	case e+1 < n && text[e] == ' ' && e-i > 4 && hasPrefixAt(text, e-2, "er"):
		// "Berliner Straße 5", "Frankfurter Allee 12"
		w := streetWord(text, e+1)
		if w == 0 || names.lookup(text, e+1, w)&wordDEStreet == 0 {
			return Finding{}, false
		}
		j = w
	default:
		return Finding{}, false
	}
number:
	if j < n && text[j] == '.' {
		j++ // "Str."
	}
	if j < n && text[j] == ',' {
		j++
	}
	if j+1 >= n || text[j] != ' ' || !isDigit(text[j+1]) {
		return Finding{}, false
	}
	h := houseNumber(text, j+1)
	if h == 0 || h < n && (text[h] == '.' || text[h] == ',') && h+1 < n && isDigit(text[h+1]) {
		return Finding{}, false
	}
	return Finding{Class: Address, Start: i, End: addressTail(text, h), Confidence: 0.9}, true
}

// streetSuffixes end German and Dutch street names written as one word.
var streetSuffixes = [...]string{"straße", "strasse", "str", "weg", "platz", "allee", "gasse", "ring", "damm", "ufer",
	"straat", "laan", "gracht", "plein", "kade", "singel", "dijk", "steeg", "markt"}

// streetSuffix says whether the word text[i:e] is a one-word street name
// ("Hauptstraße", "Kerkstraat"): a street word after at least three
// letters.
func streetSuffix(text []byte, i, e int) bool {
	for _, s := range streetSuffixes {
		if e-i >= len(s)+3 && hasFoldPrefixAt(text, e-len(s), s) {
			return true
		}
	}
	return false
}

// cityBefore returns where the city ending at e starts ("Boston" before
// ", MA"), one or two capitalised words, or -1.
func cityBefore(text []byte, e int) int {
	start := -1
	k := e
	for tokens := 0; tokens < 2; tokens++ {
		s := k
		for s > 0 && (isAlpha(text[s-1]) || text[s-1] >= 0x80 || text[s-1] == '-') {
			s--
		}
		if s == k {
			break
		}
		if _, ok := capitalAt(text, s); !ok {
			break
		}
		if names.lookup(text, s, k)&(wordStop|wordStreet) != 0 && names.lookup(text, s, k)&wordCity == 0 {
			break
		}
		start = s
		if s < 2 || text[s-1] != ' ' {
			break
		}
		k = s - 1
	}
	return start
}

// poBox reads a PO box at i ("PO Box 1234", "P.O. Box 77", "Postfach
// 1234", "BP 45", "Apartado de correos 123", "Casella postale 12",
// "Postbus 123") and returns its end, or 0.
func poBox(text []byte, i int) int {
	for _, p := range [...]string{"po box ", "p.o. box ", "p. o. box ", "pob ", "post office box ", "postfach ", "bp ", "b.p. ",
		"boîte postale ", "boite postale ", "case postale ", "apartado de correos ", "apartado ", "casella postale ", "postbus "} {
		if hasFoldPrefixAt(text, i, p) {
			j := i + len(p)
			d := j
			for d < len(text) && d-j < 8 && (isDigit(text[d]) || text[d] == ' ' && d+1 < len(text) && isDigit(text[d+1]) && d > j) {
				d++
			}
			if d == j || d < len(text) && isAlnum(text[d]) {
				return 0
			}
			return d
		}
	}
	return 0
}

// cityLinker says whether a lower-case word joins a city's name to its
// region or river ("am Main", "im Breisgau", "an der Ruhr", "sur Mer",
// "upon Tyne").
func cityLinker(w []byte) bool {
	switch string(w) {
	case "am", "im", "an", "in", "bei", "ob", "sur", "sous", "en", "aan", "upon", "on":
		return true
	}
	return false
}
