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
	"femme", "mari", "fils", "fille", "mère", "père", "frère", "sœur", "soeur", "petite-fille", "petit-fils",
	"sohn", "tochter", "mutter", "vater", "bruder", "schwester", "ehefrau", "ehemann", "enkel", "enkelin",
	"esposa", "esposo", "marido", "hijo", "hija", "madre", "padre", "hermano", "hermana", "nieto", "nieta",
	"vrouw", "zoon", "dochter", "moeder", "vader", "broer", "zus", "echtgenote", "echtgenoot", "kleinzoon", "kleindochter",
	"moglie", "marito", "figlio", "figlia", "fratello", "sorella", "nipote",
	"attending", "physician", "doctor", "nurse", "surgeon", "referred by", "seen by", "treated by", "examined by",
	"contact", "next of kin", "named", "called", "mr", "mrs", "ms", "médecin", "arzt", "médico", "arts", "medico",
	"from:", "to:", "cc:", "by")

// particleFlag returns wordParticle if the lower-case word text[i:j] is a
// particle ("van", "de", "della"): a test on its length first, as nearly
// every lower-case word after a capitalised one is longer than five.
func particleFlag(text []byte, i, j int) wordFlags {
	if j-i < 2 || j-i > 5 {
		return 0
	}
	return names.lookup(text, i, j) & wordParticle
}

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
		// Small letters, nearly every byte of a name, in a loop of their
		// own.
		for j < n && isLower(text[j]) {
			caps = false
			letters++
			j++
		}
		if j == n {
			break
		}
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
		case (c == '\'' || c == '-') && j+1 < n && (isAlpha(text[j+1]) || text[j+1] >= 0xC3 && text[j+1] <= 0xC5) && letters >= 2-boolInt(c == '\'') &&
			!(c == '\'' && text[j+1]|0x20 == 's' && (j+2 == n || !isAlpha(text[j+2]))):
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

// lowerWordEnd returns the end of the lower-case word at i (ASCII letters).
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
	words       bool // a token after the first is an ordinary word or a cue, not a name
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
			if e >= n || text[e] != ' ' || particleFlag(text, k, e) == 0 {
				return r
			}
			k = e + 1
		}
		e, c, ini := nameToken(text, k)
		if e == 0 || c && !ini && !r.caps || camelCase(text, k, e) {
			return r // "El BBVA", "Medtronic MiniMed"
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
		r.words = r.words || f&(wordEnglish|wordCue) != 0 && f&(wordGiven|wordSurname|wordParticle) == 0
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
	// "Surname, Given": a comma, then a given name that ends the label
	// ("Nom : Bouchet, Émilien", "für Hochreiter, Theo").
	if j+2 < n && text[j] == ',' && text[j+1] == ' ' {
		if e, c, ini := nameToken(text, j+2); e != 0 && !ini && (c == r.caps || !c) {
			f := tokenFlags(text, j+2, e)
			sur := (flags|r.last)&wordSurname != 0
			if f&wordGiven != 0 && f&(wordStop|wordCue|wordTitle) == 0 && ((e == n || endsLabel(text, e)) && (f&wordCommon == 0 || sur) || sur && f&wordCommon == 0) {
				r.inverted, r.end, r.tokens, r.secondGiven = true, e, r.tokens+1, true
			}
		}
	}
	return r
}

// matchName tries a name at the capitalised word at i.
func matchName(text []byte, i int) (Finding, bool) {
	end, caps, initial := nameToken(text, i)
	if end == 0 {
		return Finding{}, false
	}
	return matchNameToken(text, i, end, caps, initial, tokenFlags(text, i, end))
}

// matchNameToken tries a name at the capitalised token [i, end) whose
// flags the caller looked up (matchWord shares them with the address
// matcher).
func matchNameToken(text []byte, i, end int, caps, initial bool, flags wordFlags) (Finding, bool) {
	if i > 0 && (isAlnum(text[i-1]) || text[i-1] >= 0x80 && !afterSpaceLike(text, i)) {
		return Finding{}, false
	}
	if i >= 2 && (text[i-1] == '\'' || text[i-1] == '-') && (isAlpha(text[i-2]) || text[i-2] >= 0x80) {
		return Finding{}, false // inside "D'Angelo", "Jean-Pierre", "Saint-Étienne"
	}
	n := len(text)
	if flags&wordTitle != 0 && !caps && !initial {
		return titledName(text, end)
	}
	if flags&(wordStop|wordStreet|wordStreetFirst|wordTitle|wordParticle|wordEnglish) != 0 && flags&(wordGiven|wordSurname) == 0 || flags&(wordStop|wordCue) != 0 {
		return Finding{}, false
	}
	if camelCase(text, i, end) {
		return Finding{}, false // "MiniMed", "IntelliVue": a product
	}
	// Lower-case particles before the name belong to it ("mevrouw van der
	// Witteveen", "Patiënt: van den Engel, Lester", "S. ter Hart").
	start := particlesBefore(text, i)
	prev, prevCapital := wordBefore(text, start)
	if start < i && prev&(wordCue|wordTitle|wordPrep) == 0 {
		// "van Hyltsje van den Swinkels": the particle is a preposition.
		if p, _ := wordBefore(text, i); p&wordPrep != 0 {
			prev, start = p, i
		}
	}
	if prevCapital && prev&(wordStop|wordStreetFirst) != 0 && prev&wordCue == 0 {
		return Finding{}, false // "San Raffaele", "Via Roma", "Hôpital Necker"
	}
	strong := prev&(wordCue|wordTitle) != 0
	if start < i && !strong && prev&wordPrep == 0 && !initialBefore(text, start) {
		start = i
	}
	r := readNameRun(text, i, end, caps, initial, flags)
	if r.stopAfter || r.titleAfter && r.tokens == 1 {
		return Finding{}, false
	}
	if r.tokens <= 2 && !strong && !r.caps && coordinated(text, r.end) {
		// "Walburga und Moritz Patel", "Ana Sofia y Adrián Tran": a name
		// joined to the next one.
		return Finding{Class: Name, Start: start, End: r.end, Confidence: 0.8}, true
	}
	if r.tokens-r.initials == 1 && r.end+1 < n && text[r.end] == ' ' && isDigit(text[r.end+1]) && !strong {
		return Finding{}, false // "Ward 3", "Room 12"
	}
	if initial && (text[i] == 'M' || text[i] == 'D') && r.tokens >= 2 && end+1 < n && text[end] == ' ' {
		// "M. Michaël Perrier", "D. A. Q. Nunez", "D. Ander Quiroga
		// Goikoetxea": Monsieur and Don before a given name, initials or
		// a name of two words.
		if e, _, ini := nameToken(text, end+1); e != 0 && (ini || r.tokens-r.initials >= 2 || tokenFlags(text, end+1, e)&wordGiven != 0) {
			return titledName(text, end-1)
		}
	}
	if initial {
		// "G. O'Meara", "A. P. Dang": initials and a name.
		if r.tokens > r.initials && (strong || prev&wordPrep != 0 || r.last&(wordGiven|wordSurname) != 0 || followedAsPerson(text, r.end, false)) {
			return Finding{Class: Name, Start: start, End: r.end, Confidence: 0.85}, true
		}
		return Finding{}, false
	}
	if flags&wordCommon != 0 && articleBefore(text, i) {
		return Finding{}, false // "the Rose Garden", "die Rose"
	}
	if r.caps && (end-i < 3 || r.end-i < 7) {
		return Finding{}, false // acronyms: "DEA BC"
	}
	given := flags&wordGiven != 0
	known := flags&(wordGiven|wordSurname) != 0 || r.last&(wordGiven|wordSurname) != 0 || r.secondGiven
	if (strong || prev&wordPrep != 0) && r.tokens == 1 && r.end+2 < n && text[r.end] == ',' && text[r.end+1] == ' ' {
		// "Nom : Bouchet, Émilien": surname, comma, given name after a
		// label.
		if e, _, ini := nameToken(text, r.end+2); e != 0 && !ini && tokenFlags(text, r.end+2, e)&(wordStop|wordCue|wordTitle|wordEnglish) == 0 && (e == n || endsLabel(text, e)) {
			return Finding{Class: Name, Start: start, End: e, Confidence: 0.85}, true
		}
	}
	if p := prevNameWord(text, i); p >= 0 && known && start == i && !r.caps {
		// "Bev Jensen", "Haden Cruz": an unknown capitalised word just
		// before a known name belongs to it.
		start = p
	}
	sentence := start == i && sentenceStart(text, i)
	switch {
	case strong && (r.tokens >= 2 || flags&wordCity == 0 || given) && (!r.caps || r.end-i >= 3 && (known || r.tokens >= 2)):
		// Right after a label, salutation, relative or honorific:
		// "Patientin Ortrud Wiesbrunner", "Liebe Adelheid,".
		return Finding{Class: Name, Start: start, End: r.end, Confidence: 0.9}, true
	case r.inverted && (flags&wordSurname != 0 || prev&wordPrep != 0 || r.tokens >= 3):
		return Finding{Class: Name, Start: start, End: r.end, Confidence: 0.85}, true
	case r.tokens >= 2 && r.caps && !r.words && (prev&wordPrep != 0 || followedAsPerson(text, r.end, true)):
		// "de BRUNO ANDRES LARRAÑAGA", "OSVALDO BENCINI, nato il …"
		return Finding{Class: Name, Start: start, End: r.end, Confidence: 0.8}, true
	case r.tokens >= 2 && given && r.last&wordSurname != 0:
		// A given name and a surname: "Rose Grant", "JOHN SMITH".
		return Finding{Class: Name, Start: start, End: r.end, Confidence: 0.9}, true
	case r.tokens >= 2 && given && !r.caps && flags&wordCommon == 0 && r.last&^wordEnglish == 0:
		// A given name and an unknown capitalised word, or an ordinary
		// word written as a surname: "Chiara Esposti", "Dan Tailor".
		return Finding{Class: Name, Start: start, End: r.end, Confidence: 0.8}, true
	case r.tokens >= 2 && flags&wordSurname != 0 && flags&wordCommon == 0 && r.secondGiven && !r.inverted:
		// Surname first, as Vietnamese, Chinese and Hungarian names are
		// written: "Nguyen Van An".
		return Finding{Class: Name, Start: start, End: r.end, Confidence: 0.8}, true
	case r.tokens >= 2 && !r.caps && !r.words && flags&wordEnglish == 0 && (prev&wordPrep != 0 || followedAsPerson(text, r.end, false)):
		// "for Ianthe Stevens", "Argia Fossi è stata operata", "Quintrell
		// Aydın, born 1946-02-04".
		return Finding{Class: Name, Start: start, End: r.end, Confidence: 0.8}, true
	case start < i && known && !caps:
		return Finding{Class: Name, Start: start, End: r.end, Confidence: 0.8}, true
	}
	if !known || r.tokens == 1 && flags&(wordGiven|wordSurname) == 0 {
		return Finding{}, false
	}
	if nameContext.before(text, i) && (r.tokens >= 2 || flags&wordCity == 0) {
		return Finding{Class: Name, Start: start, End: r.end, Confidence: 0.9}, true
	}
	if r.tokens == 1 && given && flags&wordCity == 0 && !caps && end-i >= 3 {
		// A given name alone ("… said Maria"). One that is also a word
		// ("Rose", "Will") only in mid-sentence and not after an article
		// ("the Rose", "die Rose"); none at all at a sentence start.
		// At a sentence start, a verb or a comma must follow ("Maria was
		// admitted", but not "Caesar salad").
		switch {
		case flags&wordCommon == 0 && !sentence:
			return Finding{Class: Name, Start: i, End: end, Confidence: 0.7}, true
		case flags&wordCommon == 0 && (followedAsPerson(text, end, false) || end < n && (text[end] == ',' || text[end] == ':')):
			return Finding{Class: Name, Start: i, End: end, Confidence: 0.55}, true
		case !sentence && !articleBefore(text, i):
			return Finding{Class: Name, Start: i, End: end, Confidence: 0.6}, true
		}
	}
	return Finding{}, false
}

// titledName reads the name after an honorific ending at end ("Dr.
// Okafor", "Mme Dubois", "Sig.ra Rossi", "Dott.ssa Bruno", "Mme de La
// Tour").
func titledName(text []byte, end int) (Finding, bool) {
	n := len(text)
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
		if isLower(text[j]) {
			if pe := lowerWordEnd(text, j); pe < n && text[pe] == ' ' && particleFlag(text, j, pe) != 0 {
				if e2, c2, ini2 := nameToken(text, pe+1); e2 != 0 {
					r := readNameRun(text, pe+1, e2, c2, ini2, tokenFlags(text, pe+1, e2))
					return Finding{Class: Name, Start: j, End: r.end, Confidence: 0.9}, true
				}
			}
		}
		return Finding{}, false
	}
	f := tokenFlags(text, j, e)
	if f&wordTitle != 0 {
		return titledName(text, e) // "Prof. Dr. Okafor"
	}
	if f&(wordStop|wordStreet) != 0 && f&(wordGiven|wordSurname) == 0 {
		return Finding{}, false
	}
	r := readNameRun(text, j, e, c, ini, f)
	if r.stopAfter && r.tokens == 1 {
		return Finding{}, false
	}
	return Finding{Class: Name, Start: j, End: r.end, Confidence: 0.95}, true
}

// wordBefore returns the flags of the word before i — past a space, and
// a colon, comma, dot or line break ("Patient: ", "Regards,\n", "dhr. ")
// — and whether it is capitalised and only a space or hyphen away.
func wordBefore(text []byte, i int) (wordFlags, bool) {
	j := i
	for j > 0 && i-j < 3 {
		c := text[j-1]
		if c != ' ' && c != ':' && c != ',' && c != '.' && c != '\n' && c != '\r' && c != '-' && c != '(' {
			break
		}
		j--
	}
	if j == i {
		return 0, false
	}
	k := j
	for k > 0 && j-k < maxGazetteerWord && (isAlpha(text[k-1]) || text[k-1] >= 0x80) {
		k--
	}
	if k == j || k > 0 && isDigit(text[k-1]) {
		return 0, false
	}
	_, capital := capitalAt(text, k)
	f := names.lookup(text, k, j)
	if capital && f&wordCue != 0 && !sentenceStart(text, k) && !lowerWordBefore(text, k) {
		// A capitalised cue inside a run of capitalised words is a name
		// ("Dr. Oriol del Nieto", "Candice Cousin").
		f &^= wordCue
	}
	return f, capital && (i-j == 1 && (text[j] == ' ' || text[j] == '-'))
}

// lowerWordBefore says whether a lower-case word ends a space before k
// ("seine Tochter", "nuovo paziente").
func lowerWordBefore(text []byte, k int) bool {
	if k < 2 || text[k-1] != ' ' {
		return false
	}
	s := k - 1
	for s > 0 && (isAlpha(text[s-1]) || text[s-1] >= 0x80) {
		s--
	}
	return s < k-1 && isLower(text[s])
}

// particlesBefore returns where up to two lower-case particles a space
// before i start ("van der Witteveen"), or i.
func particlesBefore(text []byte, i int) int {
	start := i
	for p := 0; p < 2 && start >= 3 && text[start-1] == ' '; p++ {
		k := start - 1
		for k > 0 && isLower(text[k-1]) {
			k--
		}
		if k == start-1 || k > 0 && isAlnum(text[k-1]) || particleFlag(text, k, start-1) == 0 {
			break
		}
		start = k
	}
	return start
}

// initialBefore says whether an initial ("S.") comes a space before k.
func initialBefore(text []byte, k int) bool {
	return k >= 3 && text[k-1] == ' ' && text[k-2] == '.' && isUpper(text[k-3]) && (k == 3 || !isAlnum(text[k-4]))
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// personFollowers come right after a name in clinical and everyday text:
// a birth date or age (birthFollowers, evidence enough), or a verb (which
// follows any subject, so only a known name).
var (
	birthFollowers = [...]string{", born", ", geb", ", né", ", nato", ", nata", ", nacid", ", geboren", ", dob", " (dob", " (born",
		", age", ", âgé", ", 1", ", 2", ", 3", ", 4", ", 5", ", 6", ", 7", ", 8", ", 9",
		", de 1", ", de 2", ", de 3", ", de 4", ", de 5", ", de 6", ", de 7", ", de 8", ", de 9"}
	verbFollowers = [...]string{" was ", " is ", " has ", " had ", " said", " reports", " denies", " presents", " presented", " complains", " lives",
		" underwent", " wurde", " ist ", " war ", " hat ", " lebt", " est ", " a été", " a ", " vit ", " fue ", " está", " es ", " ha ", " vive",
		" è ", " werd", " heeft", " woont", " nahm", " took", "'s ", "’s ",
		" dit ", " dice ", " sagt", " zegt", " says", " told", " afferma", " explique", " erklärt", " berichtet", " meldt", " refiere", " riferisce"}
)

// followedAsPerson says whether what follows the run ending at e is what
// follows a person's name: a birth date or age, or with verbs a verb.
func followedAsPerson(text []byte, e int, birthOnly bool) bool {
	for _, f := range birthFollowers {
		if hasFoldPrefixAt(text, e, f) {
			return true
		}
	}
	if birthOnly {
		return false
	}
	for _, f := range verbFollowers {
		if hasFoldPrefixAt(text, e, f) {
			return true
		}
	}
	return false
}

// conjunctions join two people's names.
var conjunctions = [...]string{" and ", " und ", " en ", " y ", " e ", " et "}

// coordinated says whether a conjunction and a name follow e ("Walburga
// und Moritz Patel").
func coordinated(text []byte, e int) bool {
	for _, c := range conjunctions {
		if hasPrefixAt(text, e, c) {
			k := e + len(c)
			if _, ok := capitalAt(text, k); !ok {
				return false
			}
			f, ok := matchName(text, k)
			return ok && f.Start == k && f.End-f.Start > 2
		}
	}
	return false
}

// endsLabel says whether a labeled value ends at e: the end of a line, or
// a field separator.
func endsLabel(text []byte, e int) bool {
	switch text[e] {
	case '\n', '\r', '|', ';', ',', '.':
		return true
	case ' ':
		return e+1 < len(text) && text[e+1] == '|'
	}
	return false
}

// camelCase says whether a token has a capital inside that no surname
// prefix explains ("MiniMed", "FreeStyle"; but "McDonald", "LeBlanc",
// "DiCaprio", "MacArthur").
func camelCase(text []byte, i, end int) bool {
	for k := i + 1; k < end; k++ {
		if !isUpper(text[k]) || isUpper(text[k-1]) || text[k-1] == '-' || text[k-1] == '\'' || text[k-1] >= 0x80 {
			continue
		}
		if foldedOneOf(text[i:k], "mc", "mac", "de", "di", "da", "le", "la", "van", "von", "du", "fitz", "o") {
			continue
		}
		return true
	}
	return false
}

// prevNameWord returns the start of the capitalised word a single space
// before i that the gazetteer does not know (no stop, cue, title or street
// word), or -1.
func prevNameWord(text []byte, i int) int {
	if i < 3 || text[i-1] != ' ' {
		return -1
	}
	k := i - 1
	for k > 0 && (isAlpha(text[k-1]) || text[k-1] >= 0x80) {
		k--
	}
	if k == i-1 || k > 0 && (isAlnum(text[k-1]) || text[k-1] == '-' || text[k-1] == '\'') {
		return -1
	}
	e, caps, ini := nameToken(text, k)
	if e != i-1 || caps || ini || names.lookup(text, k, e) != 0 || camelCase(text, k, e) {
		return -1
	}
	return k
}

// tokenFlags looks a name token up, and for one with an elided prefix
// ("O'Brien", "D'Angelo", "N'Diaye") that the gazetteer lacks, the part
// after the apostrophe.
func tokenFlags(text []byte, i, end int) wordFlags {
	f := names.lookup(text, i, end)
	if f == 0 && end-i > 3 && text[i+1] == '\'' {
		f = names.lookup(text, i+2, end) & (wordGiven | wordSurname)
	}
	if f == 0 && end-i > 5 && text[i+1] == 0xE2 && text[i+2] == 0x80 && text[i+3] == 0x99 {
		f = names.lookup(text, i+4, end) & (wordGiven | wordSurname) // "D’Angelo"
	}
	if f == 0 {
		// "Maelly-Imen", "Müller-Lüdenscheidt": a compound is a given
		// name or surname if a part is.
		for k := i + 1; k < end-1; k++ {
			if text[k] == '-' {
				f = (names.lookup(text, i, k) | names.lookup(text, k+1, end)) & (wordGiven | wordSurname)
				break
			}
		}
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
