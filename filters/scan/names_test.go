package scan

import (
	"bytes"
	"slices"
	"testing"
	"unicode/utf8"
)

// TestNames: names in the six languages with the evidence each form
// needs, and the capitalised words that are no names.
func TestNames(t *testing.T) {
	cases := []struct {
		text string
		want []string
	}{
		{"Patient: Maria Gonzalez-Ruiz, seen by Dr. Okafor on Tuesday.", []string{"Maria Gonzalez-Ruiz", "Okafor"}},
		{"Her daughter Rose called.", []string{"Rose"}},
		{"Mrs. Rich and Mr. Hope attended.", []string{"Rich", "Hope"}},
		{"Will Smith signed the form.", []string{"Will Smith"}},
		{"Jan van der Berg lives here.", []string{"Jan van der Berg"}},
		{"Dear Anna, thanks for the update. Regards, Paul Weber", []string{"Anna", "Paul Weber"}},
		{"Sehr geehrte Frau Müller-Lüdenscheidt, wir haben Herrn Schmidt informiert.", []string{"Müller-Lüdenscheidt", "Schmidt"}},
		{"Chère Mme Dubois, votre fils Théo est sorti. Cordialement, Élodie Lefèvre", []string{"Dubois", "Théo", "Élodie Lefèvre"}},
		{"Estimado Sr. García, su hija Lucía está bien. Atentamente, José Luis Fernández", []string{"García", "Lucía", "José Luis Fernández"}},
		{"Geachte heer De Vries, uw zoon Daan is ontslagen.", []string{"De Vries", "Daan"}},
		{"Gentile Sig.ra Rossi, sua figlia Giulia sta bene. Dott.ssa Bruno", []string{"Rossi", "Giulia", "Bruno"}},
		{"JOHN SMITH was discharged.", []string{"JOHN SMITH"}},
		{"Dupont, Marie arrived at noon.", []string{"Dupont, Marie"}},
		{"Ask Ahmed or Nguyen Van An.", []string{"Ahmed", "Nguyen Van An"}},
		{"Ms. O'Brien and D'Angelo and D’Angelo agreed.", []string{"O'Brien", "D'Angelo", "D’Angelo"}},
		{"Mme de La Tour signed.", []string{"de La Tour"}},
		// Not names.
		{"The patient was admitted to Johns Hopkins Hospital.", nil},
		{"History of Parkinson's disease and Crohn's disease; Babinski sign positive; Hodgkin lymphoma.", nil},
		{"Metformin 500 mg twice daily. Humira 40 mg.", nil},
		{"The conference in Paris moved to Madrid.", nil},
		{"Grant access to the server. May I help? Mark the box.", nil},
		{"Die Rose blüht. The Rose Garden opens.", nil},
		{"Mayo Clinic and Deutsche Bank reported results on Monday in March.", nil},
	}
	for _, c := range cases {
		var got []string
		for _, f := range (Scanner{}).Scan([]byte(c.text)) {
			if f.Class == Name {
				got = append(got, c.text[f.Start:f.End])
			}
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("%q: names %q, want %q", c.text, got, c.want)
		}
	}
}

// TestGazetteerFold: a word is found whatever its capitals, in ASCII,
// Latin-1 and Latin Extended-A.
func TestGazetteerFold(t *testing.T) {
	for _, w := range []string{"maria", "MARIA", "Maria", "élodie", "ÉLODIE", "müller", "MÜLLER", "łukasz", "ŁUKASZ"} {
		b := []byte(w)
		if names.lookup(b, 0, len(b))&(wordGiven|wordSurname) == 0 {
			t.Errorf("%q is not in the gazetteer", w)
		}
	}
}

// FuzzGazetteerLookup: folding never panics, a folded word is no longer
// than the word, and case never changes what a valid UTF-8 word is.
func FuzzGazetteerLookup(f *testing.F) {
	for _, s := range []string{"Maria", "ÉLODIE", "D’Angelo", "Łukasz", "\xc3", "\xc5\xbd", "\xe2\x80"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, w []byte) {
		var buf [maxGazetteerWord]byte
		folded, ok := foldWord(w, &buf)
		if ok && len(folded) > len(w) {
			t.Fatalf("fold of %q grew to %q", w, folded)
		}
		a := names.lookup(w, 0, len(w))
		if utf8.Valid(w) {
			if b := names.lookup(bytes.ToUpper(folded), 0, len(folded)); ok && a != b && bytes.Equal(bytes.ToLower(bytes.ToUpper(folded)), folded) {
				t.Fatalf("%q: flags %b, upper-cased %b", w, a, b)
			}
		}
		nameToken(w, 0)
		matchName(w, 0)
	})
}
