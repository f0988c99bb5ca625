package main

// Hand-written lists of real cities (with the leading digits of their postal
// codes) and street names per country, and the national formats of
// addresses, phone numbers and licence plates.

import (
	"fmt"
	"math/rand/v2"
	"strings"
)

type city struct{ name, code string } // code: postal code prefix, or for the US "ST 123"

var cities = map[string][]city{
	"US": {{"Springfield", "IL 627"}, {"Boston", "MA 021"}, {"Columbus", "OH 432"}, {"Austin", "TX 787"}, {"Denver", "CO 802"}, {"Portland", "OR 972"},
		{"Seattle", "WA 981"}, {"Phoenix", "AZ 850"}, {"Atlanta", "GA 303"}, {"Nashville", "TN 372"}, {"Madison", "WI 537"}, {"Raleigh", "NC 276"},
		{"Tucson", "AZ 857"}, {"Omaha", "NE 681"}, {"Baltimore", "MD 212"}, {"Albany", "NY 122"}, {"Sacramento", "CA 958"}, {"Richmond", "VA 232"},
		{"Cleveland", "OH 441"}, {"Pittsburgh", "PA 152"}, {"Ann Arbor", "MI 481"}, {"Salt Lake City", "UT 841"}, {"New Haven", "CT 065"}, {"Rochester", "MN 559"}},
	"GB": {{"London", "NW1"}, {"London", "SW6"}, {"London", "E8"}, {"London", "N16"}, {"Leeds", "LS6"}, {"Manchester", "M14"}, {"Bristol", "BS8"},
		{"Birmingham", "B15"}, {"Glasgow", "G12"}, {"Edinburgh", "EH9"}, {"Cardiff", "CF24"}, {"Liverpool", "L17"}, {"Sheffield", "S10"},
		{"Nottingham", "NG7"}, {"Oxford", "OX2"}, {"Cambridge", "CB2"}, {"Brighton", "BN1"}, {"Newcastle upon Tyne", "NE2"}, {"York", "YO10"}, {"Bath", "BA2"}},
	"FR": {{"Paris", "750"}, {"Lyon", "6900"}, {"Marseille", "130"}, {"Toulouse", "3100"}, {"Nice", "0600"}, {"Nantes", "4400"}, {"Strasbourg", "6700"},
		{"Montpellier", "3400"}, {"Bordeaux", "3300"}, {"Lille", "5900"}, {"Rennes", "3500"}, {"Reims", "5110"}, {"Grenoble", "3800"}, {"Dijon", "2100"},
		{"Angers", "4900"}, {"Brest", "2920"}, {"Tours", "3700"}, {"Limoges", "8700"}, {"Clermont-Ferrand", "6300"}, {"Saint-Étienne", "4200"}},
	"DE": {{"Berlin", "10"}, {"Hamburg", "20"}, {"München", "80"}, {"Köln", "50"}, {"Frankfurt am Main", "60"}, {"Stuttgart", "70"}, {"Düsseldorf", "40"},
		{"Leipzig", "04"}, {"Dresden", "01"}, {"Hannover", "30"}, {"Nürnberg", "90"}, {"Bremen", "28"}, {"Essen", "45"}, {"Freiburg im Breisgau", "79"},
		{"Heidelberg", "69"}, {"Münster", "48"}, {"Bonn", "53"}, {"Mainz", "55"}, {"Kiel", "24"}, {"Rostock", "18"}},
	"NL": {{"Amsterdam", "10"}, {"Rotterdam", "30"}, {"Den Haag", "25"}, {"Utrecht", "35"}, {"Eindhoven", "56"}, {"Groningen", "97"}, {"Tilburg", "50"},
		{"Almere", "13"}, {"Breda", "48"}, {"Nijmegen", "65"}, {"Haarlem", "20"}, {"Arnhem", "68"}, {"Leiden", "23"}, {"Maastricht", "62"},
		{"Zwolle", "80"}, {"Delft", "26"}, {"Amersfoort", "38"}, {"Apeldoorn", "73"}, {"Enschede", "75"}, {"'s-Hertogenbosch", "52"}},
	"ES": {{"Madrid", "280"}, {"Barcelona", "080"}, {"Valencia", "460"}, {"Sevilla", "410"}, {"Zaragoza", "500"}, {"Málaga", "290"}, {"Bilbao", "480"},
		{"Murcia", "300"}, {"Palma", "070"}, {"Valladolid", "470"}, {"Vigo", "362"}, {"Gijón", "332"}, {"Granada", "180"}, {"Alicante", "030"},
		{"Córdoba", "140"}, {"Salamanca", "370"}, {"Pamplona", "310"}, {"San Sebastián", "200"}, {"Santander", "390"}, {"Oviedo", "330"}},
	"IT": {{"Roma", "001"}, {"Milano", "201"}, {"Napoli", "801"}, {"Torino", "101"}, {"Palermo", "901"}, {"Genova", "161"}, {"Bologna", "401"},
		{"Firenze", "501"}, {"Bari", "701"}, {"Catania", "951"}, {"Venezia", "301"}, {"Verona", "371"}, {"Padova", "351"}, {"Trieste", "341"},
		{"Brescia", "251"}, {"Parma", "431"}, {"Modena", "411"}, {"Perugia", "061"}, {"Cagliari", "091"}, {"Pisa", "561"}},
}

var streets = map[string][]string{
	"US": {"Evergreen Terrace", "Maple Avenue", "Oak Street", "Elm Drive", "Pine Road", "Cedar Lane", "Washington Boulevard", "Lincoln Avenue",
		"Main Street", "Park Place", "Lakeview Drive", "Sunset Boulevard", "Hillcrest Road", "Willow Court", "Chestnut Street", "Jefferson Street",
		"Highland Avenue", "Riverside Drive", "Franklin Street", "Spring Street", "Meadow Lane", "Church Street", "Broadway", "Madison Avenue"},
	"GB": {"Baker Street", "Elm Grove", "Church Lane", "High Street", "Victoria Road", "Station Road", "Mill Lane", "Queen's Road", "Kingsway",
		"Albert Street", "Park Crescent", "Manor Road", "Green Lane", "York Road", "Cromwell Road", "Abbey Road", "Gloucester Place", "Marylebone Road",
		"Holloway Road", "Woodland Avenue"},
	"FR": {"rue de la Paix", "avenue Foch", "boulevard Haussmann", "rue Victor Hugo", "rue de Rivoli", "avenue Jean Jaurès", "rue des Lilas",
		"place de la République", "rue du Faubourg Saint-Antoine", "boulevard Saint-Michel", "rue Pasteur", "allée des Tilleuls", "chemin des Vignes",
		"rue Nationale", "quai de la Tournelle", "rue Gambetta", "impasse des Rosiers", "avenue de la Liberté", "rue du Moulin", "cours Mirabeau"},
	"DE": {"Hauptstraße", "Berliner Str.", "Bahnhofstraße", "Schillerstraße", "Goethestraße", "Lindenallee", "Gartenweg", "Am Markt",
		"Kirchgasse", "Friedrichstraße", "Marienplatz", "Schulstraße", "Ringstraße", "Mozartstr.", "Bergstraße", "Waldweg", "Rosenstraße",
		"Kaiserstraße", "Uhlandstraße", "Hohenzollernring"},
	"NL": {"Prinsengracht", "Keizersgracht", "Herengracht", "Kerkstraat", "Dorpsstraat", "Molenweg", "Stationsweg", "Julianalaan",
		"Wilhelminastraat", "Oudegracht", "Coolsingel", "Lange Voorhout", "Kalverstraat", "Schoolstraat", "Marktplein", "Beatrixlaan",
		"Nieuwe Binnenweg", "Vondelstraat", "Spoorlaan", "Zeeweg"},
	"ES": {"Calle Mayor", "Avenida de la Constitución", "Calle de Alcalá", "Gran Vía", "Paseo de Gracia", "Calle Real", "Plaza de España",
		"Calle del Sol", "Avenida Diagonal", "Calle San Fernando", "Rambla de Catalunya", "Calle de Toledo", "Paseo del Prado", "Calle Larios",
		"Avenida de América", "Calle Serrano", "Calle de la Paz", "Ronda de Atocha", "Calle Nueva", "Avenida del Puerto"},
	"IT": {"Via Roma", "Piazza Navona", "Via Garibaldi", "Corso Buenos Aires", "Via del Corso", "Via Mazzini", "Viale dei Mille", "Piazza del Duomo",
		"Via Dante", "Corso Vittorio Emanuele II", "Via Nazionale", "Via Appia Nuova", "Via Toledo", "Via dei Fori Imperiali", "Lungarno Corsini",
		"Via Etnea", "Via XX Settembre", "Piazza San Marco", "Via Cavour", "Viale Monza"},
}

var countryName = map[string][]string{
	"US": {"USA", "United States"}, "GB": {"UK", "United Kingdom"}, "FR": {"France"}, "DE": {"Deutschland", "Germany"},
	"NL": {"Nederland", "the Netherlands"}, "ES": {"España", "Spain"}, "IT": {"Italia", "Italy"},
}

func postalCity(r *rand.Rand, cc string) string {
	c := cities[cc][r.IntN(len(cities[cc]))]
	switch cc {
	case "US":
		return fmt.Sprintf("%s, %s%02d", c.name, c.code, r.IntN(100))
	case "GB":
		return fmt.Sprintf("%s %s %d%c%c", c.name, c.code, r.IntN(10), "ABDEFGHJLNPQRSTUWXYZ"[r.IntN(20)], "ABDEFGHJLNPQRSTUWXYZ"[r.IntN(20)])
	case "FR":
		if c.name == "Paris" {
			return fmt.Sprintf("750%02d Paris", 1+r.IntN(20))
		}
		if len(c.code) == 4 {
			return fmt.Sprintf("%s%d %s", c.code, r.IntN(10), c.name)
		}
		return fmt.Sprintf("%s%02d %s", c.code, 1+r.IntN(16), c.name)
	case "DE":
		return fmt.Sprintf("%s%03d %s", c.code, 1+r.IntN(999), c.name)
	case "NL":
		const L = "ABCEGHJKLMNPRTVWXZ"
		return fmt.Sprintf("%s%02d %c%c %s", c.code, 10+r.IntN(90), L[r.IntN(len(L))], L[r.IntN(len(L))], c.name)
	case "ES":
		return fmt.Sprintf("%s%02d %s", c.code, 1+r.IntN(50), c.name)
	case "IT":
		return fmt.Sprintf("%s%02d %s", c.code, r.IntN(60), c.name)
	}
	return ""
}

// cityOnly: the postal code's city for a country, for the US "City, ST ZIP".
func houseNumber(r *rand.Rand, cc string) string {
	n := 1 + r.IntN(180)
	switch cc {
	case "US":
		return fmt.Sprint(10 + r.IntN(9900))
	case "GB":
		if r.IntN(6) == 0 {
			return fmt.Sprintf("%d%c", n, "ABC"[r.IntN(3)])
		}
	case "FR":
		if r.IntN(6) == 0 {
			return fmt.Sprintf("%d %s", n, []string{"bis", "ter"}[r.IntN(2)])
		}
	case "DE", "NL":
		if r.IntN(5) == 0 {
			return fmt.Sprintf("%d%c", n, "abcd"[r.IntN(4)])
		}
	}
	return fmt.Sprint(n)
}

// address: a full street address in the country's format.
func address(r *rand.Rand, cc string) string {
	st := streets[cc][r.IntN(len(streets[cc]))]
	h := houseNumber(r, cc)
	pc := postalCity(r, cc)
	switch cc {
	case "US":
		unit := ""
		switch r.IntN(5) {
		case 0:
			unit = fmt.Sprintf(", Apt %d%c", 1+r.IntN(20), "ABCD"[r.IntN(4)])
		case 1:
			unit = fmt.Sprintf(" Suite %d", 100*(1+r.IntN(9)))
		case 2:
			unit = fmt.Sprintf(" #%d", 1+r.IntN(40))
		}
		return fmt.Sprintf("%s %s%s, %s", h, st, unit, pc)
	case "GB":
		return fmt.Sprintf("%s %s, %s", h, st, pc)
	case "FR":
		if r.IntN(3) == 0 {
			return fmt.Sprintf("%s %s", h, st)
		}
		return fmt.Sprintf("%s %s, %s", h, st, pc)
	case "DE", "NL":
		if r.IntN(4) == 0 {
			return fmt.Sprintf("%s %s", st, h)
		}
		return fmt.Sprintf("%s %s, %s", st, h, pc)
	case "ES":
		flat := ""
		if r.IntN(3) == 0 {
			flat = fmt.Sprintf(", %dº %c", 1+r.IntN(9), "ABCD"[r.IntN(4)])
		}
		if r.IntN(4) == 0 {
			return fmt.Sprintf("%s %s%s", st, h, flat)
		}
		return fmt.Sprintf("%s %s%s, %s", st, h, flat, pc)
	case "IT":
		if r.IntN(4) == 0 {
			return fmt.Sprintf("%s %s", st, h)
		}
		return fmt.Sprintf("%s %s, %s", st, h, pc)
	}
	return ""
}

func poBox(r *rand.Rand, cc string) string {
	n := fmt.Sprint(1 + r.IntN(9999))
	var s string
	switch cc {
	case "US", "GB":
		s = []string{"PO Box ", "P.O. Box "}[r.IntN(2)] + n
	case "FR":
		s = "BP " + n
	case "DE":
		s = "Postfach " + n
	case "NL":
		s = "Postbus " + n
	case "ES":
		s = "Apartado de correos " + n
	case "IT":
		s = "Casella postale " + n
	}
	if r.IntN(2) == 0 {
		s += ", " + postalCity(r, cc)
	}
	return s
}

func phone(r *rand.Rand, cc string) string {
	d := func(n int) string { return digitsN(r, n) }
	switch cc {
	case "US":
		a, x := 201+r.IntN(780), 201+r.IntN(780)
		return []string{fmt.Sprintf("(%d) %d-%s", a, x, d(4)), fmt.Sprintf("%d-%d-%s", a, x, d(4)), fmt.Sprintf("+1 %d %d %s", a, x, d(4))}[r.IntN(3)]
	case "GB":
		return []string{"020 7" + d(3) + " " + d(4), "+44 20 7" + d(3) + " " + d(4), "07700 9" + d(5), "0161 " + d(3) + " " + d(4)}[r.IntN(4)]
	case "FR":
		g := func() string { return d(2) }
		lead := []string{"01", "02", "03", "04", "05", "06", "07"}[r.IntN(7)]
		if r.IntN(4) == 0 {
			return fmt.Sprintf("+33 %s %s %s %s %s", lead[1:], g(), g(), g(), g())
		}
		return fmt.Sprintf("%s %s %s %s %s", lead, g(), g(), g(), g())
	case "DE":
		return []string{"030 " + d(8), "089 " + d(7), "+49 30 " + d(8), "0151 " + d(8), "040 " + d(3) + " " + d(4), "0221 " + d(6)}[r.IntN(6)]
	case "NL":
		return []string{"020-" + d(7), "010-" + d(7), "06-" + d(8), "+31 20 " + d(3) + " " + d(4), "030 " + d(3) + " " + d(4)}[r.IntN(5)]
	case "ES":
		return []string{"91" + d(1) + " " + d(3) + " " + d(3), "93" + d(1) + " " + d(3) + " " + d(3), "6" + d(2) + " " + d(3) + " " + d(3), "+34 91" + d(1) + " " + d(3) + " " + d(3)}[r.IntN(4)]
	case "IT":
		return []string{"02 " + d(4) + " " + d(4), "06 " + d(4) + " " + d(4), "+39 02 " + d(4) + " " + d(4), "3" + d(2) + " " + d(3) + " " + d(4), "011 " + d(3) + " " + d(4)}[r.IntN(5)]
	}
	return ""
}

func plate(r *rand.Rand, cc string) string {
	const L = "ABCDEFGHJKLMNPRSTVWXYZ"
	const cons = "BCDFGHJKLMNPRSTVWXYZ"
	l := func(n int) string {
		var b strings.Builder
		for range n {
			b.WriteByte(L[r.IntN(len(L))])
		}
		return b.String()
	}
	switch cc {
	case "FR":
		return l(2) + "-" + digitsN(r, 3) + "-" + l(2)
	case "DE":
		city := []string{"B", "M", "HH", "K", "F", "S", "D", "L", "DD", "H", "N", "HB", "E", "FR", "HD"}[r.IntN(15)]
		return fmt.Sprintf("%s-%s %d", city, l(1+r.IntN(2)), 1+r.IntN(9999))
	case "ES":
		var b strings.Builder
		for range 3 {
			b.WriteByte(cons[r.IntN(len(cons))])
		}
		return digitsN(r, 4) + " " + b.String()
	case "NL":
		return []string{digitsN(r, 2) + "-" + l(3) + "-" + digitsN(r, 1), l(2) + "-" + digitsN(r, 3) + "-" + l(1), digitsN(r, 1) + "-" + l(3) + "-" + digitsN(r, 2)}[r.IntN(3)]
	case "IT":
		return l(2) + " " + digitsN(r, 3) + " " + l(2)
	case "GB":
		return l(2) + digitsN(r, 2) + " " + l(3)
	}
	return fmt.Sprintf("%d%s%s", 1+r.IntN(9), l(3), digitsN(r, 3))
}
