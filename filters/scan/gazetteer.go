package scan

import (
	_ "embed"
	"encoding/binary"
	"math/bits"
	"strings"
)

// gazetteerText is the derived name and place list (scripts/gazetteer):
// one lower-case word per line, a tab, and its flags — g given name,
// s surname, w also an ordinary word, c a city, x an ordinary English
// word and no name.
//
//go:embed gazetteer.txt
var gazetteerText string

// wordFlags is what the scanner knows of a word.
type wordFlags uint16

// What the scanner knows of a word. Derived flags come from the gazetteer
// file, the others from the hand-written lists below.
const (
	wordGiven           = 1 << iota // a given name
	wordSurname                     // a surname
	wordCommon                      // also an ordinary word ("rose", "will") or a city: a name only with evidence
	wordTitle                       // an honorific before a name ("Dr", "Herr", "Mme")
	wordStop                        // never part of a name: organisation, institution, month, day
	wordParticle                    // a lower-case particle inside a name ("van", "de")
	wordStreet                      // a street type written after the street's name ("Baker Street")
	wordCity                        // a city
	wordStreetFirst                 // a street type written before the name ("rue de la Paix", "Via Roma")
	wordDEStreet                    // a German or Dutch street word after an adjective ("Berliner Straße")
	wordCue                         // right before a name: a label, salutation, relative, clinician ("Patient:", "Liebe", "wife")
	wordPrep                        // a preposition before a two-word name ("for Ianthe Stevens")
	wordEnglish                     // an ordinary English word that is no name ("ask", "need")
	wordPlace                       // a city, whatever else the word is: after a postal code
	wordStreetAdjective             // before a street's name: "Nieuwe", "Lange", "Am", "Gran"
)

// Honorifics in the six languages; a dot after them is skipped.
const titleWords = `mr mrs ms mx miss sir dame lady lord dr doctor prof professor rev
	mme mlle madame mademoiselle monsieur docteur professeur pr
	herr herrn frau fräulein dres med
	sr sra srta señor señora señorita doña dña dra
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
	church cathedral chapel museum library airport station park garden river lake mount mountain island county state general ward room bed unit id no nr
	ihr ihre ihren ihrem ihrer sein seine unser unsere mein meine dein deine bitte vielen danke het zero x-ray
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

// Words right before a name (the last word of a longer cue: "next of
// kin", "personne de confiance", "seen by").
const cueWords = `patient patients patiente patientin patiënt patiënte paziente paciente name nom nombre naam nome
	dear hi hello cher chère chers liebe lieber geehrte geehrter estimado estimada estimados querido querida beste geachte caro cara gentile
	signed signature regards sincerely cordialement grüßen grüße gruß groeten groet saluti saludos atentamente cordiali distinti
	wife husband son daughter mother father brother sister partner spouse friend cousin aunt uncle grandson granddaughter
	grandmother grandfather nephew niece child guardian caregiver
	femme mari épouse époux fils fille mère père frère sœur soeur
	sohn tochter mutter vater bruder schwester ehefrau ehemann enkel enkelin
	esposa esposo marido hijo hija madre padre hermano hermana nieto nieta
	vrouw zoon dochter moeder vader broer zus echtgenote echtgenoot
	moglie marito figlio figlia fratello sorella nipote
	attending physician nurse surgeon by contact contacto contatto contactpersoon kin confiance resident gp intern registrar consultant
	pharmacist therapist midwife holder titular titulaire inhaber kontoinhaber rekeninghouder intestatario bevollmächtigte bevollmächtigter
	assuré assurée versicherte versicherter asegurado asegurada verzekerde assicurato assicurata
	anmeldung aanmelding registrazione inscripción inscription registration
	huisarts hausarzt hausärztin médecin medico médico arzt ärztin named called provider prescriber clinician author`

// Prepositions before a name of two words or more.
const prepWords = `for pour für para per voor van de di von call bel appeler llamar chiamare`

// Particles written in lower case inside a name ("Jan van der Berg",
// "Ana de la Cruz", "Ludwig von Beethoven").
const particleWords = `van der den de la le du des von zu di da del della dos das do ten ter bin ibn al el`

// Street types: a capitalised run ending in one, after a house number, is
// an address, not a name ("221B Baker Street"); streetFirstWords come
// before the street's name ("12 rue de la Paix", "Via Roma 10");
// deStreetWords after a German adjective ("Berliner Straße 5").
const (
	streetWords = `street st road rd avenue ave lane ln drive dr boulevard blvd court ct place pl terrace ter way
	close crescent cres square sq parkway pkwy highway hwy circle cir row mews gardens grove walk hill park
	straße strasse str weg platz allee gasse ring damm ufer
	straat laan gracht plein kade singel dijk steeg`
	streetFirstWords = `rue avenue av bd boulevard place allée allee impasse chemin quai cours route passage square voie faubourg lungarno lungomare lungotevere
	via viale piazza corso largo vicolo strada piazzale
	calle avenida av avda plaza paseo carrer camino carretera ronda travesía`
	deStreetWords = `straße strasse str weg platz allee gasse ring damm ufer chaussee`
	// Before a street's name, written with it: "Nieuwe Binnenweg",
	// "Lange Voorhout", "Am Markt", "Gran Vía", "Alte Landstraße".
	streetAdjectiveWords = `nieuwe oude lange korte grote kleine hoge lage neue alte große grosse obere untere am an im auf zum zur gran`
)

// gazetteer is an open-addressing hash table of words and their flags,
// built once from the lists above and only read after. A word is kept as
// its offset and length in the embedded list (or in extra, for the
// hand-written words the list lacks), so the table costs about seven bytes
// a word.
type gazetteer struct {
	slots   []uint32 // entry index + 1; 0 is empty
	entries []uint32 // offset << 8 | length, into gazetteerText then extra
	heads   []uint64 // an entry's first eight bytes, little endian, zero-padded
	flags   []wordFlags
	extra   string
	mask    uint32
}

var names = newGazetteer()

func newGazetteer() *gazetteer {
	hand := map[string]wordFlags{}
	for _, l := range []struct {
		words string
		flag  wordFlags
	}{{titleWords, wordTitle}, {stopWords, wordStop}, {particleWords, wordParticle}, {streetWords, wordStreet},
		{streetFirstWords, wordStreetFirst}, {deStreetWords, wordDEStreet},
		{cueWords, wordCue}, {prepWords, wordPrep}, {streetAdjectiveWords, wordStreetAdjective}} {
		for _, w := range strings.Fields(l.words) {
			hand[w] |= l.flag
		}
	}
	lines := strings.Count(gazetteerText, "\n") + len(hand)
	size := uint32(1)
	for size < uint32(lines)*7/4 {
		size <<= 1
	}
	g := &gazetteer{slots: make([]uint32, size), mask: size - 1, entries: make([]uint32, 0, lines), heads: make([]uint64, 0, lines), flags: make([]wordFlags, 0, lines)}
	off := 0
	for line := range strings.SplitSeq(gazetteerText, "\n") {
		w, f, ok := strings.Cut(line, "\t")
		if ok && len(w) <= maxGazetteerWord {
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
				case 'x':
					fl |= wordEnglish
				case 'p':
					fl |= wordPlace
				}
			}
			if h, ok := hand[w]; ok {
				fl |= h
				delete(hand, w)
			}
			g.insert(w, uint32(off)<<8|uint32(len(w)), fl)
		}
		off += len(line) + 1
	}
	var extra strings.Builder
	base := len(gazetteerText)
	for w, f := range hand {
		g.insert(w, uint32(base+extra.Len())<<8|uint32(len(w)), f)
		extra.WriteString(w)
	}
	g.extra = extra.String()
	return g
}

func (g *gazetteer) insert(w string, entry uint32, f wordFlags) {
	h := hashFolded([]byte(w)) & g.mask
	for g.slots[h] != 0 {
		h = (h + 1) & g.mask
	}
	g.entries = append(g.entries, entry)
	var head [8]byte
	copy(head[:], w)
	g.heads = append(g.heads, binary.LittleEndian.Uint64(head[:]))
	g.flags = append(g.flags, f)
	g.slots[h] = uint32(len(g.entries))
}

// word returns the text of an entry.
func (g *gazetteer) word(entry uint32) string {
	off, n := int(entry>>8), int(entry&0xff)
	if off < len(gazetteerText) {
		return gazetteerText[off : off+n]
	}
	off -= len(gazetteerText)
	return g.extra[off : off+n]
}

// hashFolded hashes a folded word eight bytes at a time (little endian,
// the last chunk zero-padded), so a lookup of an ASCII word folds and
// hashes it in a word or two without copying it.
func hashFolded(b []byte) uint32 {
	h := uint64(len(b)) * 0x9E3779B97F4A7C15
	for len(b) >= 8 {
		h = hashChunk(h, binary.LittleEndian.Uint64(b))
		b = b[8:]
	}
	if len(b) > 0 {
		h = hashChunk(h, tail8(b))
	}
	return uint32(h >> 32)
}

func hashChunk(h, c uint64) uint64 {
	h = (h ^ c) * 0x9E3779B97F4A7C15
	return h ^ h>>29
}

// maxGazetteerWord bounds the words looked up; longer ones are no names.
const maxGazetteerWord = 32

// lookup returns the flags of the word text[i:j], case folded (ASCII,
// Latin-1 and Latin Extended-A capitals), or 0 if it is unknown.
func (g *gazetteer) lookup(text []byte, i, j int) wordFlags {
	n := j - i
	if n <= 0 || n > maxGazetteerWord {
		return 0
	}
	// ASCII words of up to sixteen bytes, nearly all of them: folded and
	// hashed in place.
	if n <= 16 {
		var lo, hi uint64
		if len(text)-i >= 16 {
			lo, hi = binary.LittleEndian.Uint64(text[i:]), binary.LittleEndian.Uint64(text[i+8:])
		} else {
			var b [16]byte
			copy(b[:], text[i:])
			lo, hi = binary.LittleEndian.Uint64(b[:]), binary.LittleEndian.Uint64(b[8:])
		}
		if n < 8 {
			lo &= 1<<(8*n) - 1
			hi = 0
		} else if n < 16 {
			hi &= 1<<(8*(n-8)) - 1
		}
		if (lo|hi)&highs8 == 0 {
			lo, hi = fold8(lo), fold8(hi)
			h := hashChunk(uint64(n)*0x9E3779B97F4A7C15, lo)
			if n > 8 {
				h = hashChunk(h, hi)
			}
			return g.probeASCII(uint32(h>>32), lo, text[i:j])
		}
	}
	var buf [maxGazetteerWord]byte
	w, ok := foldWord(text[i:j], &buf)
	if !ok {
		return 0
	}
	return g.probe(hashFolded(w), w)
}

// shortToken reads, in one word load, the commonest name token: a capital
// and small ASCII letters, fewer than eight bytes in all, ended by a byte
// that cannot continue a token (not an apostrophe, hyphen or non-ASCII
// byte): it is in small letters, and no initial. It returns the token's
// end, or 0 for nameToken to read it.
func shortToken(text []byte, i int) int {
	if len(text)-i < 8 || !isUpper(text[i]) {
		return 0
	}
	x := binary.LittleEndian.Uint64(text[i:])
	notLower := ^lowers8(x) & highs8 &^ 0x80
	k := bits.TrailingZeros64(notLower) >> 3
	if k < 2 || k >= 8 {
		return 0
	}
	if t := text[i+k]; t >= 0x80 || t == '\'' || t == '-' {
		return 0
	}
	return i + k
}

// lowers8 marks with its top bit each of the eight bytes of x that is an
// ASCII small letter.
func lowers8(x uint64) uint64 {
	const ones, lows = 0x0101010101010101, 0x7f7f7f7f7f7f7f7f
	low := x & lows
	return (low + (0x80-'a')*ones) &^ (low + (0x7f-'z')*ones) &^ x & highs8
}

// lookupShort looks up a token shortToken read: its bytes are in one
// word, folded with one operation.
func (g *gazetteer) lookupShort(text []byte, i, j int) wordFlags {
	n := j - i
	lo := fold8(binary.LittleEndian.Uint64(text[i:])) & (1<<(8*n) - 1)
	h := hashChunk(uint64(n)*0x9E3779B97F4A7C15, lo)
	return g.probeASCII(uint32(h>>32), lo, text[i:j])
}

// probeASCII finds the entry of hash h whose word is the ASCII word w,
// whose first eight bytes folded are head: for most words one compare.
func (g *gazetteer) probeASCII(h uint32, head uint64, w []byte) wordFlags {
	h &= g.mask
	for {
		e := g.slots[h]
		if e == 0 {
			return 0
		}
		if entry := g.entries[e-1]; int(entry&0xff) == len(w) && g.heads[e-1] == head && (len(w) <= 8 || foldEqual(g.word(entry)[8:], w[8:])) {
			return g.flags[e-1]
		}
		h = (h + 1) & g.mask
	}
}

// probe finds the entry of hash h whose word is w, ASCII case folded.
func (g *gazetteer) probe(h uint32, w []byte) wordFlags {
	h &= g.mask
	for {
		e := g.slots[h]
		if e == 0 {
			return 0
		}
		if entry := g.entries[e-1]; int(entry&0xff) == len(w) && foldEqual(g.word(entry), w) {
			return g.flags[e-1]
		}
		h = (h + 1) & g.mask
	}
}

// foldEqual says whether w, its ASCII capitals lowered, is the folded
// word k.
func foldEqual(k string, w []byte) bool {
	for m := 0; m < len(w); m++ {
		if k[m] != lower(w[m]) {
			return false
		}
	}
	return true
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
