package scan

import (
	"fmt"
	"slices"
	"testing"
)

// TestPersonDates: event dates in the six languages, ages over 89, and
// the dates and numbers that are not tied to a person.
func TestPersonDates(t *testing.T) {
	cases := []struct {
		text string
		want []string // class:value
	}{
		{"admitted 2024-01-05, discharged 2024-01-09", []string{"DATE:2024-01-05", "DATE:2024-01-09"}},
		{"born 14 March 1958, admitted 03/02/2024", []string{"DATE_OF_BIRTH:14 March 1958", "DATE:03/02/2024"}},
		{"Patient died on 14.03.2024.", []string{"DATE:14.03.2024"}},
		{"admis le 14 mars 2024, sortie le 20 mars 2024", []string{"DATE:14 mars 2024", "DATE:20 mars 2024"}},
		{"am 14. März 2024 aufgenommen? Ja: aufgenommen am 14. März 2024", []string{"DATE:14. März 2024", "DATE:14. März 2024"}},
		{"Frau Böhm ist am 19.1.2021 verstorben.", []string{"DATE:19.1.2021"}},
		{"Herr Böhm wurde am 2. Mai 1950 geboren.", []string{"DATE_OF_BIRTH:2. Mai 1950"}},
		{"am 14. März 2024 in Berlin.", nil},
		{"ingresó el 14 de marzo de 2024", []string{"DATE:14 de marzo de 2024"}},
		{"opgenomen op 14 maart 2024", []string{"DATE:14 maart 2024"}},
		{"ricoverato il 14 marzo 2024", []string{"DATE:14 marzo 2024"}},
		{"surgery on March 14, 2024", []string{"DATE:March 14, 2024"}},
		{"a 92-year-old man, aged 93, age: 95, 97 y/o, 91 ans, 94 Jahre, 96 años, 98 jaar, 99 anni", []string{"DATE:92", "DATE:93", "DATE:95", "DATE:97", "DATE:91", "DATE:94", "DATE:96", "DATE:98", "DATE:99"}},
		// Not tied to a person, or not over 89.
		{"guideline updated 2024-01-05; invoice dated 14/03/2024", nil},
		{"a 45-year-old woman, aged 89", nil},
		{"BP 95/60, HR 92 bpm, SpO2 98%, 90 mg", nil},
	}
	for _, c := range cases {
		var got []string
		for _, f := range (Scanner{}).Scan([]byte(c.text)) {
			if f.Class == Date || f.Class == DateOfBirth {
				got = append(got, fmt.Sprintf("%s:%s", f.Class, c.text[f.Start:f.End]))
			}
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("%q: %q, want %q", c.text, got, c.want)
		}
	}
}
