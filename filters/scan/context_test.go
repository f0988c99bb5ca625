package scan

import "testing"

// beforeRef is contextWords.before one byte at a time.
func (cw *contextWords) beforeRef(text []byte, i int) bool {
	for j := max(i-cw.window, 0); j < i; j++ {
		if j > 0 && isAlpha(text[j-1]) {
			continue
		}
		for _, w := range cw.words {
			if j+len(w) <= i && hasFoldPrefixAt(text, j, w) {
				return true
			}
		}
	}
	return false
}

var allContexts = map[string]*contextWords{
	"card": &cardContext, "cardID": &cardIDContext, "ssn": &ssnContext, "phone": &phoneContext,
	"phoneID": &phoneIDContext, "version": &versionContext, "ip": &ipContext, "birth": &birthContext,
	"fax": &faxContext, "event": &eventContext, "name": &nameContext, "nationalPhone": &nationalPhoneContext,
	"nationalID": &nationalIDContext, "plate": &plateContext,
}

func TestContextWordsStart(t *testing.T) {
	for name, cw := range allContexts {
		for _, w := range cw.words {
			if !isLower(w[0]) && w[0] != '#' {
				t.Errorf("%s context word %q starts with %q: before finds only words starting with a lower-case letter or '#'", name, w, w[0])
			}
		}
	}
}

func FuzzContextBefore(f *testing.F) {
	for _, s := range []string{
		"card 4111", "Visa: 4111", "xcard 4", "order#12345", "ORDER # 1", "a#1", "born on 1990-01-02",
		"Date Of Birth: 01/02/1990", "social security 123", "phone\u00e9call 5", "\xc1card 1",
		"tel:+1 555", "the mastercard number is", "ss#123", "id 5", "some text before then call me at 555",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, text []byte) {
		for name, cw := range allContexts {
			for i := 0; i <= len(text); i++ {
				if got, want := cw.before(text, i), cw.beforeRef(text, i); got != want {
					t.Fatalf("%s context before %d in %q: %v, one byte at a time %v", name, i, text, got, want)
				}
			}
		}
	})
}
