package scan

// VEHICLE: a vehicle identification number, found anywhere by its check
// digit (ISO 3779 as North America requires it), and a licence plate after
// a plate word. DEVICE: a device's serial number after a serial word
// (contextRuleTable), and a GS1 UDI by its application identifiers and
// the GTIN's check digit.

// vinValue is a VIN character's value in the check digit's sum; 0xff for
// the letters a VIN never has (I, O, Q) and anything else.
var vinValue = func() (t [256]byte) {
	for i := range t {
		t[i] = 0xff
	}
	for c := byte('0'); c <= '9'; c++ {
		t[c] = c - '0'
	}
	for i, c := range []byte("ABCDEFGH") {
		t[c] = byte(i + 1)
	}
	for i, c := range []byte("JKLMN") {
		t[c] = byte(i + 1)
	}
	t['P'], t['R'] = 7, 9
	for i, c := range []byte("STUVWXYZ") {
		t[c] = byte(i + 2)
	}
	return t
}()

var vinWeights = [17]int{8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2}

// validVIN checks a 17-character VIN's check digit (its ninth character,
// X standing for 10); it must also hold a letter.
func validVIN(v []byte) bool {
	if len(v) != 17 {
		return false
	}
	sum, letters := 0, 0
	for k, c := range v {
		x := vinValue[c]
		if x == 0xff {
			return false
		}
		if isUpper(c) {
			letters++
		}
		sum += int(x) * vinWeights[k]
	}
	check := byte('0' + sum%11)
	if sum%11 == 10 {
		check = 'X'
	}
	// The maker's code (the first three characters) has a letter in
	// every VIN issued.
	return letters > 0 && v[8] == check && (isUpper(v[0]) || isUpper(v[1]) || isUpper(v[2]))
}

// matchVIN reads a VIN at i.
func matchVIN(text []byte, i int) (Finding, bool) {
	if len(text)-i < 17 || i > 0 && isAlnum(text[i-1]) || i+17 < len(text) && isAlnum(text[i+17]) || !validVIN(text[i:i+17]) {
		return Finding{}, false
	}
	return Finding{Class: Vehicle, Start: i, End: i + 17, Confidence: 0.95}, true
}

// plateContext are the words before a licence plate.
var plateContext = newContext(32, "plate", "license plate", "licence plate", "number plate", "vehicle registration", "car registration", "registration plate", "registration mark", "reg no", "reg. no",
	"immatriculation", "immatriculée", "immatriculé", "plaque", "kennzeichen", "kfz", "matrícula", "matricula",
	"kenteken", "targa", "vehicle", "véhicule", "fahrzeug", "vehículo", "voertuig", "veicolo")

// matchPlate reads a licence plate at i — groups of capitals and digits
// joined by single dashes or spaces ("AB-123-CD", "B-MW 1234", "1234 BCD",
// "12-ABC-3", "7ABC123"), five to nine characters with a letter and a
// digit — and reports it when a plate word comes before it.
func matchPlate(text []byte, i int) (Finding, bool) {
	n := len(text)
	if i > 0 && (isAlnum(text[i-1]) || text[i-1] == '-') {
		return Finding{}, false
	}
	if isDigit(text[i]) {
		// A plate starting with a digit has a letter within its first six
		// bytes ("1234 BCD", "12-ABC-3"): other numbers stop here.
		k := i + 1
		for k < n && k < i+6 && !isUpper(text[k]) {
			k++
		}
		if k >= n || k == i+6 {
			return Finding{}, false
		}
	}
	j, chars, letters, digits, groups := i, 0, 0, 0, 1
	for j < n {
		c := text[j]
		switch {
		case isUpper(c):
			letters++
		case isDigit(c):
			digits++
		case (c == '-' || c == ' ') && j > i && j+1 < n && (isUpper(text[j+1]) || isDigit(text[j+1])) && groups < 4 &&
			(c == '-' || groupLen(text, j+1) <= 4):
			groups++
			j++
			continue
		default:
			goto done
		}
		chars++
		j++
		if chars > 9 {
			return Finding{}, false
		}
	}
done:
	if chars < 5 || letters == 0 || digits == 0 || j < n && (isAlnum(text[j]) || text[j] == '-') {
		return Finding{}, false
	}
	if !plateContext.before(text, i) {
		return Finding{}, false
	}
	return Finding{Class: Vehicle, Start: i, End: j, Confidence: 0.85}, true
}

// groupLen is the length of the run of capitals and digits at j.
func groupLen(text []byte, j int) int {
	k := j
	for k < len(text) && (isUpper(text[k]) || isDigit(text[k])) {
		k++
	}
	return k - j
}

// gs1Lengths are the lengths of the GS1 application identifiers a UDI
// carries: the GTIN (01) fixed at 14 digits, dates (11, 17) at 6, and the
// lot (10) and serial (21) variable up to 20.
func gs1Length(ai string) (fixed, max int) {
	switch ai {
	case "01":
		return 14, 14
	case "11", "17":
		return 6, 6
	case "10", "21":
		return 0, 20
	}
	return -1, 0
}

// matchUDI reads a GS1 unique device identifier in its human-readable
// form at i: "(01)" and a GTIN-14 with a valid check digit, then further
// "(AI)value" elements.
func matchUDI(text []byte, i int) (Finding, bool) {
	n := len(text)
	if !hasPrefixAt(text, i, "(01)") {
		return Finding{}, false
	}
	j := i
	for j+4 <= n && text[j] == '(' && text[j+3] == ')' {
		fixed, max := gs1Length(string(text[j+1 : j+3]))
		if fixed < 0 {
			break
		}
		v := j + 4
		k := v
		for k < n && k-v < max && (isAlnum(text[k]) || text[k] == '-') {
			k++
		}
		if k == v || fixed > 0 && k-v != fixed {
			return Finding{}, false
		}
		if j == i && !gtinCheck(text[v:k]) {
			return Finding{}, false
		}
		j = k
	}
	if j < n && isAlnum(text[j]) {
		return Finding{}, false
	}
	return Finding{Class: Device, Start: i, End: j, Confidence: 0.95}, true
}

// gtinCheck validates a GTIN's check digit (weights 3 and 1 from the
// right, the sum a multiple of ten).
func gtinCheck(d []byte) bool {
	sum := 0
	for k := 0; k < len(d); k++ {
		if !isDigit(d[k]) {
			return false
		}
		w := 1
		if (len(d)-1-k)%2 == 1 {
			w = 3
		}
		sum += int(d[k]-'0') * w
	}
	return sum%10 == 0
}
