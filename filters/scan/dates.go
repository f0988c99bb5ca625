package scan

// DATE: a date tied to a person's event other than birth — admission,
// discharge, death, a procedure, a visit — and an age over 89, both of
// which HIPAA's Safe Harbor method removes. A date is one only when an
// event word comes before it and no other year stands between them, as
// for dates of birth; other dates (a guideline's, an invoice's) are left.

// eventContext are the event words in the six languages.
var eventContext = newContext(40,
	"admitted", "admission", "admit date", "discharged", "discharge", "died", "death", "deceased", "passed away", "expired",
	"surgery", "operated", "operation", "procedure", "seen on", "visit", "visited", "appointment", "date of service", "dos",
	"diagnosed", "transferred", "biopsy", "delivered", "dod", "implanted", "seen", "date of death",
	"admis", "admise", "hospitalisé", "hospitalisée", "hospitalisation", "entrée", "sortie", "sorti", "décédé", "décédée", "décès",
	"opéré", "opérée", "intervention", "consultation", "vu le", "vue le", "rendez-vous", "diagnostiqué", "diagnostiquée",
	"implanté", "implantée", "visité", "visitée", "date d'admission", "date de sortie",
	"aufgenommen", "aufnahme", "entlassen", "entlassung", "verstorben", "gestorben", "todestag", "operiert", "eingriff",
	"termin", "untersucht", "untersuchung", "diagnostiziert", "behandelt", "gesehen", "todesdatum", "op-datum", "implantiert",
	"aufnahmedatum", "entlassungsdatum",
	"ingresó", "ingreso", "ingresado", "ingresada", "alta", "falleció", "fallecido", "fallecida", "defunción", "operado",
	"operada", "cirugía", "intervenido", "intervenida", "consulta", "cita", "diagnosticado", "diagnosticada", "implantado",
	"implantada", "visto", "vista", "fecha de ingreso", "fecha de alta",
	"opgenomen", "opname", "ontslagen", "ontslag", "overleden", "overlijden", "geopereerd", "operatie", "ingreep", "afspraak",
	"consult", "gediagnosticeerd", "gezien", "bezoek", "geïmplanteerd", "opnamedatum",
	"ricoverato", "ricoverata", "ricovero", "dimesso", "dimessa", "dimissione", "deceduto", "deceduta", "decesso",
	"operato", "operata", "intervento", "visita", "visitato", "visitata", "appuntamento", "diagnosticato", "diagnosticata",
	"impiantato", "impiantata", "data di ricovero", "data di dimissione")

// personDate classes the date [i, end) by the phrase before it — or, as
// German and Dutch put the participle last, after it ("wurde am 19.5.2019
// aufgenommen") — as a date of birth, an event's date, or neither ("").
func personDate(text []byte, i, end int) Class {
	switch {
	case phraseDate(text, i, &birthContext):
		return DateOfBirth
	case phraseDate(text, i, &eventContext):
		return Date
	}
	switch participleAfter(text, end) {
	case 1:
		return DateOfBirth
	case 2:
		return Date
	}
	return ""
}

// participles close a German or Dutch clause about a date: birth first,
// then the events.
var participles = [...]string{"geboren", "aufgenommen", "eingeliefert", "entlassen", "verstorben", "gestorben", "operiert",
	"untersucht", "behandelt", "gesehen", "implantiert", "opgenomen", "ontslagen", "overleden", "geopereerd", "onderzocht",
	"gezien", "behandeld"}

// participleAfter returns 1 if the clause after end closes with "geboren",
// 2 with an event's participle, 0 otherwise: within 40 bytes, before any
// punctuation that ends the clause.
func participleAfter(text []byte, end int) int {
	for j := end; j < len(text) && j < end+40; j++ {
		c := text[j]
		if c == '.' || c == ';' || c == ',' || c == '\n' || c == ':' {
			return 0
		}
		if j > end && text[j-1] == ' ' && isLower(c) && (c == 'g' || c == 'a' || c == 'e' || c == 'v' || c == 'o' || c == 'u' || c == 'b' || c == 'i') {
			for k, p := range participles {
				if hasPrefixAt(text, j, p) && (j+len(p) == len(text) || !isAlpha(text[j+len(p)])) {
					if k == 0 {
						return 1
					}
					return 2
				}
			}
		}
	}
	return 0
}

// phraseDate says whether the date at i is the one a phrase of cw before
// it names: the last such phrase within the window has no other year
// between it and the date ("born 14 March 1958, admitted 2024-01-05" makes
// only the first a date of birth; "admitted 2024-01-05, discharged
// 2024-01-09" makes both event dates).
func phraseDate(text []byte, i int, cw *contextWords) bool {
	if !cw.before(text, i) {
		return false
	}
	run := 0
	for k := cw.lastEnd(text, i); k < i; k++ {
		if isDigit(text[k]) {
			run++
			continue
		}
		if run == 4 {
			return false
		}
		run = 0
	}
	return run != 4
}

// lastEnd returns where the last of the words before i ends (as before
// finds them), or i if there is none.
func (cw *contextWords) lastEnd(text []byte, i int) int {
	last := i
	for j := max(i-cw.window, 0); j < i; j++ {
		if j > 0 && isAlpha(text[j-1]) || !isAlpha(text[j]) && text[j] != '#' {
			continue
		}
		c := lower(text[j])
		for _, w := range cw.byFirst[c&31] {
			if w[0] == c && j+len(w) <= i && hasFoldPrefixAt(text, j, w) {
				last = j + len(w)
			}
		}
	}
	return last
}

// ageSuffixes follow an age ("92-year-old", "95 ans"); agePrefixes come
// before one ("aged 93", "età: 91"). Lower case; matched ignoring case.
var (
	ageSuffixes = [...]string{"-year-old", "-years-old", "-yr-old", " year old", " years old", " year-old", " years", " yrs", " yr",
		" y/o", " y.o.", " yo", "yo", "-jährige", "-jähriger", " jahre", " jährige", " ans", " años", " jaar", " anni"}
	agePrefixes = [...]string{"aged ", "age ", "age: ", "age:", "âgé de ", "âgée de ", "im alter von ", "alter: ", "alter ", "edad: ", "edad ",
		"de edad ", "leeftijd: ", "leeftijd ", "età: ", "età ", "di anni "}
)

// matchAge reads an age over 89 at i: 90 to 125 with an age word after
// or before it. The finding is the number ("a [DATE_1]-year-old man").
func matchAge(text []byte, i int) (Finding, bool) {
	j, v := i, 0
	for j < len(text) && j-i < 3 && isDigit(text[j]) {
		v = v*10 + int(text[j]-'0')
		j++
	}
	if v < 90 || v > 125 || j < len(text) && (isDigit(text[j]) || text[j] == '.' && j+1 < len(text) && isDigit(text[j+1])) ||
		i > 0 && (isAlnum(text[i-1]) || text[i-1] == '.' || text[i-1] == '-') {
		return Finding{}, false
	}
	for _, s := range ageSuffixes {
		if hasFoldPrefixAt(text, j, s) && (j+len(s) == len(text) || !isAlpha(text[j+len(s)])) {
			return Finding{Class: Date, Start: i, End: j, Confidence: 0.9}, true
		}
	}
	for _, p := range agePrefixes {
		if i >= len(p) && hasFoldPrefixAt(text, i-len(p), p) && (i == len(p) || !isAlpha(text[i-len(p)-1])) {
			return Finding{Class: Date, Start: i, End: j, Confidence: 0.9}, true
		}
	}
	return Finding{}, false
}
