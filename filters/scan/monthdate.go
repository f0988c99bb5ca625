package scan

// Dates written with a month name ("14 March 1958", "March 14, 1958",
// "14. März 1958", "le 14 mars 1958", "14 de marzo de 1958", "14 maart
// 1958", "14 marzo 1958"): reported, like numeric dates, only when a birth
// phrase comes before them.

// monthNames are the months in English, French, German, Spanish, Dutch and
// Italian, in lower case, with the usual abbreviations. Read-only.
var monthNames = func() map[string]int {
	m := map[string]int{}
	for _, lang := range [][12]string{
		{"january", "february", "march", "april", "may", "june", "july", "august", "september", "october", "november", "december"},
		{"janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre", "novembre", "décembre"},
		{"januar", "februar", "märz", "april", "mai", "juni", "juli", "august", "september", "oktober", "november", "dezember"},
		{"enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto", "septiembre", "octubre", "noviembre", "diciembre"},
		{"januari", "februari", "maart", "april", "mei", "juni", "juli", "augustus", "september", "oktober", "november", "december"},
		{"gennaio", "febbraio", "marzo", "aprile", "maggio", "giugno", "luglio", "agosto", "settembre", "ottobre", "novembre", "dicembre"},
	} {
		for i, name := range lang {
			m[name] = i + 1
		}
	}
	for i, abbr := range []string{"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"} {
		m[abbr] = i + 1
	}
	m["sept"], m["mrz"], m["okt"], m["dez"], m["mei"] = 9, 3, 10, 12, 5
	return m
}()

// monthWord reads a word of letters (ASCII folded to lower case, other
// bytes of UTF-8 letters kept) at j and returns its month and end; an
// abbreviation may end in '.'.
func monthWord(text []byte, j int) (month, end int) {
	var buf [12]byte
	n := 0
	k := j
	for k < len(text) && n < len(buf) {
		c := text[k]
		switch {
		case isUpper(c):
			c |= 0x20
		case isLower(c), c >= 0x80:
		default:
			goto done
		}
		buf[n] = c
		n++
		k++
	}
done:
	if n < 3 || k < len(text) && (isAlpha(text[k]) || text[k] >= 0x80) {
		return 0, 0
	}
	m, ok := monthNames[string(buf[:n])] // no allocation: the compiler looks up without copying
	if !ok {
		return 0, 0
	}
	if k < len(text) && text[k] == '.' {
		k++
	}
	return m, k
}

// monthWordBefore reads the month name ending just before j (a space, or
// ". " after an abbreviation, between them).
func monthWordBefore(text []byte, j int) (month, start int) {
	k := j
	for k > 0 && k > j-14 && (isAlpha(text[k-1]) || text[k-1] >= 0x80) {
		k--
	}
	if k == j || k > 0 && isAlnum(text[k-1]) {
		return 0, 0
	}
	m, end := monthWord(text, k)
	if m == 0 || end != j {
		return 0, 0
	}
	return m, k
}

// yearAt reads four digits at j that are not part of a longer number.
func yearAt(text []byte, j int) (year, end int) {
	y, ok := num(text, j, 4)
	if !ok || j+4 < len(text) && isDigit(text[j+4]) {
		return 0, 0
	}
	return y, j + 4
}

func skipWord(text []byte, j int, w string) int {
	if hasFoldPrefixAt(text, j, w) {
		return j + len(w)
	}
	return j
}

// matchMonthDate reads a date with a month name whose day starts at i.
func matchMonthDate(text []byte, i int) (Finding, bool) {
	day, j := 0, i
	for j < len(text) && j-i < 2 && isDigit(text[j]) {
		day = day*10 + int(text[j]-'0')
		j++
	}
	if day < 1 || day > 31 || j < len(text) && isDigit(text[j]) {
		return Finding{}, false
	}
	start, end, month, year := i, 0, 0, 0
	// Day first: "14 March 1958", "14. März 1958", "14 de marzo de 1958".
	k := j
	if k < len(text) && text[k] == '.' {
		k++
	}
	if k < len(text) && text[k] == ' ' {
		k = skipWord(text, k+1, "de ")
		if m, e := monthWord(text, k); m != 0 && e < len(text) && (text[e] == ' ' || text[e] == ',') {
			e++
			if e < len(text) && text[e] == ' ' {
				e++
			}
			e = skipWord(text, e, "de ")
			if y, ye := yearAt(text, e); ye != 0 {
				month, year, end = m, y, ye
			}
		}
	}
	// Month first: "March 14, 1958", "Mar 14 1958", "March 14th, 1958".
	if end == 0 && i > 1 && text[i-1] == ' ' {
		if m, ms := monthWordBefore(text, i-1); m != 0 {
			k := j
			for _, suffix := range []string{"st", "nd", "rd", "th"} {
				if hasFoldPrefixAt(text, k, suffix) {
					k += 2
					break
				}
			}
			if k < len(text) && text[k] == ',' {
				k++
			}
			if k < len(text) && text[k] == ' ' {
				if y, ye := yearAt(text, k+1); ye != 0 {
					month, year, end, start = m, y, ye, ms
				}
			}
		}
	}
	if end == 0 || !validDate(year, month, day) || !endsClean(text, end) {
		return Finding{}, false
	}
	class := personDate(text, start, end)
	if class == "" {
		return Finding{}, false
	}
	return Finding{Class: class, Start: start, End: end, Confidence: 0.95}, true
}
