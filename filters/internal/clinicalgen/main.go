// Command clinicalgen writes the clinical corpus: sentences as a hospital's
// and a bank's prompts carry them, in English, French, German, Spanish,
// Dutch and Italian, labeled with NAME, ADDRESS, DATE, VEHICLE, DEVICE, the
// checksummed national identifiers and the existing classes, and decoys
// that look like personal data but are not (spans: []). Run from filters/:
//
//	go run ./internal/clinicalgen > testdata/clinical.jsonl
//
// The output is deterministic (seeded). Person names come from names.json
// (derived by names.mjs from human-names and chance, never from faker, whose
// lists the detector's gazetteers are built from); cities and streets are
// hand-written in places.go. Labeling conventions are in README.md next to
// this file.
package main

import (
	_ "embed"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
)

//go:embed names.json
var namesJSON []byte

type nameLists struct{ Female, Male, Surname []string }

var names map[string]nameLists

type span struct {
	Class string `json:"class"`
	Value string `json:"value"`
}

type example struct {
	Text  string `json:"text"`
	Spans []span `json:"spans"`
}

var langCountry = map[string]string{"fr": "FR", "de": "DE", "es": "ES", "nl": "NL", "it": "IT"}

func init() {
	raw := map[string]json.RawMessage{}
	if err := json.Unmarshal(namesJSON, &raw); err != nil {
		panic(err)
	}
	names = map[string]nameLists{}
	for k, v := range raw {
		if k == "_comment" {
			continue
		}
		var nl nameLists
		if err := json.Unmarshal(v, &nl); err != nil {
			panic(err)
		}
		names[k] = nl
	}
}

func main() {
	stats := flag.Bool("stats", false, "print lines and spans per language and class to stderr")
	flag.Parse()
	counts := map[[2]string]int{}
	if err := generate(os.Stdout, counts); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if *stats {
		var keys [][2]string
		for k := range counts {
			keys = append(keys, k)
		}
		slices.SortFunc(keys, func(a, b [2]string) int { return strings.Compare(a[0]+" "+a[1], b[0]+" "+b[1]) })
		for _, k := range keys {
			fmt.Fprintf(os.Stderr, "%s\t%s\t%d\n", k[0], k[1], counts[k])
		}
	}
}

// generate writes the whole corpus to w; the same bytes on every run. If
// counts is not nil it receives, per language, the number of lines
// ("lines"), of decoy lines ("decoys") and of spans per class.
func generate(w io.Writer, counts map[[2]string]int) error {
	r := rand.New(rand.NewPCG(2026, 12_01))
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	langs := []string{"en", "en", "en", "en", "en", "en", "en", "fr", "fr", "fr", "fr", "fr", "de", "de", "de", "de", "de",
		"es", "es", "es", "es", "es", "nl", "nl", "nl", "nl", "nl", "it", "it", "it", "it", "it"}
	// Category weights. English carries the US, UK, Canadian and Australian
	// identifiers, so its "id" share is larger; the decoy weight is set so
	// that about 35–37 % of each language's lines are decoys.
	type cat struct {
		name string
		w    int
	}
	catsFor := func(lang string) ([]cat, int) {
		id := 17
		if lang == "en" {
			id = 55
		}
		cs := []cat{{"note", 14}, {"date", 10}, {"age", 4}, {"name", 12}, {"addr", 8}, {"veh", 4}, {"dev", 4}, {"id", id}, {"contact", 5}}
		pos := 0
		for _, c := range cs {
			pos += c.w
		}
		cs = append(cs, cat{"decoy", pos * 37 / 63})
		return cs, pos + pos*37/63
	}
	seen := map[string]bool{}
	for i := 0; i < 2500; i++ {
		lang := langs[r.IntN(len(langs))]
		cats, total := catsFor(lang)
		x := r.IntN(total)
		cat := ""
		for _, c := range cats {
			if x < c.w {
				cat = c.name
				break
			}
			x -= c.w
		}
		tpls := templates[lang][cat]
		var ex example
		var tpl string
		// a line already written is drawn again (fixed decoys repeat otherwise)
		for try := 0; try < 20; try++ {
			tpl = tpls[r.IntN(len(tpls))]
			ex = render(r, lang, tpl)
			if !seen[ex.Text] {
				break
			}
		}
		seen[ex.Text] = true
		if counts != nil {
			counts[[2]string{lang, "lines"}]++
			if len(ex.Spans) == 0 {
				counts[[2]string{lang, "decoys"}]++
			}
			for _, sp := range ex.Spans {
				counts[[2]string{lang, sp.Class}]++
			}
		}
		if cat == "decoy" && len(ex.Spans) != 0 {
			panic("decoy with spans: " + tpl)
		}
		if cat != "decoy" && len(ex.Spans) == 0 {
			panic("positive without spans: " + tpl)
		}
		if err := enc.Encode(ex); err != nil {
			return err
		}
	}
	return nil
}

// line is the state of one line being rendered: its country and the last
// person named, so an identifier derived from a person (codice fiscale, DEA)
// can agree with the name.
type line struct {
	r       *rand.Rand
	lang    string
	cc      string
	spans   []span
	given   string
	surname string
	female  bool
	dob     [3]int // the last date of birth written, for the codice fiscale
	last    [3]int
}

func render(r *rand.Rand, lang, tpl string) example {
	l := &line{r: r, lang: lang, cc: langCountry[lang]}
	if lang == "en" {
		l.cc = []string{"US", "US", "GB"}[r.IntN(3)]
		for _, t := range []string{"{NHS}", "{NINO}"} {
			if strings.Contains(tpl, t) {
				l.cc = "GB"
			}
		}
		for _, t := range []string{"{NPI}", "{DEA}", "{ITIN}", "{ABA}", "{ACCT}"} {
			if strings.Contains(tpl, t) {
				l.cc = "US"
			}
		}
	}
	var b strings.Builder
	for {
		i := strings.IndexByte(tpl, '{')
		if i < 0 {
			b.WriteString(tpl)
			break
		}
		j := strings.IndexByte(tpl[i:], '}')
		b.WriteString(tpl[:i])
		b.WriteString(l.fill(tpl[i+1 : i+j]))
		tpl = tpl[i+j+1:]
	}
	spans := l.spans
	if spans == nil {
		spans = []span{}
	}
	return example{Text: b.String(), Spans: spans}
}

func (l *line) pick(xs ...string) string { return xs[l.r.IntN(len(xs))] }

func (l *line) lab(class, v string) string {
	l.spans = append(l.spans, span{class, v})
	return v
}

func (l *line) fill(tag string) string {
	r := l.r
	switch tag {
	// names
	case "N":
		return l.lab("NAME", l.person(r.IntN(2) == 0, true))
	case "Nf":
		return l.lab("NAME", l.person(true, true))
	case "Nm":
		return l.lab("NAME", l.person(false, true))
	case "TN", "TNf", "TNm":
		f := r.IntN(2) == 0
		if tag != "TN" {
			f = tag == "TNf"
		}
		t := l.title(f)
		return t + l.lab("NAME", l.person(f, false))
	case "TS", "TSf", "TSm":
		f := r.IntN(2) == 0
		if tag != "TS" {
			f = tag == "TSf"
		}
		return l.title(f) + l.lab("NAME", l.surnameForm())
	case "S":
		return l.lab("NAME", l.surnameForm())
	case "G":
		return l.lab("NAME", l.givenName(r.IntN(2) == 0))
	case "Gf":
		return l.lab("NAME", l.givenName(true))
	case "Gm":
		return l.lab("NAME", l.givenName(false))
	case "DR":
		return l.clinician()
	// dates
	case "D":
		return l.lab("DATE", l.date(2019+r.IntN(8)))
	case "B":
		y := 1925 + r.IntN(83)
		v := l.date(y)
		l.dob = l.last
		return l.lab("DATE_OF_BIRTH", v)
	case "AGE":
		return l.lab("DATE", fmt.Sprint(90+r.IntN(15)))
	case "age":
		return fmt.Sprint(18 + r.IntN(72))
	// places and contact
	case "A":
		return l.lab("ADDRESS", address(r, l.cc))
	case "APC":
		return l.lab("ADDRESS", postalCity(r, l.cc))
	case "PO":
		return l.lab("ADDRESS", poBox(r, l.cc))
	case "CTRY":
		return l.pick(countryName[l.cc]...)
	case "PH":
		return l.lab("PHONE", phone(r, l.cc))
	case "EM":
		return l.lab("EMAIL", l.email())
	case "IBAN":
		cc := l.cc
		if cc == "US" {
			cc = "GB"
		}
		return l.lab("IBAN", iban(r, cc))
	case "CC":
		return l.lab("CREDIT_CARD", card(r))
	case "MRN":
		return l.lab("MEDICAL_RECORD_NUMBER", l.pick("HC", "A", "")+digitsN(r, 7+r.IntN(2)))
	// vehicles and devices
	case "VIN":
		return l.lab("VEHICLE", vin(r))
	case "PL":
		return l.lab("VEHICLE", plate(r, l.cc))
	case "SN":
		return l.lab("DEVICE", serial(r))
	case "UDI":
		return l.lab("DEVICE", udi(r))
	case "IMEI":
		return l.lab("DEVICE", imei(r))
	// checksummed identifiers
	case "NPI":
		return l.lab("US_NPI", npi(r))
	case "DEA":
		init := byte('A' + r.IntN(26))
		if l.surname != "" && fold(l.surname) != "" {
			init = fold(l.surname)[0]
		}
		return l.lab("MEDICAL_LICENSE", dea(r, init))
	case "ITIN":
		return l.lab("US_ITIN", itin(r))
	case "ACCT":
		return l.lab("US_BANK_NUMBER", bankAccount(r))
	case "ABA":
		return l.lab("ABA_ROUTING_NUMBER", aba(r))
	case "NINO":
		return l.lab("UK_NINO", nino(r, r.IntN(3) > 0))
	case "NHS":
		return l.lab("UK_NHS", nhs(r, r.IntN(3) > 0))
	case "NIR":
		return l.lab("FR_NIR", nir(r, r.IntN(2) == 0))
	case "STID":
		return l.lab("DE_TAX_ID", deTaxID(r, r.IntN(3) == 0))
	case "KVNR":
		return l.lab("DE_HEALTH_INSURANCE", kvnr(r))
	case "NIF":
		return l.lab("ES_NIF", esNIF(r))
	case "NIE":
		return l.lab("ES_NIE", esNIE(r))
	case "BSN":
		return l.lab("NL_BSN", bsn(r))
	case "CF":
		sn, gn, f := l.surname, l.given, l.female
		if sn == "" {
			ns := names["it"]
			f = r.IntN(2) == 0
			sn = ns.Surname[r.IntN(len(ns.Surname))]
			gn = l.givenFrom("it", f)
		}
		y, m, d := 1930+r.IntN(75), 1+r.IntN(12), 1+r.IntN(28)
		if l.dob[0] != 0 {
			y, m, d = l.dob[0], l.dob[1], l.dob[2]
		}
		return l.lab("IT_FISCAL_CODE", fiscalCode(r, sn, gn, f, y, m, d))
	case "SIN":
		return l.lab("CA_SIN", caSIN(r))
	case "TFN":
		return l.lab("AU_TFN", auTFN(r, r.IntN(2) == 0))
	case "MEDI":
		return l.lab("AU_MEDICARE", auMedicare(r, r.IntN(2) == 0))
	}
	if f, ok := fillers[tag]; ok {
		return f(l)
	}
	panic("unknown tag {" + tag + "}")
}

func (l *line) origin() string {
	if l.r.IntN(7) == 0 {
		return "other"
	}
	return l.lang
}

func (l *line) givenFrom(lang string, female bool) string {
	ns := names[lang]
	xs := ns.Male
	if female {
		xs = ns.Female
	}
	return xs[l.r.IntN(len(xs))]
}

func (l *line) givenName(female bool) string {
	g := l.givenFrom(l.origin(), female)
	l.given, l.female = g, female
	return g
}

func (l *line) rawSurname(lang string) string {
	ns := names[lang]
	return ns.Surname[l.r.IntN(len(ns.Surname))]
}

// surnameForm: a surname as the language writes it, with particles,
// double or hyphenated surnames and apostrophes now and then.
func (l *line) surnameForm() string {
	r := l.r
	o := l.origin()
	s := l.rawSurname(o)
	if o == "other" {
		l.surname = s
		return s
	}
	switch l.lang {
	case "nl":
		if r.IntN(3) == 0 {
			s = l.pick("van ", "van der ", "van den ", "de ", "ter ", "van de ") + s
		}
	case "de":
		switch r.IntN(8) {
		case 0:
			s = "von " + s
		case 1:
			s = s + "-" + l.rawSurname("de")
		}
	case "es":
		switch r.IntN(4) {
		case 0, 1:
			s = s + " " + l.rawSurname("es")
		case 2:
			if r.IntN(2) == 0 {
				s = l.pick("de la ", "del ", "de ") + s
			}
		}
	case "it":
		switch r.IntN(8) {
		case 0:
			s = l.pick("Di ", "De ", "di ", "Lo ", "La ") + s
		case 1:
			s = l.pick("D'Alfonso", "D'Urbano", "D'Ercole", "Dell'Orco", "D'Addario")
		}
	case "fr":
		if r.IntN(8) == 0 {
			s = l.pick("de ", "Le ", "Du ") + s
		}
	case "en":
		if r.IntN(10) == 0 {
			s = l.pick("O'Dwyer", "O'Flaherty", "O'Loughlin", "O'Shaughnessy", "McGillicuddy", "O'Meara")
		}
	}
	l.surname = s
	return s
}

// person: a full name in one of the forms a record or a letter uses.
func (l *line) person(female bool, allowInverted bool) string {
	r := l.r
	g := l.givenName(female)
	if l.lang == "fr" && r.IntN(6) == 0 {
		g = g + "-" + l.givenFrom("fr", female)
	}
	s := l.surnameForm()
	switch x := r.IntN(20); {
	case x < 11:
		return g + " " + s
	case x < 13:
		return g + " " + l.givenFrom(l.origin(), female) + " " + s
	case x < 15:
		return fmt.Sprintf("%c. %s", []rune(g)[0], s) // an initial with its dot
	case x < 16:
		return fmt.Sprintf("%s %c. %s", g, 'A'+rune(r.IntN(26)), s)
	case x < 17 && allowInverted:
		return s + ", " + g
	case x < 18 && allowInverted:
		if l.lang == "fr" && !strings.Contains(s, " ") {
			return strings.ToUpper(s) + " " + g // French form style
		}
		return strings.ToUpper(g + " " + s)
	case x < 19:
		return fmt.Sprintf("%c. %c. %s", []rune(g)[0], 'A'+rune(r.IntN(26)), s)
	}
	return g + " " + s
}

func (l *line) title(female bool) string {
	t := map[string][2][]string{
		"en": {{"Mr. ", "Mr "}, {"Mrs. ", "Ms. ", "Mrs ", "Ms "}},
		"fr": {{"M. ", "Monsieur "}, {"Mme ", "Mlle ", "Madame "}},
		"de": {{"Herr "}, {"Frau "}},
		"es": {{"Sr. ", "D. "}, {"Sra. ", "Dña. "}},
		"nl": {{"Dhr. ", "dhr. ", "de heer "}, {"Mevr. ", "mevr. ", "mevrouw "}},
		"it": {{"Sig. "}, {"Sig.ra ", "Sig.ra "}},
	}[l.lang]
	if female {
		return l.pick(t[1]...)
	}
	return l.pick(t[0]...)
}

func (l *line) clinician() string {
	r := l.r
	f := r.IntN(2) == 0
	full := func() string { return l.lab("NAME", l.givenName(f)+" "+l.surnameForm()) }
	sur := func() string { return l.lab("NAME", l.surnameForm()) }
	switch l.lang {
	case "en":
		switch r.IntN(6) {
		case 0:
			return "Dr. " + sur()
		case 1:
			return "Dr " + full()
		case 2:
			return full() + ", MD"
		case 3:
			return full() + ", RN"
		case 4:
			return "Prof. " + sur()
		}
		return "Dr. " + full()
	case "fr":
		return l.pick("Dr ", "Dr ", "Pr ", "Dr. ") + l.pick2(sur, full)
	case "de":
		return l.pick("Dr. ", "Dr. med. ", "Prof. Dr. ", "Dr. ") + l.pick2(sur, full)
	case "es":
		if f {
			return l.pick("Dra. ", "la Dra. ") + l.pick2(sur, full)
		}
		return l.pick("Dr. ", "el Dr. ") + l.pick2(sur, full)
	case "nl":
		return l.pick("dr. ", "Dr. ", "prof. dr. ") + l.pick2(sur, full)
	case "it":
		if f {
			return l.pick("Dott.ssa ", "Dr.ssa ", "Prof.ssa ") + l.pick2(sur, full)
		}
		return l.pick("Dott. ", "Dr. ", "Prof. ") + l.pick2(sur, full)
	}
	return ""
}

func (l *line) pick2(a, b func() string) string {
	if l.r.IntN(2) == 0 {
		return a()
	}
	return b()
}

func (l *line) email() string {
	g := fold(l.givenFrom(l.origin(), l.r.IntN(2) == 0))
	s := fold(l.rawSurname(l.origin()))
	dom := map[string][]string{
		"US": {"example.com", "mail.example.org", "clinic.example"}, "GB": {"example.co.uk", "nhs.example.uk"},
		"FR": {"example.fr", "chu-example.fr"}, "DE": {"example.de", "klinik-example.de"}, "NL": {"example.nl", "umc-example.nl"},
		"ES": {"example.es", "hospital-example.es"}, "IT": {"example.it", "asl-example.it"},
	}[l.cc]
	local := strings.ToLower(g + "." + s)
	if l.r.IntN(3) == 0 {
		local = strings.ToLower(g[:1] + s + fmt.Sprint(l.r.IntN(100)))
	}
	return local + "@" + l.pick(dom...)
}

var months = map[string][]string{
	"en": {"January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"},
	"fr": {"janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre", "novembre", "décembre"},
	"de": {"Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August", "September", "Oktober", "November", "Dezember"},
	"es": {"enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto", "septiembre", "octubre", "noviembre", "diciembre"},
	"nl": {"januari", "februari", "maart", "april", "mei", "juni", "juli", "augustus", "september", "oktober", "november", "december"},
	"it": {"gennaio", "febbraio", "marzo", "aprile", "maggio", "giugno", "luglio", "agosto", "settembre", "ottobre", "novembre", "dicembre"},
}

// date: a date in year y in one of the formats the language writes. The
// day is never 1 (French "1er", Italian "1°" would need their own rules).
func (l *line) date(y int) string {
	r := l.r
	m, d := 1+r.IntN(12), 2+r.IntN(27)
	l.last = [3]int{y, m, d}
	mn := months[l.lang][m-1]
	iso := fmt.Sprintf("%04d-%02d-%02d", y, m, d)
	dmy := fmt.Sprintf("%02d/%02d/%04d", d, m, y)
	switch l.lang {
	case "en":
		if l.cc == "US" {
			return l.pick(fmt.Sprintf("%02d/%02d/%04d", m, d, y), fmt.Sprintf("%s %d, %d", mn, d, y), iso, fmt.Sprintf("%d/%d/%d", m, d, y))
		}
		return l.pick(dmy, fmt.Sprintf("%d %s %d", d, mn, y), iso)
	case "fr":
		return l.pick(dmy, fmt.Sprintf("%d %s %d", d, mn, y), iso)
	case "de":
		return l.pick(fmt.Sprintf("%02d.%02d.%04d", d, m, y), fmt.Sprintf("%d. %s %d", d, mn, y), iso, fmt.Sprintf("%d.%d.%d", d, m, y))
	case "es":
		return l.pick(dmy, fmt.Sprintf("%d de %s de %d", d, mn, y), iso)
	case "nl":
		return l.pick(fmt.Sprintf("%02d-%02d-%04d", d, m, y), fmt.Sprintf("%d %s %d", d, mn, y), iso)
	case "it":
		return l.pick(dmy, fmt.Sprintf("%d %s %d", d, mn, y), iso)
	}
	return iso
}
