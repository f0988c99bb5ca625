package scan

import "math"

// Secrets beyond the prefixes of match2.go: service tokens whose prefix
// starts a lower-case word (sk-, rk_, hf_, npm_, pypi-, api_org_), Slack
// webhook URLs, bearer tokens, and credentials assigned to a name
// (genericToken = "…", "api_token": "…", <secret>…</secret>) found from
// the separator rather than the name, since the name's credential word is
// often inside it ("genericToken", "mySecretString").

// secretTriggers are lower-case prefixes that make a word worth passing to
// matchWord. They join the keyword index (forEachKeyword), so a word
// starting "sk-" costs its three-letter check while "skin" is still
// dismissed there; none starts with a letter noStart8 dismisses.
var secretTriggers = []string{"sk-", "sk_", "rk_", "hf_", "npm_", "pypi-", "api_org_", "xapp-", "hooks.slack.com/", "bearer "}

// placeholder says whether a token body is a stand-in rather than a
// secret: nearly all one character or a short unit repeated (xxxx, ****,
// 0000, 123123), a template or mask character, or a word documentation
// uses for a fake (EXAMPLE, changeme). Real tokens are random enough that
// none of this happens by chance at the lengths callers check.
func placeholder(b []byte) bool {
	if containsFold(b, "example") || containsFold(b, "changeme") || containsFold(b, "xxxxxx") {
		return true
	}
	var a [160]byte
	n := 0
	for _, c := range b {
		switch c {
		case '*', '#', '<', '>', '{', '}', '$', '%':
			return true
		}
		if isAlnum(c) && n < len(a) {
			a[n] = lower(c)
			n++
		}
	}
	if n == 0 {
		return true
	}
	for p := 1; p <= 4 && p < n; p++ {
		same := 0
		for k := p; k < n; k++ {
			if a[k] == a[k-p] {
				same++
			}
		}
		if 10*same >= 9*(n-p) {
			return true
		}
	}
	return false
}

// containsFold reports whether b contains w (lower case), ignoring ASCII
// case.
func containsFold(b []byte, w string) bool {
	for i := 0; i+len(w) <= len(b); i++ {
		if lower(b[i]) == w[0] && hasFoldPrefixAt(b, i, w) {
			return true
		}
	}
	return false
}

// entropy is the Shannon entropy of b in bits per byte: what tells a
// random credential from a word or a version string of the same shape.
func entropy(b []byte) float64 {
	var counts [256]uint16
	for _, c := range b {
		counts[c]++
	}
	h, n := 0.0, float64(len(b))
	for _, k := range counts {
		if k > 0 {
			p := float64(k) / n
			h -= p * math.Log2(p)
		}
	}
	return h
}

// tokenEnd returns the end of a token whose body is text[s:e] when the
// token ends cleanly there: not inside a longer word, not followed by a
// mask or template that continues it, and not a placeholder.
func tokenEnd(text []byte, s, e int) (int, bool) {
	if e <= s || e < len(text) && (isTokenChar(text[e]) || text[e] == '*' || text[e] == '#' || text[e] == '<' || text[e] == '{' || text[e] == '$') {
		return 0, false
	}
	if placeholder(text[s:e]) {
		return 0, false
	}
	return e, true
}

func isLetter(c byte) bool { return isUpper(c) || isLower(c) }

// matchSecretWord tries the token families whose prefix begins a word
// with s, r, h, n, p or a (and Slack webhooks).
func matchSecretWord(text []byte, i int) (Finding, bool) {
	secret := func(s, e int, conf float64) (Finding, bool) {
		end, ok := tokenEnd(text, s, e)
		if !ok {
			return Finding{}, false
		}
		return Finding{Class: Secret, Start: i, End: end, Confidence: conf}, true
	}
	switch text[i] {
	case 's':
		if hasPrefixAt(text, i, "sk-") {
			return matchSK(text, i)
		}
		fallthrough
	case 'r':
		// Stripe secret and restricted keys. Test-mode keys are reported
		// too, a little lower: they still read and write the account's
		// test data and name the account.
		if i+8 < len(text) && text[i+1] == 'k' && text[i+2] == '_' && (text[i] == 's' || text[i] == 'r') {
			conf := 0.97
			switch {
			case hasPrefixAt(text, i+3, "live_"), hasPrefixAt(text, i+3, "prod_"):
			case hasPrefixAt(text, i+3, "test_"):
				conf = 0.8
			default:
				return Finding{}, false
			}
			if n := run(text, i+8, isAlnum, 100); n >= 10 && n <= 99 {
				return secret(i+8, i+8+n, conf)
			}
		}
	case 'h':
		if hasPrefixAt(text, i, "hf_") {
			// Hugging Face user tokens: 34 letters.
			if n := run(text, i+3, isLetter, 35); n == 34 {
				return secret(i+3, i+37, 0.97)
			}
			return Finding{}, false
		}
		return matchSlackWebhook(text, i)
	case 'a':
		if hasPrefixAt(text, i, "api_org_") {
			// Hugging Face organisation tokens (the older API).
			if n := run(text, i+8, isLetter, 35); n == 34 {
				return secret(i+8, i+42, 0.97)
			}
		}
	case 'n':
		if hasPrefixAt(text, i, "npm_") {
			if n := run(text, i+4, isAlnum, 37); n == 36 {
				return secret(i+4, i+40, 0.97)
			}
		}
	case 'p':
		// PyPI upload tokens: a macaroon whose base64 starts with the
		// encoded "pypi.org" location.
		if hasPrefixAt(text, i, "pypi-AgEIcHlwaS5vcmc") {
			if n := run(text, i+20, isTokenChar, 1000); n >= 50 {
				return secret(i+20, i+20+n, 0.99)
			}
		}
	}
	return Finding{}, false
}

// matchSK reads OpenAI (sk-…T3BlbkFJ…, sk-proj-, sk-svcacct-, sk-admin-)
// and Anthropic (sk-ant-api03-, sk-ant-admin01-) keys.
func matchSK(text []byte, i int) (Finding, bool) {
	j := i + 3
	n := run(text, j, isTokenChar, 400)
	end, ok := tokenEnd(text, j, j+n)
	if !ok {
		return Finding{}, false
	}
	body := text[j:end]
	found := func(conf float64) (Finding, bool) {
		return Finding{Class: Secret, Start: i, End: end, Confidence: conf}, true
	}
	for _, p := range [...]string{"ant-api03-", "ant-admin01-"} {
		if hasPrefixAt(body, 0, p) {
			// 93 characters and "AA": a key of another length or ending is
			// a hand-made look-alike.
			if b := body[len(p):]; len(b) == 95 && b[93] == 'A' && b[94] == 'A' {
				return found(0.99)
			}
			return Finding{}, false
		}
	}
	// "T3BlbkFJ" is base64 of "OpenAI", which every generated key carries.
	if n >= 40 && indexOf(body, "T3BlbkFJ") < len(body) {
		return found(0.99)
	}
	for _, p := range [...]string{"proj-", "svcacct-", "admin-"} {
		if hasPrefixAt(body, 0, p) && len(body)-len(p) >= 40 {
			return found(0.95)
		}
	}
	return Finding{}, false
}

// indexOf is the index of w in b, or len(b).
func indexOf(b []byte, w string) int {
	for k := 0; k+len(w) <= len(b); k++ {
		if hasPrefixAt(b, k, w) {
			return k
		}
	}
	return len(b)
}

// matchSlackWebhook reads a Slack incoming webhook, workflow or trigger
// URL, with or without its scheme: the path after the host is the secret.
func matchSlackWebhook(text []byte, i int) (Finding, bool) {
	j := i
	switch {
	case hasPrefixAt(text, j, "https://"):
		j += 8
	case hasPrefixAt(text, j, "http://"):
		j += 7
	}
	if !hasPrefixAt(text, j, "hooks.slack.com/") {
		return Finding{}, false
	}
	j += len("hooks.slack.com/")
	for _, p := range [...]string{"services/", "workflows/", "triggers/"} {
		if hasPrefixAt(text, j, p) {
			s := j + len(p)
			n := run(text, s, func(c byte) bool { return isAlnum(c) || c == '/' || c == '+' }, 100)
			if n < 40 || n > 90 {
				return Finding{}, false
			}
			end, ok := tokenEnd(text, s, s+n)
			if !ok {
				return Finding{}, false
			}
			return Finding{Class: Secret, Start: i, End: end, Confidence: 0.98}, true
		}
	}
	return Finding{}, false
}

// matchBearer finds the token of "Bearer <token>" (an Authorization
// header, a curl -H argument): the token, not the word.
func matchBearer(text []byte, i int) (Finding, bool) {
	if !hasFoldPrefixAt(text, i, "bearer ") {
		return Finding{}, false
	}
	j := i + len("bearer ")
	for j < len(text) && text[j] == ' ' {
		j++
	}
	n := run(text, j, func(c byte) bool {
		return isAlnum(c) || c == '-' || c == '_' || c == '.' || c == '~' || c == '+' || c == '/' || c == '='
	}, 4096)
	for n > 0 && text[j+n-1] == '.' {
		n-- // the sentence's full stop
	}
	if n < 16 {
		return Finding{}, false
	}
	v := text[j : j+n]
	if !hasDigitAndLetter(v) || placeholder(v) || entropy(v) < 3 {
		return Finding{}, false
	}
	if j+n < len(text) && (isAlnum(text[j+n]) || text[j+n] == '*' || text[j+n] == '<' || text[j+n] == '{' || text[j+n] == '$') {
		return Finding{}, false
	}
	return Finding{Class: Secret, Start: j, End: j + n, Confidence: 0.9}, true
}

func hasDigitAndLetter(b []byte) bool {
	var d, l bool
	for _, c := range b {
		d = d || isDigit(c)
		l = l || isLetter(c)
	}
	return d && l
}

// --- credentials assigned to a name ----------------------------------

// credentialWords are the name components that make a name a
// credential's: token, secret, password, credentials, auth.
var credentialWords = [...]string{"token", "tokens", "secret", "secrets", "password", "passwd", "pwd", "pass", "passphrase",
	"credential", "credentials", "creds", "auth", "apikey", "secretkey", "accesskey", "privatekey", "bearer"}

// keyQualifiers are the components before "key" that make it a secret
// key; a public, primary or foreign key is not one.
var keyQualifiers = [...]string{"api", "private", "access", "secret", "signing", "encryption", "master", "auth", "app", "client",
	"service", "account", "license", "consumer", "subscription", "shared", "session"}

// notValueNames are last components that make the value something about
// the credential rather than the credential: its id, URL, file, length.
var notValueNames = [...]string{"id", "ids", "uuid", "guid", "url", "uri", "urls", "name", "names", "type", "file", "path", "dir",
	"version", "event", "len", "length", "size", "count", "field", "header", "prefix", "format", "mode", "expiry", "expires",
	"expiration", "ttl", "endpoint", "host", "port", "method", "provider", "policy", "scope", "scopes", "hint", "label", "title",
	"regex", "pattern", "template", "timeout", "enabled", "required", "status", "time", "date", "env", "variable", "var", "ref",
	"source", "server", "domain", "realm", "results", "store", "vault"}

// notSecretQualifiers mark a credential-looking name whose value is
// meant to be seen: a public token, a CSRF token sent with every form.
var notSecretQualifiers = [...]string{"public", "csrf", "xsrf"}

// credentialName says whether an identifier names a credential: one of
// its components (split at _ . - and case changes) is a credential word,
// and its last is not an id or URL of one.
func credentialName(name []byte) bool {
	// Components are the alphanumeric runs between splits; a run of
	// punctuation is a component of its own and is skipped.
	var comps [24][]byte
	n, s := 0, 0
	for k := 1; k <= len(name) && n < len(comps); k++ {
		if k < len(name) {
			a, b := name[k-1], name[k]
			split := isAlnum(a) != isAlnum(b) || isDigit(a) != isDigit(b) || isLower(a) && isUpper(b) ||
				isUpper(a) && isUpper(b) && k+1 < len(name) && isLower(name[k+1])
			if !split {
				continue
			}
		}
		if isAlnum(name[s]) {
			comps[n] = name[s:k]
			n++
		}
		s = k
	}
	if n == 0 || isWordIn(comps[n-1], notValueNames[:]) {
		return false
	}
	for k := 0; k < n; k++ {
		if isWordIn(comps[k], notSecretQualifiers[:]) {
			return false
		}
	}
	for k := 0; k < n; k++ {
		c := comps[k]
		if isWordIn(c, credentialWords[:]) {
			return true
		}
		if k > 0 && (foldEq(c, "key") || foldEq(c, "keys")) && isWordIn(comps[k-1], keyQualifiers[:]) {
			return true
		}
	}
	return false
}

func foldEq(b []byte, w string) bool { return len(b) == len(w) && hasFoldPrefixAt(b, 0, w) }

func isWordIn(b []byte, ws []string) bool {
	for _, w := range ws {
		if foldEq(b, w) {
			return true
		}
	}
	return false
}

func isNameChar(c byte) bool { return isAlnum(c) || c == '_' || c == '.' || c == '-' }

// nameBefore returns the start of the identifier ending at e, or e.
func nameBefore(text []byte, e int) int {
	s := e
	for s > 0 && e-s < 64 && isNameChar(text[s-1]) {
		s--
	}
	return s
}

func isValueChar(c byte) bool {
	return isAlnum(c) || c == '_' || c == '.' || c == '=' || c == '+' || c == '/' || c == '-'
}

// credentialValue reads a credential value at j: 10 to 150 value
// characters, a digit and a letter among them, random enough (3.5 bits a
// byte, gitleaks' floor for its generic rule), not a placeholder, and
// ending at a quote, a space, a delimiter or an escaped newline.
func credentialValue(text []byte, j int) (int, bool) {
	n := run(text, j, isValueChar, 151)
	for n > 0 && text[j+n-1] == '.' {
		n-- // the sentence's full stop
	}
	if n < 10 || n > 150 {
		return 0, false
	}
	e := j + n
	if hasPrefixAt(text, e, "..") {
		return 0, false // cut short with an ellipsis: shown redacted
	}
	if e < len(text) {
		switch text[e] {
		case ' ', '\t', '\n', '\r', '"', '\'', '`', ';', ',', '.', ')', '}', ']', '&', '<', '\\':
		default:
			return 0, false
		}
	}
	v := text[j:e]
	if !hasDigitAndLetter(v) || placeholder(v) || entropy(v) < 3.5 {
		return 0, false
	}
	return e, true
}

// matchSeparator reads name = value at the separator at p: '=' or ':'
// (with :=, ::=, ?=, .=, => and YAML/JSON forms), or the '>' of an XML
// element <name>value</name>. Triggered at the separator because the name
// is matched anywhere in the identifier, which no word-start filter can
// see.
func matchSeparator(text []byte, p int) (Finding, bool) {
	if p == 0 || p+1 >= len(text) {
		return Finding{}, false
	}
	prev := text[p-1]
	if text[p] == '>' {
		return matchXMLValue(text, p)
	}
	if prev == ':' || prev == '=' || prev == '!' || prev == '<' || prev == '>' {
		return Finding{}, false // part of a separator read at its first mark, or a comparison
	}
	sep := p
	if prev == '?' || prev == '.' || prev == '+' || prev == '|' {
		sep--
	}
	// The value's shape first: most "Label: value" pairs in prose and
	// records (DOB: 1980-02-13, MRN: 00123456) fail it in a few bytes,
	// before the name is split into words.
	j := p + 1
	for j < len(text) && j-p < 4 && (text[j] == ':' || text[j] == '=' || text[j] == '>') {
		j++
	}
	for k := 0; k < 6 && j < len(text) && (text[j] == ' ' || text[j] == '\t' || text[j] == '"' || text[j] == '\'' || text[j] == '`' || text[j] == '='); k++ {
		j++
	}
	if vn := run(text, j, isValueChar, 151); vn < 10 || !hasDigitAndLetter(text[j:j+vn]) {
		return Finding{}, false
	}
	// Back over a closing quote and spaces to the name; a short word
	// between (a type: var token string = …) is stepped over once.
	e := sep
	for k := 0; k < 4 && e > 0 && (text[e-1] == ' ' || text[e-1] == '\t' || text[e-1] == '"' || text[e-1] == '\'' || text[e-1] == '`'); k++ {
		e--
	}
	s := nameBefore(text, e)
	if s == e || s > 0 && (text[s-1] == '?' || text[s-1] == '&') {
		// Nothing named, or a URL's query parameter: the URL that carries
		// it is the finding (class URL).
		return Finding{}, false
	}
	if !credentialName(text[s:e]) {
		if e-s > 12 || s < 2 || text[s-1] != ' ' {
			return Finding{}, false
		}
		e2 := s - 1
		s2 := nameBefore(text, e2)
		if s2 == e2 || !credentialName(text[s2:e2]) {
			return Finding{}, false
		}
	}
	end, ok := credentialValue(text, j)
	if !ok {
		return Finding{}, false
	}
	return Finding{Class: Secret, Start: j, End: end, Confidence: 0.85}, true
}

// matchXMLValue reads <name>value</name> at the '>' at p, name a
// credential's.
func matchXMLValue(text []byte, p int) (Finding, bool) {
	s := nameBefore(text, p)
	if s == p || s == 0 || text[s-1] != '<' || !credentialName(text[s:p]) {
		return Finding{}, false
	}
	j := p + 1
	for j < len(text) && j-p < 40 && (text[j] == ' ' || text[j] == '\t' || text[j] == '\n' || text[j] == '\r') {
		j++
	}
	end, ok := credentialValue(text, j)
	if !ok {
		return Finding{}, false
	}
	k := end
	for k < len(text) && k-end < 40 && (text[k] == ' ' || text[k] == '\t' || text[k] == '\n' || text[k] == '\r') {
		k++
	}
	if !hasPrefixAt(text, k, "</") {
		return Finding{}, false
	}
	return Finding{Class: Secret, Start: j, End: end, Confidence: 0.85}, true
}

// matchCallAssignment reads ("name", "value") at the '(' at p: a setter
// or a lookup with a default (setProperty, getenv), name a credential's.
func matchCallAssignment(text []byte, p int) (Finding, bool) {
	if p+2 >= len(text) || text[p+1] != '"' && text[p+1] != '\'' {
		return Finding{}, false
	}
	q := text[p+1]
	s := p + 2
	e := s + run(text, s, isNameChar, 64)
	if e >= len(text) || text[e] != q || !credentialName(text[s:e]) {
		return Finding{}, false
	}
	j := e + 1
	for j < len(text) && (text[j] == ' ' || text[j] == '\t') {
		j++
	}
	if j >= len(text) || text[j] != ',' {
		return Finding{}, false
	}
	j++
	for j < len(text) && (text[j] == ' ' || text[j] == '\t' || text[j] == '\n') {
		j++
	}
	if j >= len(text) || text[j] != '"' && text[j] != '\'' {
		return Finding{}, false
	}
	end, ok := credentialValue(text, j+1)
	if !ok || end >= len(text) || text[end] != text[j] {
		return Finding{}, false
	}
	return Finding{Class: Secret, Start: j + 1, End: end, Confidence: 0.85}, true
}

// placeholderValue widens placeholder for a value assigned to a
// credential name, where documentation writes what to put there:
// <your-token>, ${TOKEN}, your_api_key_here.
func placeholderValue(v []byte) bool {
	switch v[0] {
	case '<', '$', '{', '%', '[', '(':
		return true
	}
	constant := true // an upper-case name (ACCESS_TOKEN) stands for the value
	for _, c := range v {
		constant = constant && !isLower(c) && !isDigit(c)
	}
	return constant || placeholder(v) || containsFold(v, "your") || containsFold(v, "here") || containsFold(v, "placeholder") ||
		containsFold(v, "redacted") || containsFold(v, "dummy")
}
