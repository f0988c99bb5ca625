package scan

import (
	_ "embed"
	"strings"
)

// gazetteerText is the derived name and place list (scripts/gazetteer):
// one lower-case word per line, a tab, and its flags — g given name,
// s surname, w also an ordinary word, c a city.
//
//go:embed gazetteer.txt
var gazetteerText string

// wordFlags is what the scanner knows of a word.
type wordFlags uint16

// What the scanner knows of a word. Derived flags come from the gazetteer
// file, the others from the hand-written lists below.
const (
	wordGiven       = 1 << iota // a given name
	wordSurname                 // a surname
	wordCommon                  // also an ordinary word ("rose", "will") or a city: a name only with evidence
	wordTitle                   // an honorific before a name ("Dr", "Herr", "Mme")
	wordStop                    // never part of a name: organisation, institution, month, day
	wordParticle                // a lower-case particle inside a name ("van", "de")
	wordStreet                  // a street type written after the street's name ("Baker Street")
	wordCity                    // a city
	wordStreetFirst             // a street type written before the name ("rue de la Paix", "Via Roma")
	wordDEStreet                // a German or Dutch street word after an adjective ("Berliner Straße")
)

// Honorifics in the six languages; a dot after them is skipped.
const titleWords = `mr mrs ms mx miss sir dame lady lord dr doctor prof professor rev
	mme mlle madame mademoiselle monsieur docteur professeur pr
	herr herrn frau fräulein dres
	sr sra srta señor señora señorita doña dra
	dhr mevr mevrouw meneer heer mw drs ir
	sig signor signora signorina sigra dott dottor dottore dottoressa dottssa ing avv`

// Words that end a name run, or veto it: an organisation, institution or
// place word after capitalised words makes them not a person ("Mayo
// Clinic", "Deutsche Bank"); months and days are capitalised but no name.
const stopWords = `hospital hospitals clinic clinics clinique klinik kliniken klinikum krankenhaus hôpital hopital ospedale ziekenhuis
	infirmary hospice sanatorium policlinico poliklinik policlínica policlinique
	university universität universite université universidad università universita universiteit college school academy
	institute institut instituto istituto centre center centrum zentrum centro
	bank banco banque banca sparkasse
	inc ltd llc plc gmbh ag sa sas sarl spa srl bv nv corp corporation company co group foundation fondation stiftung fundación fondazione stichting trust
	pharmacy pharmacie apotheke farmacia apotheek laboratory laboratories labs
	health healthcare medical medicine care services service department ministry agency authority council association
	church cathedral chapel museum library airport station park garden river lake mount mountain island county state
	disease syndrome sign signs lymphoma sarcoma test scale score criteria procedure operation maneuver manoeuvre
	monday tuesday wednesday thursday friday saturday sunday
	lundi mardi mercredi jeudi vendredi samedi dimanche
	montag dienstag mittwoch donnerstag freitag samstag sonntag
	lunes martes miércoles jueves viernes sábado domingo
	maandag dinsdag woensdag donderdag vrijdag zaterdag zondag
	lunedì martedì mercoledì giovedì venerdì sabato domenica
	january february march april may june july august september october november december
	janvier février mars avril mai juin juillet août septembre octobre novembre décembre
	januar februar märz juni juli oktober dezember
	enero febrero marzo abril mayo junio julio agosto septiembre octubre noviembre diciembre
	januari februari maart mei augustus
	gennaio febbraio aprile maggio giugno luglio settembre ottobre dicembre
	god christmas easter
	regards sincerely cordialement thanks cheers greetings grüße saludos atentamente groeten saluti cordiali distinti dear hello hi
	english french german spanish dutch italian european american british
	france germany deutschland allemagne spain españa espagne italy italia italie netherlands nederland holland belgium belgique belgië switzerland suisse schweiz austria österreich
	usa america canada england scotland wales ireland portugal mexico méxico brazil brasil china india japan australia europe africa asia
	north south east west northern southern eastern western new saint san santa st
	street road avenue lane drive boulevard`

// Particles written in lower case inside a name ("Jan van der Berg",
// "Ana de la Cruz", "Ludwig von Beethoven").
const particleWords = `van der den de la le du des von zu di da del della dos das do ten ter bin ibn al el y`

// Street types: a capitalised run ending in one, after a house number, is
// an address, not a name ("221B Baker Street"); streetFirstWords come
// before the street's name ("12 rue de la Paix", "Via Roma 10");
// deStreetWords after a German adjective ("Berliner Straße 5").
const (
	streetWords = `street st road rd avenue ave lane ln drive dr boulevard blvd court ct place pl terrace ter way
	close crescent cres square sq parkway pkwy highway hwy circle cir row mews gardens grove walk hill park
	straße strasse str weg platz allee gasse ring damm ufer
	straat laan gracht plein kade singel dijk steeg`
	streetFirstWords = `rue avenue av bd boulevard place allée allee impasse chemin quai cours route passage square voie faubourg
	via viale piazza corso largo vicolo strada piazzale
	calle avenida av avda plaza paseo carrer camino carretera ronda travesía`
	deStreetWords = `straße strasse str weg platz allee gasse ring damm ufer chaussee`
)

// gazetteer is an open-addressing hash table of words and their flags,
// built once from the lists above and only read after.
type gazetteer struct {
	slots []uint32 // entry index + 1; 0 is empty
	words []string // folded words
	flags []wordFlags
	mask  uint32
}

var names = newGazetteer()

func newGazetteer() *gazetteer {
	flags := map[string]wordFlags{}
	for line := range strings.SplitSeq(gazetteerText, "\n") {
		w, f, ok := strings.Cut(line, "\t")
		if !ok {
			continue
		}
		var fl wordFlags
		for i := 0; i < len(f); i++ {
			switch f[i] {
			case 'g':
				fl |= wordGiven
			case 's':
				fl |= wordSurname
			case 'w':
				fl |= wordCommon
			case 'c':
				fl |= wordCity | wordCommon
			}
		}
		flags[w] |= fl
	}
	for _, l := range []struct {
		words string
		flag  wordFlags
	}{{titleWords, wordTitle}, {stopWords, wordStop}, {particleWords, wordParticle}, {streetWords, wordStreet},
		{streetFirstWords, wordStreetFirst}, {deStreetWords, wordDEStreet}} {
		for _, w := range strings.Fields(l.words) {
			flags[w] |= l.flag
		}
	}
	size := uint32(1)
	for size < uint32(len(flags))*2 {
		size <<= 1
	}
	g := &gazetteer{slots: make([]uint32, size), mask: size - 1}
	for w, f := range flags {
		h := hashFolded([]byte(w)) & g.mask
		for g.slots[h] != 0 {
			h = (h + 1) & g.mask
		}
		g.words = append(g.words, w)
		g.flags = append(g.flags, f)
		g.slots[h] = uint32(len(g.words))
	}
	return g
}

// hashFolded is FNV-1a over bytes already folded.
func hashFolded(b []byte) uint32 {
	h := uint32(2166136261)
	for _, c := range b {
		h = (h ^ uint32(c)) * 16777619
	}
	return h
}

// maxGazetteerWord bounds the words looked up; longer ones are no names.
const maxGazetteerWord = 32

// lookup returns the flags of the word text[i:j], case folded (ASCII,
// Latin-1 and Latin Extended-A capitals), or 0 if it is unknown.
func (g *gazetteer) lookup(text []byte, i, j int) wordFlags {
	var buf [maxGazetteerWord]byte
	w, ok := foldWord(text[i:j], &buf)
	if !ok {
		return 0
	}
	h := hashFolded(w) & g.mask
	for {
		e := g.slots[h]
		if e == 0 {
			return 0
		}
		if g.words[e-1] == string(w) {
			return g.flags[e-1]
		}
		h = (h + 1) & g.mask
	}
}

// foldWord lowers a word's capitals into buf: ASCII, Latin-1 (U+00C0–DE)
// and Latin Extended-A (U+0100–017F, where capitals and small letters
// alternate), and the typographic apostrophe to '. The gazetteer is
// folded the same way by its script.
func foldWord(w []byte, buf *[maxGazetteerWord]byte) ([]byte, bool) {
	n := 0
	for k := 0; k < len(w); k++ {
		c := w[k]
		if n >= len(buf) {
			return nil, false
		}
		switch {
		case isUpper(c):
			c |= 0x20
		case c == 0xC3 && k+1 < len(w) && w[k+1] >= 0x80 && w[k+1] <= 0x9E && w[k+1] != 0x97:
			buf[n] = c
			n++
			k++
			c = w[k] + 0x20
		case (c == 0xC4 || c == 0xC5) && k+1 < len(w) && w[k+1] >= 0x80 && w[k+1] <= 0xBF:
			cp := rune(c&0x1F)<<6 | rune(w[k+1]&0x3F)
			if latinExtACapital(cp) {
				cp++
			}
			if n+2 > len(buf) {
				return nil, false
			}
			buf[n], buf[n+1] = byte(0xC0|cp>>6), byte(0x80|cp&0x3F)
			n += 2
			k++
			continue
		case c == 0xE2 && k+2 < len(w) && w[k+1] == 0x80 && w[k+2] == 0x99:
			c = '\''
			k += 2
		}
		buf[n] = c
		n++
	}
	return buf[:n], true
}

// latinExtACapital says whether a code point of Latin Extended-A is a
// capital letter, whose small letter is the next code point.
func latinExtACapital(cp rune) bool {
	switch {
	case cp >= 0x100 && cp <= 0x137, cp >= 0x14A && cp <= 0x177:
		return cp%2 == 0
	case cp >= 0x139 && cp <= 0x148, cp >= 0x179 && cp <= 0x17E:
		return cp%2 == 1
	}
	return false
}
