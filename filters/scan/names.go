package scan

// NAME: a person's name. A capitalised word starts a candidate run of
// name tokens — capitalised words, initials ("J."), lower-case particles
// inside ("van der") — and the run is a name when the evidence says so:
// an honorific before it ("Dr", "Herr", "Mme"), a label or relation word
// before it ("Patient:", "Dear", "his wife"), or the gazetteer (a given
// name followed by a surname or by an unknown capitalised word; a given
// name alone in mid-sentence). Given names that are also ordinary words
// ("Rose", "Will") and cities need more than the word itself. A run
// followed by an organisation or place word ("Mayo Clinic") is no name.

// nameContext are the words before a run that make it a name: labels,
// salutations, signatures, relatives and clinicians, in the six languages.
var nameContext = newContext(28,
	"patient", "name", "nom", "nombre", "naam", "nome", "signed", "signature", "sign-off", "dear", "hi", "hello",
	"regards", "sincerely", "thanks", "thank you", "best", "cheers", "cordialement", "bien à vous", "grüße", "gruß",
	"saludos", "atentamente", "groeten", "saluti", "cordiali", "distinti",
	"cher", "chère", "liebe", "lieber", "geehrte", "geehrter", "estimado", "estimada", "querido", "querida",
	"beste", "geachte", "caro", "cara", "gentile",
	"wife", "husband", "son", "daughter", "mother", "father", "brother", "sister", "partner", "spouse", "friend",
	"cousin", "aunt", "uncle", "grandson", "granddaughter", "grandmother", "grandfather", "nephew", "niece", "child", "guardian", "caregiver",
	"femme", "mari", "épouse", "époux", "fils", "fille", "mère", "père", "frère", "sœur", "soeur", "petite-fille", "petit-fils",
	"sohn", "tochter", "mutter", "vater", "bruder", "schwester", "ehefrau", "ehemann", "enkel", "enkelin",
	"esposa", "esposo", "marido", "hijo", "hija", "madre", "padre", "hermano", "hermana", "nieto", "nieta",
	"vrouw", "zoon", "dochter", "moeder", "vader", "broer", "zus", "echtgenote", "echtgenoot", "kleinzoon", "kleindochter",
	"moglie", "marito", "figlio", "figlia", "fratello", "sorella", "nipote",
	"attending", "physician", "doctor", "nurse", "surgeon", "referred by", "seen by", "treated by", "examined by",
	"contact", "next of kin", "named", "called", "mr", "mrs", "ms", "médecin", "arzt", "ärztin", "médico", "arts", "medico",
	"from:", "to:", "cc:", "by")

// maxNameTokens bounds a run: given names, particles and surnames.
const maxNameTokens = 6

// nameToken reads a capitalised name token at i: a capital (ASCII, or a
// Latin capital in UTF-8), then letters, with an apostrophe or hyphen
// inside before a letter ("O'Brien", "Jean-Pierre"); or an initial, a
// capital and a dot. It returns the token's end (0 if there is none),
// whether all its letters are capitals, and whether it is an initial.
func nameToken(text []byte, i int) (end int, caps, initial bool) {
	n := len(text)
	j, ok := capitalAt(text, i)
	if !ok {
		return 0, false, false
	}
	if j < n && text[j] == '.' && (j+1 == n || !isAlpha(text[j+1])) {
		return j + 1, true, true
	}
	caps = true
	letters := 1
	for j < n {
		c := text[j]
		switch {
		case isLower(c):
			caps = false
		case isUpper(c):
		case c >= 0xC3 && c <= 0xC5 && j+1 < n && text[j+1]&0xC0 == 0x80:
			if k, ok := capitalAt(text, j); !ok || k != j+2 {
				caps = false
			}
			j += 2
			letters++
			continue
		case (c == '\'' || c == '-') && j+1 < n && isAlpha(text[j+1]) && !(c == '\'' && text[j+1]|0x20 == 's' && (j+2 == n || !isAlpha(text[j+2]))):
		case c == 0xE2 && j+3 < n && text[j+1] == 0x80 && text[j+2] == 0x99 && isAlpha(text[j+3]) && !(text[j+3]|0x20 == 's' && (j+4 == n || !isAlpha(text[j+4]))):
			j += 3
			continue
		default:
			if letters < 2 {
				return 0, false, false
			}
			return j, caps, false
		}
		letters++
		j++
	}
	if letters < 2 {
		return 0, false, false
	}
	return j, caps, false
}

// capitalAt says whether a capital letter starts at i and where it ends:
// ASCII, Latin-1 (U+00C0–DE but ×) or Latin Extended-A.
func capitalAt(text []byte, i int) (int, bool) {
	if i >= len(text) {
		return 0, false
	}
	c := text[i]
	if isUpper(c) {
		return i + 1, true
	}
	if i+1 >= len(text) {
		return 0, false
	}
	d := text[i+1]
	switch {
	case c == 0xC3 && d >= 0x80 && d <= 0x9E && d != 0x97:
		return i + 2, true
	case (c == 0xC4 || c == 0xC5) && d >= 0x80 && d <= 0xBF && latinExtACapital(rune(c&0x1F)<<6|rune(d&0x3F)):
		return i + 2, true
	}
	return 0, false
}

// wordEnd returns the end of the lower-case word at i (ASCII letters).
func lowerWordEnd(text []byte, i int) int {
	j := i
	for j < len(text) && isLower(text[j]) {
		j++
	}
	return j
}

// sentenceStart says whether the word at i opens a sentence or a line: a
// capital there says nothing about a name.
func sentenceStart(text []byte, i int) bool {
	j := i
	for j > 0 && (text[j-1] == ' ' || text[j-1] == '"' || text[j-1] == '(' || text[j-1] == '\'') {
		j--
	}
	if j == 0 {
		return true
	}
	switch text[j-1] {
	case '.', '!', '?', '\n', '\r', '\t', ':', ';', '>', '*', '#':
		return true
	}
	return false
}

// nameRun is a candidate run: its span, its tokens' flags, and what its
// last token is.
type nameRun struct {
	start, end  int
	tokens      int
	first       wordFlags // flags of the first token
	last        wordFlags // flags of the last capitalised token
	lastKnown   bool      // the last token is in the gazetteer
	caps        bool      // every token is in capitals
	initials    int
	stopAfter   bool // an organisation or place word follows the run
	inverted    bool // "Dupont, Marie"
	titleAfter  bool // an honorific follows: "Gentile Sig.ra Rossi" is a salutation
	secondGiven bool
}

// readNameRun reads the run of name tokens starting with the token at i
// (ending at end).
func readNameRun(text []byte, i, end int, caps, initial bool, flags wordFlags) nameRun {
	r := nameRun{start: i, end: end, tokens: 1, first: flags, last: flags, lastKnown: flags != 0, caps: caps}
	if initial {
		r.initials++
	}
	n := len(text)
	j := end
	for r.tokens < maxNameTokens && j+1 < n && text[j] == ' ' {
		k := j + 1
		// Lower-case particles, then a capitalised token.
		for p := 0; p < 2 && k < n && isLower(text[k]); p++ {
			e := lowerWordEnd(text, k)
			if e >= n || text[e] != ' ' || names.lookup(text, k, e)&wordParticle == 0 {
				return r
			}
			k = e + 1
		}
		e, c, ini := nameToken(text, k)
		if e == 0 {
			return r
		}
		f := tokenFlags(text, k, e)
		if f&wordTitle != 0 {
			r.titleAfter = true
			return r
		}
		if f&(wordStop|wordStreet) != 0 && f&(wordGiven|wordSurname) == 0 || f&wordStop != 0 && f&wordGiven == 0 {
			r.stopAfter = true
			return r
		}
		r.end, r.tokens = e, r.tokens+1
		r.caps = r.caps && c
		if ini {
			r.initials++
		} else {
			r.last, r.lastKnown = f, f != 0
		}
		if r.tokens == 2 {
			r.secondGiven = f&wordGiven != 0
		}
		j = e
	}
	// "Surname, Given": a comma, then a given name.
	if r.tokens == 1 && flags&wordSurname != 0 && j+2 < n && text[j] == ',' && text[j+1] == ' ' {
		if e, c, ini := nameToken(text, j+2); e != 0 && !ini && c == r.caps {
			if f := names.lookup(text, j+2, e); f&wordGiven != 0 && f&wordCommon == 0 {
				r.inverted, r.end, r.tokens, r.secondGiven = true, e, 2, true
			}
		}
	}
	return r
}

// matchName tries a name at the capitalised word at i.
func matchName(text []byte, i int) (Finding, bool) {
	if i > 0 && (isAlnum(text[i-1]) || text[i-1] >= 0x80 && !afterSpaceLike(text, i)) {
		return Finding{}, false
	}
	end, caps, initial := nameToken(text, i)
	if end == 0 || initial {
		return Finding{}, false
	}
	if i >= 2 && text[i-1] == '\'' && isAlpha(text[i-2]) {
		return Finding{}, false // "D'Angelo" starts at the D
	}
	flags := tokenFlags(text, i, end)
	n := len(text)
	if flags&wordTitle != 0 && !caps {
		// An honorific: the name follows ("Dr. Okafor", "Mme Dubois",
		// "Sig.ra Rossi", "Dott.ssa Bruno").
		j := end
		if j < n && text[j] == '.' {
			j++
			if k := lowerWordEnd(text, j); k > j && k-j <= 3 {
				j = k
				if j < n && text[j] == '.' {
					j++
				}
			}
		}
		if j+1 >= n || text[j] != ' ' {
			return Finding{}, false
		}
		j++
		e, c, ini := nameToken(text, j)
		if e == 0 {
			// "Mme de La Tour"
			if isLower(text[j]) {
				if pe := lowerWordEnd(text, j); pe < n && text[pe] == ' ' && names.lookup(text, j, pe)&wordParticle != 0 {
					if e2, c2, ini2 := nameToken(text, pe+1); e2 != 0 {
						r := readNameRun(text, pe+1, e2, c2, ini2, tokenFlags(text, pe+1, e2))
						return Finding{Class: Name, Start: j, End: r.end, Confidence: 0.9}, true
					}
				}
			}
			return Finding{}, false
		}
		f := tokenFlags(text, j, e)
		if f&(wordStop|wordStreet|wordTitle) != 0 && f&(wordGiven|wordSurname) == 0 {
			return Finding{}, false
		}
		r := readNameRun(text, j, e, c, ini, f)
		if r.stopAfter && r.tokens == 1 {
			return Finding{}, false
		}
		return Finding{Class: Name, Start: j, End: r.end, Confidence: 0.95}, true
	}
	if flags&(wordStop|wordStreet|wordTitle|wordParticle) != 0 && flags&wordGiven == 0 || flags&wordStop != 0 {
		return Finding{}, false
	}
	r := readNameRun(text, i, end, caps, false, flags)
	if r.stopAfter || r.titleAfter && r.tokens == 1 {
		return Finding{}, false
	}
	if flags&wordCommon != 0 && articleBefore(text, i) {
		return Finding{}, false // "the Rose Garden", "die Rose"
	}
	given := flags&wordGiven != 0
	known := flags&(wordGiven|wordSurname) != 0 || r.last&(wordGiven|wordSurname) != 0 || r.secondGiven
	switch {
	case r.inverted && flags&wordSurname != 0:
		return Finding{Class: Name, Start: i, End: r.end, Confidence: 0.85}, true
	case r.tokens >= 2 && given && r.last&wordSurname != 0:
		// A given name and a surname: "Rose Grant", "JOHN SMITH".
		return Finding{Class: Name, Start: i, End: r.end, Confidence: 0.9}, true
	case r.tokens >= 2 && given && !r.lastKnown && !r.caps && flags&wordCommon == 0:
		// A given name and an unknown capitalised word: "Chiara Esposti".
		return Finding{Class: Name, Start: i, End: r.end, Confidence: 0.8}, true
	case r.tokens >= 2 && flags&wordSurname != 0 && flags&wordCommon == 0 && r.secondGiven && !r.inverted:
		// Surname first, as Vietnamese, Chinese and Hungarian names are
		// written: "Nguyen Van An".
		return Finding{Class: Name, Start: i, End: r.end, Confidence: 0.8}, true
	}
	if !known || r.tokens == 1 && flags&(wordGiven|wordSurname) == 0 {
		return Finding{}, false
	}
	ctx := nameContext.before(text, i)
	if ctx {
		return Finding{Class: Name, Start: i, End: r.end, Confidence: 0.9}, true
	}
	if r.tokens == 1 && given && flags&wordCity == 0 && !caps && end-i >= 3 {
		// A given name alone ("… said Maria"). One that is also a word
		// ("Rose", "Will") only in mid-sentence and not after an article
		// ("the Rose", "die Rose"); none at all at a sentence start.
		start := sentenceStart(text, i)
		switch {
		case flags&wordCommon == 0 && !start:
			return Finding{Class: Name, Start: i, End: end, Confidence: 0.7}, true
		case flags&wordCommon == 0:
			return Finding{Class: Name, Start: i, End: end, Confidence: 0.55}, true
		case !start && !articleBefore(text, i):
			return Finding{Class: Name, Start: i, End: end, Confidence: 0.6}, true
		}
	}
	return Finding{}, false
}

// tokenFlags looks a name token up, and for one with an elided prefix
// ("O'Brien", "D'Angelo", "N'Diaye") that the gazetteer lacks, the part
// after the apostrophe.
func tokenFlags(text []byte, i, end int) wordFlags {
	f := names.lookup(text, i, end)
	if f == 0 && end-i > 3 && text[i+1] == '\'' {
		f = names.lookup(text, i+2, end) & (wordGiven | wordSurname)
	}
	return f
}

// articles are the determiners before which a capitalised ordinary word
// is a noun, not a name ("the Rose", "die Rose", "la Rose").
var articles = [...]string{"the", "a", "an", "this", "that", "le", "la", "les", "un", "une", "der", "die", "das", "den", "dem",
	"des", "ein", "eine", "einer", "einem", "einen", "el", "los", "las", "una", "het", "een", "il", "lo", "gli", "uno"}

// articleBefore says whether the word before i is an article.
func articleBefore(text []byte, i int) bool {
	j := i - 1
	if j < 1 || text[j] != ' ' {
		return false
	}
	k := j
	for k > 0 && isAlpha(text[k-1]) {
		k--
	}
	if k == j || j-k > 5 || k > 0 && isAlnum(text[k-1]) {
		return false
	}
	for _, a := range articles {
		if len(a) == j-k && hasFoldPrefixAt(text, k, a) {
			return true
		}
	}
	return false
}

// afterSpaceLike says whether the bytes before i end in a non-ASCII
// punctuation or space mark (a no-break space, a guillemet), before which
// a name may start.
func afterSpaceLike(text []byte, i int) bool {
	if i >= 2 && text[i-2] == 0xC2 {
		switch text[i-1] {
		case 0xA0, 0xAB, 0xBB:
			return true
		}
	}
	if i >= 3 && text[i-3] == 0xE2 && text[i-2] == 0x80 {
		// ‘ ’ “ ” – — … and the narrow spaces; but "D’Angelo" starts at
		// the D.
		return text[i-1] != 0x99 || i < 4 || !isAlpha(text[i-4])
	}
	return false
}
