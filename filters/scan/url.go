package scan

// --- URL ---------------------------------------------------------------

// urlIDParams are query parameter names whose values identify a person or
// grant access; a URL carrying one is reported whole. Read-only.
var urlIDParams = [...]string{
	"token", "access_token", "id_token", "refresh_token", "api_key", "apikey", "key", "sig", "signature",
	"session", "sessionid", "sid", "auth", "code", "password", "pwd",
	"patient", "patient_id", "patientid", "mrn", "ssn", "email", "user", "user_id", "userid", "uid", "member_id", "dob", "name", "phone",
}

// matchURL reads an http(s) URL at i and reports it when it carries an
// identifier: a query parameter named as one (token=, patient_id=,
// email=, …), an email address, or a path segment of six or more digits
// (/patients/12345678). URLs without one name a page, not a person.
func matchURL(text []byte, i int) (Finding, bool) {
	j := i
	switch {
	case hasFoldPrefixAt(text, i, "https://"):
		j += 8
	case hasFoldPrefixAt(text, i, "http://"):
		j += 7
	default:
		return Finding{}, false
	}
	hostStart := j
	for j < len(text) && isURLChar(text[j]) {
		j++
	}
	// Trailing punctuation belongs to the sentence.
	for j > hostStart && (text[j-1] == '.' || text[j-1] == ',' || text[j-1] == ')' || text[j-1] == ';' || text[j-1] == ':' || text[j-1] == '!' || text[j-1] == '?' || text[j-1] == '\'') {
		j--
	}
	if j-hostStart < 4 || !carriesID(text[hostStart:j]) {
		return Finding{}, false
	}
	return Finding{Class: URL, Start: i, End: j, Confidence: 0.85}, true
}

func isURLChar(c byte) bool {
	return isAlnum(c) || c >= 0x80 || containsByte("-._~:/?#[]@!$&'()*+,;=%", c)
}

// carriesID looks in a URL after its scheme for what identifies someone.
func carriesID(u []byte) bool {
	q := -1
	digits := 0
	for k, c := range u {
		switch {
		case c == '?' && q < 0:
			q = k
		case c == '@' && k > 0 && k+1 < len(u) && isAlnum(u[k-1]) && isAlnum(u[k+1]) && q >= 0:
			return true // an email address in the query
		}
		if q < 0 {
			// A path segment of six or more digits.
			if isDigit(c) {
				digits++
				if digits >= 6 && (k+1 == len(u) || !isDigit(u[k+1])) && (k+1 == len(u) || u[k+1] == '/' || u[k+1] == '?' || u[k+1] == '#') {
					return true
				}
			} else if c == '/' {
				digits = 0
			} else {
				digits = -64 // a segment mixing letters and digits is a name
			}
		}
	}
	if q < 0 {
		return false
	}
	// Parameter names of the query.
	for k := q + 1; k < len(u); {
		e := k
		for e < len(u) && u[e] != '=' && u[e] != '&' && u[e] != '#' {
			e++
		}
		if e < len(u) && u[e] == '=' {
			name := u[k:e]
			for _, p := range urlIDParams {
				if len(name) == len(p) && hasFoldPrefixAt(name, 0, p) {
					return true
				}
			}
		}
		for e < len(u) && u[e] != '&' {
			e++
		}
		k = e + 1
	}
	return false
}
