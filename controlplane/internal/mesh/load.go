package mesh

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// FieldError is one problem in a mesh file, located by its path in the
// document (models[1].versions[0].weight).
type FieldError struct {
	Path string
	Msg  string
}

func (e FieldError) Error() string {
	if e.Path == "" {
		return e.Msg
	}
	return e.Path + ": " + e.Msg
}

// ValidationError carries every problem found in one document, so an
// operator fixes them in one pass instead of one per reload.
type ValidationError struct {
	Source string
	Errors []FieldError
}

func (e *ValidationError) Error() string {
	var b strings.Builder
	src := e.Source
	if src == "" {
		src = "mesh"
	}
	if len(e.Errors) == 1 {
		fmt.Fprintf(&b, "%s: 1 problem:", src)
	} else {
		fmt.Fprintf(&b, "%s: %d problems:", src, len(e.Errors))
	}
	for _, fe := range e.Errors {
		b.WriteString("\n  ")
		b.WriteString(fe.Error())
	}
	return b.String()
}

// LoadFile reads and validates a mesh file. Relative paths inside it (the
// piiguard .wasm) are resolved against the file's directory.
func LoadFile(path string) (*Mesh, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read mesh file: %w", err)
	}
	abs, err := filepath.Abs(filepath.Dir(path))
	if err != nil {
		return nil, fmt.Errorf("resolve mesh file directory: %w", err)
	}
	m, err := Parse(data, abs)
	if err != nil {
		var ve *ValidationError
		if errors.As(err, &ve) {
			ve.Source = path
		}
		return nil, err
	}
	return m, nil
}

// file mirrors the YAML document. Numbers that must be range-checked are
// pointers or wide ints so that a missing or negative value is reported
// instead of silently becoming zero.
type file struct {
	TrustDomain  string        `yaml:"trustDomain"`
	Identity     *identityFile `yaml:"identity"`
	ControlPlane *cpFile       `yaml:"controlPlane"`
	ExtAuthz     *extAuthzFile `yaml:"extAuthz"`
	PIIGuard     *piiGuardFile `yaml:"piiGuard"`
	JWT          *jwtFile      `yaml:"jwt"`
	Tracing      *tracingFile  `yaml:"tracing"`
	Services     []serviceFile `yaml:"services"`
	Models       []modelFile   `yaml:"models"`
}

type identityFile struct {
	Provider         string `yaml:"provider"`
	SPIREAgentSocket string `yaml:"spireAgentSocket"`
}

type cpFile struct {
	Address  string `yaml:"address"`
	SPIFFEID string `yaml:"spiffeId"`
}

type extAuthzFile struct {
	Address         string `yaml:"address"`
	SPIFFEID        string `yaml:"spiffeId"`
	Timeout         string `yaml:"timeout"`
	MaxRequestBytes *int64 `yaml:"maxRequestBytes"`
}

type piiGuardFile struct {
	Wasm        string `yaml:"wasm"`
	SHA256      string `yaml:"sha256"`
	HashKeyFile string `yaml:"hashKeyFile"`
	HashKeyID   string `yaml:"hashKeyId"`
}

type jwtFile struct {
	Issuer    string   `yaml:"issuer"`
	Audiences []string `yaml:"audiences"`
	JWKSURI   string   `yaml:"jwksUri"`
	Forward   bool     `yaml:"forward"`
}

type tracingFile struct {
	Collector       string   `yaml:"collector"`
	SPIFFEID        string   `yaml:"spiffeId"`
	ServiceName     string   `yaml:"serviceName"`
	SamplingPercent *float64 `yaml:"samplingPercent"`
}

type serviceFile struct {
	Name     string `yaml:"name"`
	SPIFFEID string `yaml:"spiffeId"`
	AppPort  *int64 `yaml:"appPort"`
	Inbound  string `yaml:"inbound"`
	Outbound string `yaml:"outbound"`
}

type modelFile struct {
	Name     string            `yaml:"name"`
	SPIFFEID string            `yaml:"spiffeId"`
	Hosts    []string          `yaml:"hosts"`
	Sidecar  string            `yaml:"sidecar"`
	Policy   string            `yaml:"policy"`
	PII      map[string]string `yaml:"pii"`
	Versions []versionFile     `yaml:"versions"`
}

type versionFile struct {
	Name      string   `yaml:"name"`
	Weight    *int64   `yaml:"weight"`
	Endpoints []string `yaml:"endpoints"`
	SPIFFEID  string   `yaml:"spiffeId"`
	State     string   `yaml:"state"`
	Artifact  string   `yaml:"artifact"`
	Signature string   `yaml:"signature"`
	Mirror    *int64   `yaml:"mirror"`
}

// Defaults that a demanding operator would otherwise have to repeat.
const (
	DefaultExtAuthzTimeout         = 250 * time.Millisecond
	DefaultExtAuthzMaxRequestBytes = 64 * 1024
	// maxExtAuthzRequestBytes bounds what Envoy buffers for a decision; the
	// body only needs enough to read the prompt.
	maxExtAuthzRequestBytes = 8 * 1024 * 1024
	defaultSamplingPercent  = 1.0
)

var (
	nameRE        = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)
	versionRE     = regexp.MustCompile(`^[a-zA-Z0-9]([a-zA-Z0-9._-]{0,61}[a-zA-Z0-9])?$`)
	trustDomainRE = regexp.MustCompile(`^[a-z0-9._-]+$`)
	regoPackageRE = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*(\.[a-zA-Z_][a-zA-Z0-9_]*)*$`)
	hostRE        = regexp.MustCompile(`^(\*\.)?[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$`)
	sha256RE      = regexp.MustCompile(`^[0-9a-f]{64}$`)
)

// maxDocumentBytes bounds what Parse accepts; a mesh of thousands of models
// is far below it.
const maxDocumentBytes = 16 << 20

// Parse decodes and validates a mesh document. baseDir resolves relative
// paths; it may be empty to leave them as written.
func Parse(data []byte, baseDir string) (*Mesh, error) {
	if len(data) > maxDocumentBytes {
		return nil, &ValidationError{Errors: []FieldError{{Msg: fmt.Sprintf("document is %d bytes, more than the %d allowed", len(data), maxDocumentBytes)}}}
	}
	// The document is read as a node tree first: a syntax error stops
	// there, but an unknown key is one problem among the others, reported
	// with its path next to the values' problems in one run.
	var root yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&root); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, &ValidationError{Errors: []FieldError{{Msg: "document is empty"}}}
		}
		return nil, &ValidationError{Errors: syntaxErrors(data, err)}
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, &ValidationError{Errors: []FieldError{{Msg: "more than one YAML document; a mesh is one document"}}}
	}
	v := &validator{}
	unknownKeys(&root, reflect.TypeFor[file](), "", v)
	var f file
	if err := root.Decode(&f); err != nil {
		// Values of the wrong type; the rest of the document decodes.
		v.errs = append(v.errs, yamlErrors(err)...)
	}
	m := v.mesh(&f, baseDir)
	if len(v.errs) > 0 {
		return nil, &ValidationError{Errors: v.errs}
	}
	return m, nil
}

// unknownKeys reports, with their paths, the mapping keys of n that the
// type t has no field for, and suggests the nearest field name.
func unknownKeys(n *yaml.Node, t reflect.Type, path string, v *validator) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if n.Kind == yaml.DocumentNode {
		for _, c := range n.Content {
			unknownKeys(c, t, path, v)
		}
		return
	}
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			return // a type error, reported by the decoder
		}
		fields := map[string]reflect.Type{}
		var names []string
		for i := 0; i < t.NumField(); i++ {
			name, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
			if name == "" || name == "-" {
				continue
			}
			fields[name] = t.Field(i).Type
			names = append(names, name)
		}
		for k := 0; k+1 < len(n.Content); k += 2 {
			key, val := n.Content[k].Value, n.Content[k+1]
			p := key
			if path != "" {
				p = path + "." + key
			}
			ft, ok := fields[key]
			if !ok {
				msg := fmt.Sprintf("unknown field (line %d)", n.Content[k].Line)
				if near := nearest(key, names); near != "" {
					msg = fmt.Sprintf("unknown field (line %d); did you mean %q?", n.Content[k].Line, near)
				}
				v.errs = append(v.errs, FieldError{Path: p, Msg: msg})
				continue
			}
			unknownKeys(val, ft, p, v)
		}
	case reflect.Slice, reflect.Array:
		if n.Kind != yaml.SequenceNode {
			return
		}
		for i, c := range n.Content {
			unknownKeys(c, t.Elem(), fmt.Sprintf("%s[%d]", path, i), v)
		}
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			return
		}
		for k := 0; k+1 < len(n.Content); k += 2 {
			unknownKeys(n.Content[k+1], t.Elem(), path+"."+n.Content[k].Value, v)
		}
	}
}

// nearest returns the name within two edits of key (case aside), or "".
func nearest(key string, names []string) string {
	best, bestD := "", 3
	for _, n := range names {
		if d := editDistance(strings.ToLower(key), strings.ToLower(n)); d < bestD {
			best, bestD = n, d
		}
	}
	return best
}

// editDistance is the Damerau–Levenshtein distance (adjacent
// transpositions count one: "wieght" is one edit from "weight").
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	d := make([][]int, len(ra)+1)
	for i := range d {
		d[i] = make([]int, len(rb)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(ra); i++ {
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(ra)][len(rb)]
}

// syntaxErrors are the YAML parser's errors, with the position of a tab in
// indentation corrected: the parser names the line before the tab, where
// it was still reading; the tab's own line and column are reported.
func syntaxErrors(data []byte, err error) []FieldError {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	if strings.Contains(msg, "tab character") {
		for i, line := range strings.Split(string(data), "\n") {
			indent := len(line) - len(strings.TrimLeft(line, " \t"))
			if c := strings.IndexByte(line[:indent], '\t'); c >= 0 {
				return []FieldError{{Msg: fmt.Sprintf("line %d, column %d: a tab in the indentation; YAML indents with spaces", i+1, c+1)}}
			}
		}
	}
	if fe, ok := flowError(data, msg); ok {
		return []FieldError{fe}
	}
	return yamlErrors(err)
}

var flowErrRE = regexp.MustCompile(`^line (\d+): did not find expected ',' or '([}\]])'$`)

// flowError places an unfinished flow collection's error where it is: the
// parser names the line before the collection's opening line, where it
// was when the collection began; the first place the collection breaks —
// a ':' after a value, or a line that leaves it unclosed — is reported,
// with where the collection began.
func flowError(data []byte, msg string) (FieldError, bool) {
	m := flowErrRE.FindStringSubmatch(msg)
	if m == nil {
		return FieldError{}, false
	}
	want := m[2]
	open := "{"
	if want == "]" {
		open = "["
	}
	reported, _ := strconv.Atoi(m[1])
	lines := strings.Split(string(data), "\n")
	// The parser's line is 0-based at that point: the collection opens on
	// the next one (or on it, when it is the first line).
	for _, start := range []int{reported, reported - 1} {
		if start < 0 || start >= len(lines) {
			continue
		}
		col := strings.Index(lines[start], open)
		if col < 0 {
			continue
		}
		if l, c, ok := flowBreak(lines, start, col, want); ok {
			return FieldError{Msg: fmt.Sprintf("line %d, column %d: did not find expected ',' or '%s' (the flow collection opened at line %d, column %d)",
				l+1, c+1, want, start+1, col+1)}, true
		}
	}
	return FieldError{}, false
}

// flowBreak walks a flow collection from its opening bracket and returns
// where it breaks: the key of an entry that follows a value without a ','
// between them, or the first line past its opening one that
// is indented no deeper than it (the collection was never closed).
func flowBreak(lines []string, line, col int, want string) (int, int, bool) {
	indent := len(lines[line]) - len(strings.TrimLeft(lines[line], " "))
	depth, inValue, quote := 0, false, byte(0)
	for l := line; l < len(lines); l++ {
		text := lines[l]
		c := 0
		if l == line {
			c = col
		} else if t := strings.TrimLeft(text, " "); t != "" && !strings.HasPrefix(t, "#") && len(text)-len(t) <= indent {
			return l, len(text) - len(t), true
		}
		for ; c < len(text); c++ {
			ch := text[c]
			switch {
			case quote != 0:
				if ch == quote {
					quote = 0
				}
			case ch == '"' || ch == '\'':
				quote = ch
			case ch == '#' && (c == 0 || text[c-1] == ' '):
				c = len(text)
			case ch == '{' || ch == '[':
				depth++
				inValue = false
			case ch == '}' || ch == ']':
				depth--
				inValue = false
				if depth == 0 {
					return 0, 0, false // closed: the break is elsewhere
				}
			case ch == ',':
				inValue = false
			case ch == ':' && (c+1 == len(text) || text[c+1] == ' '):
				if inValue && depth == 1 && want == "}" {
					// The ',' belongs before the key this ':' ends.
					k := c
					for k > 0 && text[k-1] != ' ' && text[k-1] != ',' && text[k-1] != '{' {
						k--
					}
					return l, k, true
				}
				inValue = true
			}
		}
	}
	return len(lines) - 1, 0, true
}

func yamlErrors(err error) []FieldError {
	var te *yaml.TypeError
	if errors.As(err, &te) {
		out := make([]FieldError, 0, len(te.Errors))
		for _, e := range te.Errors {
			out = append(out, FieldError{Msg: strings.TrimPrefix(e, "yaml: ")})
		}
		return out
	}
	return []FieldError{{Msg: strings.TrimPrefix(err.Error(), "yaml: ")}}
}

type validator struct {
	errs []FieldError
}

func (v *validator) errorf(path, format string, args ...any) {
	v.errs = append(v.errs, FieldError{Path: path, Msg: fmt.Sprintf(format, args...)})
}

func (v *validator) mesh(f *file, baseDir string) *Mesh {
	m := &Mesh{TrustDomain: f.TrustDomain}
	switch {
	case f.TrustDomain == "":
		v.errorf("trustDomain", "is required")
	case !trustDomainRE.MatchString(f.TrustDomain) || len(f.TrustDomain) > 255:
		v.errorf("trustDomain", "%q is not a SPIFFE trust domain (lower-case letters, digits, '.', '-', '_')", f.TrustDomain)
	}
	m.Identity = v.identity(f.Identity)
	m.ControlPlane = v.controlPlane(f.ControlPlane, f.TrustDomain)
	m.ExtAuthz = v.extAuthz(f.ExtAuthz, f.TrustDomain)
	m.PIIGuard = v.piiGuard(f.PIIGuard, baseDir)
	m.JWT = v.jwt(f.JWT)
	m.Tracing = v.tracing(f.Tracing, f.TrustDomain)

	listeners := map[Address]string{}
	claim := func(path string, a Address) {
		if a.Port == 0 {
			return
		}
		if prev, ok := listeners[a]; ok {
			v.errorf(path, "address %s is already used by %s", a, prev)
			return
		}
		listeners[a] = path
	}
	ids := map[string]string{}
	claimID := func(path, id string) {
		if id == "" {
			return
		}
		if prev, ok := ids[id]; ok {
			v.errorf(path, "SPIFFE id %s is already used by %s", id, prev)
			return
		}
		ids[id] = path
	}

	names := map[string]string{}
	for i := range f.Services {
		p := fmt.Sprintf("services[%d]", i)
		s := v.service(p, &f.Services[i], f.TrustDomain)
		if prev, ok := names[s.Name]; ok && s.Name != "" {
			v.errorf(p+".name", "%q is already used by %s", s.Name, prev)
		}
		names[s.Name] = p
		claim(p+".inbound", s.Inbound)
		claim(p+".outbound", s.Outbound)
		claimID(p+".spiffeId", s.SPIFFEID)
		m.Services = append(m.Services, s)
	}
	if len(f.Models) == 0 {
		v.errorf("models", "at least one model is required")
	}
	modelNames := map[string]string{}
	hosts := map[string]string{}
	for i := range f.Models {
		p := fmt.Sprintf("models[%d]", i)
		md := v.model(p, &f.Models[i], f.TrustDomain)
		if prev, ok := modelNames[md.Name]; ok && md.Name != "" {
			v.errorf(p+".name", "%q is already used by %s", md.Name, prev)
		}
		modelNames[md.Name] = p
		for j, h := range md.Hosts {
			if prev, ok := hosts[h]; ok {
				v.errorf(fmt.Sprintf("%s.hosts[%d]", p, j), "host %q is already used by %s", h, prev)
			}
			hosts[h] = fmt.Sprintf("%s.hosts[%d]", p, j)
		}
		claim(p+".sidecar", md.Sidecar)
		claimID(p+".spiffeId", md.SPIFFEID)
		m.Models = append(m.Models, md)
	}
	for i := range m.Models {
		for _, class := range slices.Sorted(maps.Keys(m.Models[i].PII)) {
			if m.Models[i].PII[class] == PIIHash && f.PIIGuard != nil && f.PIIGuard.HashKeyFile == "" {
				v.errorf(fmt.Sprintf("models[%d].pii.%s", i, class), "hash mode needs a key: set piiGuard.hashKeyFile")
			}
		}
	}
	return m
}

func (v *validator) identity(f *identityFile) Identity {
	id := Identity{Provider: IdentityBuiltin}
	if f == nil {
		return id
	}
	switch IdentityProvider(f.Provider) {
	case "", IdentityBuiltin:
	case IdentitySPIRE:
		id.Provider = IdentitySPIRE
		id.SPIREAgentSocket = f.SPIREAgentSocket
		if id.SPIREAgentSocket == "" {
			id.SPIREAgentSocket = "/run/spire/sockets/agent.sock"
		}
		if !filepath.IsAbs(id.SPIREAgentSocket) {
			v.errorf("identity.spireAgentSocket", "must be an absolute path, got %q", id.SPIREAgentSocket)
		}
	default:
		v.errorf("identity.provider", "must be %q or %q, got %q", IdentityBuiltin, IdentitySPIRE, f.Provider)
	}
	return id
}

func (v *validator) controlPlane(f *cpFile, td string) ControlPlane {
	cp := ControlPlane{Address: Address{Host: "127.0.0.1", Port: 18000}, SPIFFEID: spiffeID(td, "nexus/controlplane")}
	if f == nil {
		return cp
	}
	if f.Address != "" {
		cp.Address = v.address("controlPlane.address", f.Address)
	}
	if f.SPIFFEID != "" {
		cp.SPIFFEID = v.spiffeID("controlPlane.spiffeId", f.SPIFFEID, td)
	}
	return cp
}

func (v *validator) extAuthz(f *extAuthzFile, td string) ExtAuthz {
	ea := ExtAuthz{
		Address:         Address{Host: "127.0.0.1", Port: 9191},
		SPIFFEID:        spiffeID(td, "nexus/authz"),
		Timeout:         DefaultExtAuthzTimeout,
		MaxRequestBytes: DefaultExtAuthzMaxRequestBytes,
	}
	if f == nil {
		return ea
	}
	if f.Address != "" {
		ea.Address = v.address("extAuthz.address", f.Address)
	}
	if f.SPIFFEID != "" {
		ea.SPIFFEID = v.spiffeID("extAuthz.spiffeId", f.SPIFFEID, td)
	}
	if f.Timeout != "" {
		d, err := time.ParseDuration(f.Timeout)
		switch {
		case err != nil:
			v.errorf("extAuthz.timeout", "%q is not a duration (e.g. 250ms)", f.Timeout)
		case d <= 0 || d > 30*time.Second:
			v.errorf("extAuthz.timeout", "must be more than 0 and at most 30s, got %s", d)
		default:
			ea.Timeout = d
		}
	}
	if f.MaxRequestBytes != nil {
		n := *f.MaxRequestBytes
		if n < 1 || n > maxExtAuthzRequestBytes {
			v.errorf("extAuthz.maxRequestBytes", "must be 1..%d, got %d", maxExtAuthzRequestBytes, n)
		} else {
			ea.MaxRequestBytes = uint32(n)
		}
	}
	return ea
}

func (v *validator) piiGuard(f *piiGuardFile, baseDir string) PIIGuard {
	if f == nil || f.Wasm == "" {
		v.errorf("piiGuard.wasm", "is required: the path of piiguard.wasm as the sidecar's Envoy sees it")
		return PIIGuard{}
	}
	p := f.Wasm
	if !filepath.IsAbs(p) && baseDir != "" {
		p = filepath.Join(baseDir, p)
	}
	if f.SHA256 != "" && !sha256RE.MatchString(f.SHA256) {
		v.errorf("piiGuard.sha256", "must be 64 lower-case hex digits")
	}
	g := PIIGuard{WasmPath: filepath.Clean(p), SHA256: f.SHA256, HashKeyID: f.HashKeyID}
	if f.HashKeyFile != "" {
		kp := f.HashKeyFile
		if !filepath.IsAbs(kp) && baseDir != "" {
			kp = filepath.Join(baseDir, kp)
		}
		key, err := os.ReadFile(kp)
		switch {
		case err != nil:
			v.errorf("piiGuard.hashKeyFile", "cannot read %s: %v", kp, err)
		case len(bytes.TrimSpace(key)) < 16:
			v.errorf("piiGuard.hashKeyFile", "%s holds fewer than 16 bytes; use at least 32 random bytes", kp)
		default:
			g.HashKey = bytes.TrimSpace(key)
		}
		if g.HashKeyID == "" {
			g.HashKeyID = "k1"
		}
	}
	return g
}

func (v *validator) jwt(f *jwtFile) *JWT {
	if f == nil {
		return nil
	}
	j := &JWT{Issuer: f.Issuer, Audiences: f.Audiences, JWKSURI: f.JWKSURI, Forward: f.Forward}
	if f.Issuer == "" {
		v.errorf("jwt.issuer", "is required")
	}
	if f.JWKSURI == "" {
		v.errorf("jwt.jwksUri", "is required")
	} else if _, _, err := SplitHTTPSURL(f.JWKSURI); err != nil {
		v.errorf("jwt.jwksUri", "%v", err)
	}
	if len(f.Audiences) == 0 {
		v.errorf("jwt.audiences", "at least one audience is required, so tokens minted for other apps are refused")
	}
	return j
}

// SplitHTTPSURL returns the host and port of an https URL, defaulting the port.
func SplitHTTPSURL(raw string) (string, uint32, error) {
	rest, ok := strings.CutPrefix(raw, "https://")
	if !ok {
		return "", 0, fmt.Errorf("%q must be an https:// URL", raw)
	}
	hostport, _, _ := strings.Cut(rest, "/")
	if hostport == "" {
		return "", 0, fmt.Errorf("%q has no host", raw)
	}
	host, portStr, err := net.SplitHostPort(hostport)
	if err != nil {
		return hostport, 443, nil
	}
	port, err := strconv.ParseUint(portStr, 10, 16)
	if err != nil || port == 0 {
		return "", 0, fmt.Errorf("%q has an invalid port", raw)
	}
	return host, uint32(port), nil
}

func (v *validator) tracing(f *tracingFile, td string) *Tracing {
	if f == nil {
		return nil
	}
	t := &Tracing{ServiceName: f.ServiceName, SamplingPercent: defaultSamplingPercent, SPIFFEID: spiffeID(td, "nexus/otel-collector")}
	if f.SPIFFEID != "" {
		t.SPIFFEID = v.spiffeID("tracing.spiffeId", f.SPIFFEID, td)
	}
	if f.Collector == "" {
		v.errorf("tracing.collector", "is required (host:port of an OTLP/gRPC collector)")
	} else {
		t.Collector = v.address("tracing.collector", f.Collector)
	}
	if t.ServiceName == "" {
		t.ServiceName = "nexus-sidecar"
	}
	if f.SamplingPercent != nil {
		if *f.SamplingPercent < 0 || *f.SamplingPercent > 100 {
			v.errorf("tracing.samplingPercent", "must be 0..100, got %v", *f.SamplingPercent)
		} else {
			t.SamplingPercent = *f.SamplingPercent
		}
	}
	return t
}

func (v *validator) service(p string, f *serviceFile, td string) Service {
	s := Service{Name: f.Name}
	v.name(p+".name", f.Name)
	if f.SPIFFEID == "" {
		s.SPIFFEID = spiffeID(td, "service/"+f.Name)
	} else {
		s.SPIFFEID = v.spiffeID(p+".spiffeId", f.SPIFFEID, td)
	}
	switch {
	case f.AppPort == nil:
		v.errorf(p+".appPort", "is required")
	case *f.AppPort < 1 || *f.AppPort > 65535:
		v.errorf(p+".appPort", "must be 1..65535, got %d", *f.AppPort)
	default:
		s.AppPort = uint32(*f.AppPort)
	}
	if f.Inbound == "" {
		v.errorf(p+".inbound", "is required (host:port of the sidecar's mTLS listener)")
	} else {
		s.Inbound = v.address(p+".inbound", f.Inbound)
	}
	if f.Outbound == "" {
		v.errorf(p+".outbound", "is required (loopback host:port the app calls models through)")
	} else {
		s.Outbound = v.address(p+".outbound", f.Outbound)
		if ip, err := netip.ParseAddr(s.Outbound.Host); err == nil && !ip.IsLoopback() {
			v.errorf(p+".outbound", "must be a loopback address: the outbound listener accepts plaintext from the app")
		}
	}
	return s
}

func (v *validator) model(p string, f *modelFile, td string) Model {
	md := Model{Name: f.Name, Policy: f.Policy}
	v.name(p+".name", f.Name)
	if f.SPIFFEID == "" {
		md.SPIFFEID = spiffeID(td, "model/"+f.Name)
	} else {
		md.SPIFFEID = v.spiffeID(p+".spiffeId", f.SPIFFEID, td)
	}
	if len(f.Hosts) == 0 {
		v.errorf(p+".hosts", "at least one host is required")
	}
	for j, h := range f.Hosts {
		hp := fmt.Sprintf("%s.hosts[%d]", p, j)
		h = strings.ToLower(h)
		if !hostRE.MatchString(h) || len(h) > 253 {
			v.errorf(hp, "%q is not a DNS name (a leading '*.' is allowed)", f.Hosts[j])
			continue
		}
		if slices.Contains(md.Hosts, h) {
			v.errorf(hp, "host %q is listed twice", h)
			continue
		}
		md.Hosts = append(md.Hosts, h)
	}
	if f.Sidecar == "" {
		v.errorf(p+".sidecar", "is required (host:port of the model sidecar's mTLS listener)")
	} else {
		md.Sidecar = v.address(p+".sidecar", f.Sidecar)
	}
	switch {
	case f.Policy == "":
		v.errorf(p+".policy", "is required: the Rego package that decides calls to this model")
	case !regoPackageRE.MatchString(f.Policy):
		v.errorf(p+".policy", "%q is not a Rego package path (e.g. nexus.models.triage)", f.Policy)
	}
	md.PII = map[string]PIIMode{}
	for _, class := range slices.Sorted(maps.Keys(f.PII)) {
		mode := PIIMode(f.PII[class])
		cp := fmt.Sprintf("%s.pii.%s", p, class)
		if !slices.Contains(piiClasses, class) {
			v.errorf(cp, "unknown data class; known classes: %s", strings.Join(piiClasses, ", "))
			continue
		}
		switch mode {
		case PIITokenize, PIIRedact, PIIHash, PIIBlock, PIIReport:
			md.PII[class] = mode
		default:
			v.errorf(cp, "mode must be one of tokenize, redact, hash, block, report; got %q", mode)
		}
	}
	if len(f.Versions) == 0 {
		v.errorf(p+".versions", "at least one version is required")
	}
	seen := map[string]bool{}
	var total int64
	weightsOK := true
	for j := range f.Versions {
		vp := fmt.Sprintf("%s.versions[%d]", p, j)
		vf := &f.Versions[j]
		ver := Version{Name: vf.Name, Artifact: vf.Artifact, Signature: vf.Signature, State: StateServing}
		if vf.State != "" {
			ver.State = VersionState(vf.State)
			if !slices.Contains(VersionStates, ver.State) {
				v.errorf(vp+".state", "must be one of registered, verified, validated, serving, retired, got %q", vf.State)
			}
		}
		switch {
		case vf.Name == "":
			v.errorf(vp+".name", "is required")
		case !versionRE.MatchString(vf.Name):
			v.errorf(vp+".name", "%q must be letters, digits, '.', '_' or '-' (at most 63)", vf.Name)
		case seen[vf.Name]:
			v.errorf(vp+".name", "version %q is listed twice", vf.Name)
		}
		seen[vf.Name] = true
		switch {
		case vf.Weight == nil:
			v.errorf(vp+".weight", "is required (0..100; the weights of a model sum to 100)")
			weightsOK = false
		case *vf.Weight < 0 || *vf.Weight > 100:
			v.errorf(vp+".weight", "must be 0..100, got %d", *vf.Weight)
			weightsOK = false
		case *vf.Weight > 0 && !ver.MayServe() && slices.Contains(VersionStates, ver.State):
			v.errorf(vp+".weight", "version %s is %s: it may get traffic only once validated (weight 0 until then)", vf.Name, ver.State)
			weightsOK = false
		default:
			ver.Weight = uint32(*vf.Weight)
			total += *vf.Weight
		}
		if vf.Mirror != nil {
			switch m := *vf.Mirror; {
			case m < 0 || m > 100:
				v.errorf(vp+".mirror", "must be 0..100 (percent of the model's requests), got %d", m)
			case m > 0 && !ver.MayServe() && slices.Contains(VersionStates, ver.State):
				v.errorf(vp+".mirror", "version %s is %s: it may receive mirrored traffic only once validated", vf.Name, ver.State)
			default:
				ver.Mirror = uint32(m)
			}
		}
		if len(vf.Endpoints) == 0 {
			v.errorf(vp+".endpoints", "at least one endpoint is required")
		}
		for k, e := range vf.Endpoints {
			ver.Endpoints = append(ver.Endpoints, v.address(fmt.Sprintf("%s.endpoints[%d]", vp, k), e))
		}
		if vf.SPIFFEID == "" {
			ver.SPIFFEID = spiffeID(td, "model/"+f.Name+"/"+vf.Name)
		} else {
			ver.SPIFFEID = v.spiffeID(vp+".spiffeId", vf.SPIFFEID, td)
		}
		md.Versions = append(md.Versions, ver)
	}
	if weightsOK && len(f.Versions) > 0 && total != 100 {
		v.errorf(p+".versions", "weights sum to %d; they must sum to 100", total)
	}
	return md
}

func (v *validator) name(path, name string) {
	switch {
	case name == "":
		v.errorf(path, "is required")
	case !nameRE.MatchString(name):
		v.errorf(path, "%q must be a DNS label: lower-case letters, digits and '-', at most 63", name)
	}
}

func (v *validator) address(path, s string) Address {
	host, portStr, err := net.SplitHostPort(s)
	if err != nil || host == "" {
		v.errorf(path, "%q is not host:port", s)
		return Address{}
	}
	port, err := strconv.ParseUint(portStr, 10, 16)
	if err != nil || port == 0 {
		v.errorf(path, "%q has an invalid port (1..65535)", s)
		return Address{}
	}
	if _, err := netip.ParseAddr(host); err != nil && !hostRE.MatchString(strings.ToLower(host)) {
		v.errorf(path, "%q has an invalid host", s)
		return Address{}
	}
	return Address{Host: host, Port: uint32(port)}
}

func (v *validator) spiffeID(path, id, td string) string {
	rest, ok := strings.CutPrefix(id, "spiffe://")
	if !ok {
		v.errorf(path, "%q is not a SPIFFE id (spiffe://<trust-domain>/<path>)", id)
		return ""
	}
	dom, p, _ := strings.Cut(rest, "/")
	if dom != td {
		v.errorf(path, "%q is outside the mesh trust domain %q", id, td)
		return ""
	}
	if p == "" || strings.HasSuffix(p, "/") || strings.Contains(p, "//") {
		v.errorf(path, "%q needs a non-empty path without empty segments", id)
		return ""
	}
	for _, seg := range strings.Split(p, "/") {
		if seg == "." || seg == ".." {
			v.errorf(path, "%q has a '.' or '..' segment", id)
			return ""
		}
		for _, r := range seg {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-' || r == '_') {
				v.errorf(path, "%q has a character SPIFFE ids do not allow (%q)", id, r)
				return ""
			}
		}
	}
	return id
}

func spiffeID(td, path string) string { return "spiffe://" + td + "/" + path }

// ValidateWeights checks a traffic change for model against the mesh: every
// version named exists, every weight is 0..100 and they sum to 100. Versions
// left out get weight 0.
func (m *Mesh) ValidateWeights(model string, weights map[string]int64) (map[string]uint32, error) {
	md, ok := m.Model(model)
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrUnknownModel, model)
	}
	var errs []FieldError
	out := make(map[string]uint32, len(md.Versions))
	for _, v := range md.Versions {
		out[v.Name] = 0
	}
	var total int64
	for _, name := range slices.Sorted(maps.Keys(weights)) {
		w := weights[name]
		p := "weights." + name
		if _, ok := md.Version(name); !ok {
			errs = append(errs, FieldError{Path: p, Msg: fmt.Sprintf("model %q has no version %q", model, name)})
			continue
		}
		if w < 0 || w > 100 {
			errs = append(errs, FieldError{Path: p, Msg: fmt.Sprintf("must be 0..100, got %d", w)})
			continue
		}
		if v, _ := md.Version(name); w > 0 && !v.MayServe() {
			return nil, &NotServableError{Model: model, Version: name, State: v.State}
		}
		out[name] = uint32(w)
		total += w
	}
	if len(weights) == 0 {
		errs = append(errs, FieldError{Path: "weights", Msg: "is required: an object of version name to weight"})
	} else if len(errs) == 0 && total != 100 {
		errs = append(errs, FieldError{Path: "weights", Msg: fmt.Sprintf("sum to %d; they must sum to 100", total)})
	}
	if len(errs) > 0 {
		return nil, &ValidationError{Source: "traffic", Errors: errs}
	}
	return out, nil
}

// ErrUnknownModel is returned for a model name the mesh does not define.
var ErrUnknownModel = errors.New("unknown model")

// ErrUnknownVersion is returned for a version a model does not define.
var ErrUnknownVersion = errors.New("unknown version")

// Registration is a version registered through the admin API rather than
// listed in the mesh file.
type Registration struct {
	Name      string   `json:"name"`
	Artifact  string   `json:"artifact,omitempty"`
	Signature string   `json:"signature,omitempty"`
	Endpoints []string `json:"endpoints"`
	SPIFFEID  string   `json:"spiffe_id,omitempty"`
}

// WithRegisteredVersion returns a copy of the mesh with reg added to
// model as a registered version at weight 0, or the problems with reg,
// each naming its field.
func (m *Mesh) WithRegisteredVersion(model string, reg Registration, state VersionState) (*Mesh, error) {
	md, ok := m.Model(model)
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrUnknownModel, model)
	}
	v := &validator{}
	switch {
	case reg.Name == "":
		v.errorf("name", "is required")
	case !versionRE.MatchString(reg.Name):
		v.errorf("name", "%q must be letters, digits, '.', '_' or '-' (at most 63)", reg.Name)
	}
	if _, dup := md.Version(reg.Name); dup {
		return nil, &VersionExistsError{Model: model, Version: reg.Name}
	}
	ver := Version{Name: reg.Name, Artifact: reg.Artifact, Signature: reg.Signature, State: state}
	if len(reg.Endpoints) == 0 {
		v.errorf("endpoints", "at least one endpoint is required")
	}
	for i, e := range reg.Endpoints {
		ver.Endpoints = append(ver.Endpoints, v.address(fmt.Sprintf("endpoints[%d]", i), e))
	}
	if reg.SPIFFEID == "" {
		ver.SPIFFEID = spiffeID(m.TrustDomain, "model/"+model+"/"+reg.Name)
	} else {
		ver.SPIFFEID = v.spiffeID("spiffe_id", reg.SPIFFEID, m.TrustDomain)
	}
	if len(v.errs) > 0 {
		return nil, &ValidationError{Source: "version", Errors: v.errs}
	}
	out := *m
	out.Models = make([]Model, len(m.Models))
	copy(out.Models, m.Models)
	for i := range out.Models {
		if out.Models[i].Name == model {
			out.Models[i].Versions = append(append([]Version(nil), out.Models[i].Versions...), ver)
		}
	}
	return &out, nil
}

// VersionExistsError is a registration of a version the model has.
type VersionExistsError struct{ Model, Version string }

func (e *VersionExistsError) Error() string {
	return fmt.Sprintf("model %s already has a version %s", e.Model, e.Version)
}
