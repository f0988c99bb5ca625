package scan

import "strings"

// --- IBAN --------------------------------------------------------------

// ibanLengths are the lengths of the commonest countries' IBANs; others
// are accepted at 15..34 characters.
func ibanLength(cc string) int {
	if len(cc) != 2 {
		return 0
	}
	for k := 0; k+4 <= len(ibanLengths); k += 5 {
		if ibanLengths[k] == cc[0] && ibanLengths[k+1] == cc[1] {
			return int(ibanLengths[k+2]-'0')*10 + int(ibanLengths[k+3]-'0')
		}
	}
	return 0
}

// ibanLengths are the IBAN lengths of the countries in SWIFT's IBAN
// registry, as "CCnn ".
const ibanLengths = "AD24 AE23 AL28 AT20 AZ28 BA20 BE16 BG22 BH22 BI27 BR29 BY28 CH21 CR22 CY28 CZ24 DE22 DJ27 DK18 DO28 " +
	"EE20 EG29 ES24 FI18 FK18 FO18 FR27 GB22 GE22 GI23 GL18 GR27 GT28 HR21 HU28 IE22 IL23 IQ23 IS26 IT27 " +
	"JO30 KW30 KZ20 LB28 LC32 LI21 LT20 LU20 LV21 LY25 MC27 MD24 ME22 MK19 MN20 MR27 MT31 MU30 NI28 NL18 " +
	"NO15 OM23 PK24 PL28 PS29 PT25 QA29 RO24 RS22 RU33 SA24 SC31 SD18 SE24 SI19 SK24 SM27 SO23 ST25 SV28 " +
	"TL23 TN24 TR26 UA29 VA22 VG24 XK20 YE30 "

func mod97(s []byte) bool {
	// Move the first four characters to the end, letters become 10..35.
	// Digits are gathered into r and reduced only before r could pass
	// 2^63 (seventeen digits), not once per character.
	var r uint64
	feed := func(c byte) {
		if r >= 1e15 {
			r %= 97
		}
		switch {
		case isDigit(c):
			r = r*10 + uint64(c-'0')
		case isUpper(c):
			r = r*100 + uint64(c-'A') + 10
		}
	}
	for _, c := range s[4:] {
		feed(c)
	}
	for _, c := range s[:4] {
		feed(c)
	}
	return r%97 == 1
}

func matchIBAN(text []byte, i int) (Finding, bool) {
	if len(text)-i < 15 || !isUpper(text[i+1]) || !isDigit(text[i+2]) || !isDigit(text[i+3]) {
		return Finding{}, false
	}
	var buf [40]byte
	s := buf[:0]
	j := i
	var sep byte
	// Where each group ended (length of s, end in text): a printed IBAN
	// followed by a capitalised word ("… 8901 X", "… ALL CAPS") reads one
	// group too far, and is the longest run of whole groups of the
	// country's length.
	var ends [10][2]int
	nends := 0
	for j < len(text) && len(s) < len(buf) {
		c := text[j]
		if isDigit(c) || isUpper(c) {
			s = append(s, c)
			j++
			continue
		}
		// Printed IBANs group by four with single spaces (or dashes).
		if (c == ' ' || c == '-') && (sep == 0 || sep == c) && len(s)%4 == 0 && j+1 < len(text) && (isDigit(text[j+1]) || isUpper(text[j+1])) {
			sep = c
			if nends < len(ends) {
				ends[nends] = [2]int{len(s), j}
				nends++
			}
			j++
			continue
		}
		break
	}
	want := ibanLength(string(s[:2]))
	if (j < len(text) && isAlnum(text[j]) || want != 0 && len(s) != want || want == 0 && !mod97(s)) && nends > 0 {
		for k := nends - 1; k >= 0; k-- {
			if ends[k][0] == want || want == 0 && ends[k][0] >= 15 && mod97(s[:ends[k][0]]) {
				s, j = s[:ends[k][0]], ends[k][1]
				break
			}
		}
	}
	if j < len(text) && isAlnum(text[j]) {
		return Finding{}, false
	}
	if want != 0 && len(s) != want || len(s) < 15 || len(s) > 34 {
		return Finding{}, false
	}
	if !mod97(s) {
		return Finding{}, false
	}
	return Finding{Class: IBAN, Start: i, End: j, Confidence: 0.97}, true
}

// --- SECRET ------------------------------------------------------------

func isTokenChar(c byte) bool { return isAlnum(c) || c == '_' || c == '-' }

func isB64URL(c byte) bool { return isAlnum(c) || c == '_' || c == '-' }

// run counts characters from i satisfying ok, up to limit.
func run(text []byte, i int, ok func(byte) bool, limit int) int {
	j := i
	for j < len(text) && j-i < limit && ok(text[j]) {
		j++
	}
	return j - i
}

// gitlabTokens are GitLab's token prefixes (personal, project/group,
// pipeline trigger, deploy, runner, SCIM, CI job, incoming mail, feed,
// Kubernetes agent, OAuth application secret, feature flag client) with
// the shortest body each has.
var gitlabTokens = [...]struct {
	prefix string
	min    int
}{
	{"glpat-", 20}, {"glptt-", 40}, {"gldt-", 20}, {"glrt-", 20}, {"glsoat-", 20}, {"glcbt-", 20},
	{"glimt-", 25}, {"glft-", 20}, {"glagent-", 50}, {"gloas-", 64}, {"glffct-", 20},
}

func matchSecretPrefix(text []byte, i int) (Finding, bool) {
	// secret reports the token text[i:end] whose variable part starts at
	// body, unless it runs on into a longer word or the body is a
	// placeholder.
	secret := func(body, end int, conf float64) (Finding, bool) {
		e, ok := tokenEnd(text, body, end)
		if !ok {
			return Finding{}, false
		}
		return Finding{Class: Secret, Start: i, End: e, Confidence: conf}, true
	}
	switch text[i] {
	case 'A':
		// AWS access key ids: a four-character prefix (AKIA, ASIA, ABIA,
		// ACCA, … or A3T and one more) and 16 more.
		upperDigit := func(c byte) bool { return isUpper(c) || isDigit(c) }
		for _, p := range []string{"AKIA", "ASIA", "ABIA", "ACCA", "AGPA", "AIDA", "AROA", "ANPA", "ANVA", "AIPA"} {
			if hasPrefixAt(text, i, p) && run(text, i+4, upperDigit, 17) == 16 {
				return secret(i+4, i+20, 0.97)
			}
		}
		if hasPrefixAt(text, i, "A3T") && i+3 < len(text) && upperDigit(text[i+3]) && run(text, i+4, upperDigit, 17) == 16 {
			return secret(i+4, i+20, 0.97)
		}
		// Google API keys: AIza and 35 more.
		if hasPrefixAt(text, i, "AIza") && run(text, i+4, isTokenChar, 36) == 35 {
			return secret(i+4, i+39, 0.97)
		}
	case 'G':
		// GitLab runner registration tokens.
		if hasPrefixAt(text, i, "GR1348941") && run(text, i+9, isTokenChar, 255) >= 20 {
			return secret(i+9, i+9+run(text, i+9, isTokenChar, 255), 0.99)
		}
	case 'g':
		for _, p := range []string{"ghp_", "gho_", "ghu_", "ghs_", "ghr_"} {
			if hasPrefixAt(text, i, p) && run(text, i+4, isAlnum, 40) >= 36 {
				return secret(i+4, i+4+run(text, i+4, isAlnum, 255), 0.99)
			}
		}
		if hasPrefixAt(text, i, "github_pat_") && run(text, i+11, isTokenChar, 255) >= 60 {
			return secret(i+11, i+11+run(text, i+11, isTokenChar, 255), 0.99)
		}
		// GitLab's token families, each a prefix and its shortest body.
		for _, t := range gitlabTokens {
			if b := i + len(t.prefix); hasPrefixAt(text, i, t.prefix) && run(text, b, isTokenChar, 255) >= t.min {
				return secret(b, gitlabRoutable(text, b+run(text, b, isTokenChar, 255)), 0.99)
			}
		}
	case 'x':
		return matchSlack(text, i)
	case 'e':
		// A JWT: three base64url segments, the first decoding to a JSON
		// object ("eyJ" is base64 of `{"`).
		if hasPrefixAt(text, i, "eyJ") {
			j := i
			for seg := 0; seg < 3; seg++ {
				n := run(text, j, isB64URL, 8192)
				if seg == 2 {
					// Padding some encoders leave on the signature.
					for k := 0; k < 2 && j+n < len(text) && text[j+n] == '='; k++ {
						n++
					}
				}
				// An unsigned token (alg "none") has an empty signature:
				// taken when its payload is a JSON object as well.
				unsigned := seg == 2 && n == 0 && hasPrefixAt(text, i+run(text, i, isB64URL, 8192)+1, "eyJ")
				if n < 8 && seg < 2 || n < 16 && seg == 2 && !unsigned {
					return Finding{}, false
				}
				j += n
				if seg < 2 {
					if j >= len(text) || text[j] != '.' {
						return Finding{}, false
					}
					j++
				}
			}
			if j < len(text) && isTokenChar(text[j]) {
				return Finding{}, false
			}
			return Finding{Class: Secret, Start: i, End: j, Confidence: 0.97}, true
		}
	}
	return Finding{}, false
}

// gitlabRoutable extends a GitLab token ending at e over the routing part
// newer tokens carry: a dot and nine lower-case letters or digits.
func gitlabRoutable(text []byte, e int) int {
	if e < len(text) && text[e] == '.' && run(text, e+1, func(c byte) bool { return isLower(c) || isDigit(c) }, 10) == 9 {
		return e + 10
	}
	return e
}

// matchSlack reads Slack tokens: bot, user, workspace and legacy tokens
// (xoxb-, xoxp-, xoxa-, xoxr-, xoxs-, xoxo-), configuration tokens
// (xoxe.xoxp-1-…, xoxe-1-…) and app-level tokens (xapp-1-…).
func matchSlack(text []byte, i int) (Finding, bool) {
	found := func(body, end int, conf float64) (Finding, bool) {
		e, ok := tokenEnd(text, body, end)
		if !ok {
			return Finding{}, false
		}
		return Finding{Class: Secret, Start: i, End: e, Confidence: conf}, true
	}
	n := len(text)
	if hasPrefixAt(text, i, "xapp-") {
		// xapp-1-A052FGTS2DL-5171572773297-<secret>
		j := i + 5
		if j+2 < n && isDigit(text[j]) && text[j+1] == '-' {
			j += 2
			if a := run(text, j, isAlnum, 64); a > 0 && j+a < n && text[j+a] == '-' {
				j += a + 1
				if d := run(text, j, isDigit, 64); d > 0 && j+d < n && text[j+d] == '-' {
					j += d + 1
					if s := run(text, j, isAlnum, 255); s >= 20 {
						return found(i+5, j+s, 0.98)
					}
				}
			}
		}
		return Finding{}, false
	}
	if !hasPrefixAt(text, i, "xox") || i+4 >= n {
		return Finding{}, false
	}
	if hasPrefixAt(text, i, "xoxe.xox") && i+9 < n && (text[i+8] == 'b' || text[i+8] == 'p') && text[i+9] == '-' {
		// A configuration access token: the part after the dot is itself
		// xoxb-/xoxp-shaped, but its body runs to 160 characters or so.
		if m := run(text, i+10, isTokenChar, 255); m >= 100 {
			return found(i+10, i+10+m, 0.98)
		}
		return Finding{}, false
	}
	if text[i+4] != '-' || i >= 5 && hasPrefixAt(text, i-5, "xoxe.") {
		return Finding{}, false // the token after "xoxe." is read from there
	}
	j := i + 5
	m := run(text, j, isTokenChar, 255)
	switch text[i+3] {
	case 'b', 'p', 'e':
		if m >= 20 {
			return found(j, j+m, 0.98)
		}
	case 's', 'o':
		// Legacy tokens: dash-separated numbers, then hex.
		if m >= 20 && isDigit(text[j]) {
			return found(j, j+m, 0.98)
		}
	case 'a', 'r':
		// Legacy workspace access and refresh tokens can be short (8).
		if m >= 8 && hasDigit(text[j:j+m]) {
			return found(j, j+m, 0.95)
		}
	}
	return Finding{}, false
}

func hasDigit(b []byte) bool {
	for _, c := range b {
		if isDigit(c) {
			return true
		}
	}
	return false
}

func matchPEM(text []byte, i int) (Finding, bool) {
	// -----BEGIN [RSA |EC |DSA |OPENSSH |ENCRYPTED ]PRIVATE KEY----- and
	// -----BEGIN PGP PRIVATE KEY BLOCK-----
	j := i + len("-----BEGIN ")
	lineEnd := j
	for lineEnd < len(text) && lineEnd-j < 40 && text[lineEnd] != '-' {
		lineEnd++
	}
	label := string(text[j:lineEnd])
	if !hasPrefixAt(text, lineEnd, "-----") || !strings.HasSuffix(label, "PRIVATE KEY") && !strings.HasSuffix(label, "PRIVATE KEY BLOCK") {
		return Finding{}, false
	}
	bodyStart := lineEnd + 5
	endMarker := "-----END " + label + "-----"
	end, bodyEnd, conf := len(text), len(text), 0.9 // an unterminated key block is still a key: taken to the end
	for k := bodyStart; k+len(endMarker) <= len(text); k++ {
		if text[k] == '-' && hasPrefixAt(text, k, endMarker) {
			end, bodyEnd, conf = k+len(endMarker), k, 0.99
			break
		}
	}
	// A key has a body: a block with nothing or a word between its
	// markers is documentation.
	body := text[bodyStart:min(bodyEnd, bodyStart+4096)]
	b64 := 0
	for _, c := range body {
		if isAlnum(c) || c == '+' || c == '/' {
			b64++
		}
	}
	if b64 < 16 || placeholder(body[:min(len(body), 160)]) {
		return Finding{}, false
	}
	return Finding{Class: Secret, Start: i, End: end, Confidence: conf}, true
}

// assignmentNames is read-only.
var assignmentNames = []string{"api_key", "apikey", "api-key", "access_token", "auth_token", "secret_key", "client_secret", "secret", "password", "passwd", "private_key"}

// matchAssignment finds api_key=…, "password": "…", secret: … — a
// credential-looking name, a separator, and a value of 8+ characters.
func matchAssignment(text []byte, i int) (Finding, bool) {
	if i+2 > len(text) {
		return Finding{}, false
	}
	c0, c1 := lower(text[i]), lower(text[i+1])
	for _, nm := range assignmentNames {
		if nm[0] != c0 || nm[1] != c1 || !hasFoldPrefixAt(text, i, nm) {
			continue
		}
		j := i + len(nm)
		if j < len(text) && isAlnum(text[j]) {
			continue
		}
		// Skip a closing quote, spaces, then ':' or '=', spaces, an
		// opening quote.
		for j < len(text) && (text[j] == '"' || text[j] == '\'' || text[j] == ' ') {
			j++
		}
		if j >= len(text) || text[j] != '=' && text[j] != ':' {
			continue
		}
		j++
		for j < len(text) && (text[j] == ' ' || text[j] == '"' || text[j] == '\'' || text[j] == '\\') {
			j++
		}
		n := run(text, j, func(c byte) bool {
			return c > ' ' && c != '"' && c != '\'' && c != ',' && c != ';' && c != '\\' && c != '}' && c != '&'
		}, 512)
		if n < 8 || placeholderValue(text[j:j+n]) {
			continue
		}
		return Finding{Class: Secret, Start: j, End: j + n, Confidence: 0.9}, true
	}
	return Finding{}, false
}

// --- context ids: MRN, health plan, passport, driver licence ---------

type contextRule struct {
	class   Class
	words   []string
	minLen  int
	maxLen  int
	digits  int // at least this many digits
	letters bool
}

// contextRuleTable is read-only.
var contextRuleTable = []contextRule{
	{MedicalRecordNumber, []string{"mrn", "medical record number", "medical record no", "medical record", "patient id", "chart number"}, 5, 15, 4, true},
	{HealthPlanID, []string{"member id", "health plan id", "health plan", "insurance id", "subscriber id", "policy number", "medicare", "medicaid", "beneficiary id", "mbi"}, 6, 20, 4, true},
	{USPassport, []string{"passport number", "passport no", "passport #", "passport"}, 9, 9, 8, true},
	{Device, []string{"serial number", "serial no", "serial #", "serial", "sn", "device id", "device identifier", "device serial",
		"imei", "seriennummer", "gerätenummer", "serienummer", "de série", "de serie", "di serie", "matricola"}, 5, 24, 2, true},
	{DriverLicense, []string{"driver's license", "drivers license", "driver license", "driving licence", "driver licence", "license number", "dl#", "dl #", "dl no"}, 5, 16, 4, true},
}

// deviceRule is the DEVICE rule, for "S/N", whose slash keeps it out of
// the index of phrases.
var deviceRule = func() contextRule {
	for _, r := range contextRuleTable {
		if r.class == Device {
			return r
		}
	}
	panic("scan: no DEVICE context rule")
}()

// contextIndex lists, per first two letters, the context phrases that
// start with them, so a word is compared only with its few candidates. It
// is computed once and only read.
var contextIndex = func() (idx [26 * 26][]struct {
	rule int
	word string
}) {
	for ri, r := range contextRuleTable {
		for _, w := range r.words {
			if len(w) >= 2 && isLower(w[0]) && isLower(w[1]) {
				k := int(w[0]-'a')*26 + int(w[1]-'a')
				idx[k] = append(idx[k], struct {
					rule int
					word string
				}{ri, w})
			}
		}
	}
	return idx
}()

// fillers are the words between a context phrase and its id ("Medicare
// ID: …", "policy number is …"), each skipped when a separator follows it.
var fillers = [...]string{"is", "no", "number", "nr", "num", "id", "ids", "identifier"}

// fillerAt returns the length of a filler word at j, or 0.
func fillerAt(text []byte, j int) int {
	for _, w := range fillers {
		if hasFoldPrefixAt(text, j, w) && j+len(w) < len(text) && !isAlnum(text[j+len(w)]) {
			return len(w)
		}
	}
	return 0
}

// matchContextID looks for a context phrase starting at i and an id right
// after it (past separators such as ':', '#', 'is', 'no.').
func matchContextID(text []byte, i int) (Finding, bool) {
	if i+2 > len(text) || !keywordStart(lower(text[i]), lower(text[i+1])) {
		return Finding{}, false
	}
	for _, kw := range contextIndex[int(lower(text[i])-'a')*26+int(lower(text[i+1])-'a')] {
		if f, ok := idAfterPhrase(text, i, contextRuleTable[kw.rule], kw.word); ok {
			return f, true
		}
	}
	return Finding{}, false
}

// idAfterPhrase reads the id after the context phrase w of rule r at i.
func idAfterPhrase(text []byte, i int, r contextRule, w string) (Finding, bool) {
	if !hasFoldPrefixAt(text, i, w) {
		return Finding{}, false
	}
	j := i + len(w)
	if j < len(text) && (isAlpha(text[j]) || r.class == Device && isDigit(text[j])) && w[len(w)-1] != '#' {
		return Finding{}, false // "SN0A77812X" is an id, not the word SN and an id
	}
	// Skip separators and filler words.
	for k := 0; k < 4 && j < len(text); k++ {
		for j < len(text) && (text[j] == ' ' || text[j] == ':' || text[j] == '#' || text[j] == '=' || text[j] == '"' || text[j] == '\'' || text[j] == '.' || text[j] == '-') {
			j++
		}
		if n := fillerAt(text, j); n > 0 {
			j += n
			continue
		}
		break
	}
	s := j
	digits := 0
	for j < len(text) && j-s <= r.maxLen && (isAlnum(text[j]) || text[j] == '-') {
		if isDigit(text[j]) {
			digits++
		}
		j++
	}
	for j > s && text[j-1] == '-' {
		j--
	}
	if w == "imei" && (j-s != 15 || digits != 15 || !luhn(text[s:j])) {
		return Finding{}, false // an IMEI is fifteen digits, the last a Luhn check
	}
	if n := j - s; n >= r.minLen && n <= r.maxLen && digits >= r.digits && (j == len(text) || !isAlnum(text[j])) {
		return Finding{Class: r.class, Start: s, End: j, Confidence: 0.9}, true
	}
	return Finding{}, false
}
