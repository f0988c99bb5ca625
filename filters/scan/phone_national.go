package scan

// National phone numbers in the formats of the United Kingdom, France,
// Germany, the Netherlands and Italy (a trunk 0 first: "020 7946 0958",
// "01 23 45 67 89", "030 12345678", "020-1234567", "02 1234 5678"), Spain
// (nine digits from 6 to 9: "912 345 678") and Italian mobiles ("333 123
// 4567"). Grouped trunk numbers are found alone; bare ones and the others
// need a phone word before them.

// nationalPhoneContext are the phone words of the six languages.
var nationalPhoneContext = newContext(32, "phone", "tel", "tél", "téléphone", "telephone", "call", "mobile", "cell", "fax",
	"contact", "whatsapp", "portable", "telefono", "telefonico", "cellulare", "móvil", "movil", "teléfono", "telefoon", "mobiel",
	"handy", "telefon", "rufnummer", "bel", "appeler", "llamar", "chiamare", "ring", "numéro", "número", "numero", "nummer")

// nationalIDContext are the id words before a number grouped like a phone
// number that make it no phone number.
var nationalIDContext = newContext(16, "sin", "nhs", "bsn", "tfn", "nir", "ssn", "itin", "npi", "insee", "sécu", "account", "acct")

// matchNationalPhone reads a national phone number at i.
func matchNationalPhone(text []byte, i int) (Finding, bool) {
	n := len(text)
	if i > 0 && (isAlnum(text[i-1]) || text[i-1] == '+' || text[i-1] == '.' || text[i-1] == '-' || text[i-1] == '/') ||
		i > 1 && text[i-1] == ' ' && isDigit(text[i-2]) {
		return Finding{}, false // inside a longer number written in groups ("2 48 04 67 608 368 87")
	}
	j, digits, groups, first := i, 0, 0, 0
	var sep byte
	for j < n {
		c := text[j]
		if isDigit(c) {
			digits++
			j++
			if j == n || !isDigit(text[j]) {
				groups++
				if groups == 1 {
					first = digits
				}
			}
			if digits > 12 {
				return Finding{}, false
			}
			continue
		}
		if (c == ' ' || c == '-' || c == '.' || c == '/') && j+1 < n && isDigit(text[j+1]) && j > i && (sep == 0 || sep == c || c == ' ' && sep == '/') {
			if sep == 0 {
				sep = c
			}
			j++
			continue
		}
		break
	}
	if !endsClean(text, j) || j < n && text[j] == ',' && j+1 < n && isDigit(text[j+1]) {
		return Finding{}, false
	}
	trunk := text[i] == '0' && i+1 < n && text[i+1] != '0'
	switch {
	case trunk && digits >= 9 && digits <= 12 && first <= 5:
		// Dashes join two groups ("020-1234567", "06-12345678"), dots
		// five (French "06.12.34.56.78"), spaces any.
		if sep == ' ' && groups >= 2 || sep == '-' && (groups == 2 || groups == 3 && digits >= 10 && first >= 2) || sep == '/' && groups == 2 || sep == '.' && groups == 5 {
			conf := 0.8
			if nationalPhoneContext.before(text, i) {
				conf = 0.95
			} else if nationalIDContext.before(text, i) {
				return Finding{}, false // "SIN 046 454 286": an id, if an invalid one
			}
			return Finding{Class: phoneClass(text, i), Start: i, End: j, Confidence: conf}, true
		}
	case text[i] >= '6' && text[i] <= '9' && digits == 9, text[i] == '3' && digits == 10:
		// Spain, Italian mobiles: a phone word is needed.
	default:
		return Finding{}, false
	}
	if !nationalPhoneContext.before(text, i) {
		return Finding{}, false
	}
	return Finding{Class: phoneClass(text, i), Start: i, End: j, Confidence: 0.9}, true
}
