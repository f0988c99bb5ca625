package scan

import (
	"slices"
	"testing"
)

// TestAddresses: street addresses in the seven countries' forms, PO boxes
// and postal codes with their city, and numbers that are no address.
func TestAddresses(t *testing.T) {
	cases := []struct {
		text string
		want []string
	}{
		{"Lives at 742 Evergreen Terrace, Springfield, IL 62704.", []string{"742 Evergreen Terrace, Springfield, IL 62704"}},
		{"Office: 1600 Pennsylvania Avenue NW, Washington, DC 20500 USA.", []string{"1600 Pennsylvania Avenue NW, Washington, DC 20500"}},
		{"742 Evergreen Terrace, Apt 4B, Springfield, IL 62704", []string{"742 Evergreen Terrace, Apt 4B, Springfield, IL 62704"}},
		{"350 5th Avenue, Suite 200", []string{"350 5th Avenue, Suite 200"}},
		{"221B Baker Street, London NW1 6XE.", []string{"221B Baker Street, London NW1 6XE"}},
		{"Send to 12 rue de la Paix, 75002 Paris, France.", []string{"12 rue de la Paix, 75002 Paris"}},
		{"3 bis avenue Foch", []string{"3 bis avenue Foch"}},
		{"Wohnt in der Hauptstraße 5, 10115 Berlin; Büro Berliner Str. 12a.", []string{"Hauptstraße 5, 10115 Berlin", "Berliner Str. 12a"}},
		{"Prinsengracht 263-267, 1016 GV Amsterdam", []string{"Prinsengracht 263-267, 1016 GV Amsterdam"}},
		{"Calle Mayor 5, 28013 Madrid. Avenida de la Constitución 12.", []string{"Calle Mayor 5, 28013 Madrid", "Avenida de la Constitución 12"}},
		{"Via Roma 10, 00184 Roma. Piazza Navona 5.", []string{"Via Roma 10, 00184 Roma", "Piazza Navona 5"}},
		{"PO Box 1234, P.O. Box 77, Postfach 1234, BP 45", []string{"PO Box 1234", "P.O. Box 77", "Postfach 1234", "BP 45"}},
		{"Apartado de correos 123, Casella postale 12, Postbus 123.", []string{"Apartado de correos 123", "Casella postale 12", "Postbus 123"}},
		{"She lives in 75011 Paris. Boston, MA 02115.", []string{"75011 Paris", "Boston, MA 02115"}},
		// Not addresses.
		{"Take 2 tablets, 500 mg. Room 12, Bed 4. Ward 7B.", nil},
		{"street drugs; 5 Main reasons; The 3 Musketeers; 2024 Annual Report", nil},
		{"moved to Paris; 10000 Units; flights to Madrid", nil},
	}
	for _, c := range cases {
		var got []string
		for _, f := range (Scanner{}).Scan([]byte(c.text)) {
			if f.Class == Address {
				got = append(got, c.text[f.Start:f.End])
			}
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("%q: addresses %q, want %q", c.text, got, c.want)
		}
	}
}
