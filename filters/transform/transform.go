// Package transform applies piiguard's per-class modes to a request body —
// tokenize, redact, hash, block, report — scanning JSON bodies' string
// values only and keeping the JSON valid, and restores the caller's own
// tokens in the model's answer.
package transform

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"

	"github.com/secureai-nexus/nexus/filters/scan"
)

// Mode is what happens to one class.
type Mode string

const (
	Tokenize Mode = "tokenize"
	Redact   Mode = "redact"
	Hash     Mode = "hash"
	Block    Mode = "block"
	Report   Mode = "report"
)

// ParseMode checks a mode name from configuration.
func ParseMode(s string) (Mode, error) {
	switch m := Mode(s); m {
	case Tokenize, Redact, Hash, Block, Report:
		return m, nil
	}
	return "", fmt.Errorf("mode %q is not one of tokenize, redact, hash, block, report", s)
}

// Policy is the configuration of one filter instance.
type Policy struct {
	// Modes by class; a class not listed is reported only.
	Modes map[scan.Class]Mode
	// HashKey keys the hash mode's HMAC; HashKeyID names its epoch in the
	// pseudonym, so pseudonyms from different keys never collide.
	HashKey   []byte
	HashKeyID string
	Scanner   scan.Scanner
}

func (p *Policy) mode(c scan.Class) Mode {
	if m, ok := p.Modes[c]; ok {
		return m
	}
	return Report
}

// Result is the outcome of one body.
type Result struct {
	// Body is the transformed body (the input itself when nothing changed).
	Body []byte
	// Findings are positions in the original body.
	Findings []scan.Finding
	// Counts are findings per class, every mode included.
	Counts map[scan.Class]int
	// Blocked are the classes found whose mode is block, sorted. When set,
	// the request must be refused and Body must not be forwarded.
	Blocked []scan.Class
	// Vault holds the tokens issued, for restoring the answer.
	Vault *Vault
	// Model is the top-level "model" string of a JSON object body, as
	// sent (OpenAI-style requests route on it); empty otherwise.
	Model string
}

// Changed says whether the body was rewritten.
func (r *Result) Changed(orig []byte) bool {
	return len(r.Body) != len(orig) || string(r.Body) != string(orig)
}

// Apply transforms body. isJSON scans only the string values of a JSON
// body; a body that is not valid JSON is then scanned whole as text (the
// safe direction: more is scanned, never less).
func Apply(p *Policy, body []byte, isJSON bool) (*Result, error) {
	r := &Result{Counts: map[scan.Class]int{}, Vault: NewVault()}
	if isJSON {
		out, model, err := rewriteJSON(body, func(s []byte, base func(int) int) ([]byte, error) {
			return p.rewriteText(s, base, r)
		})
		if err == nil {
			r.Body, r.Model = out, model
			r.finish()
			return r, nil
		}
		if !errors.Is(err, errNotJSON) {
			return nil, err
		}
		r = &Result{Counts: map[scan.Class]int{}, Vault: NewVault()}
	}
	out, err := p.rewriteText(body, func(i int) int { return i }, r)
	if err != nil {
		return nil, err
	}
	r.Body = out
	r.finish()
	return r, nil
}

func (r *Result) finish() {
	slices.Sort(r.Blocked)
	r.Blocked = slices.Compact(r.Blocked)
	slices.SortFunc(r.Findings, func(a, b scan.Finding) int { return a.Start - b.Start })
}

// rewriteText scans text and replaces findings per mode. base maps an
// offset in text to one in the original body, for the findings report.
func (p *Policy) rewriteText(text []byte, base func(int) int, r *Result) ([]byte, error) {
	fs := p.Scanner.Scan(text)
	if len(fs) == 0 {
		return text, nil
	}
	var out []byte
	last := 0
	for _, f := range fs {
		r.Counts[f.Class]++
		r.Findings = append(r.Findings, scan.Finding{Class: f.Class, Start: base(f.Start), End: base(f.End), Confidence: f.Confidence})
		var repl string
		switch p.mode(f.Class) {
		case Tokenize:
			repl = r.Vault.Token(f.Class, string(text[f.Start:f.End]))
		case Redact:
			repl = "[REDACTED:" + string(f.Class) + "]"
		case Hash:
			repl = p.pseudonym(f.Class, text[f.Start:f.End])
		case Block:
			r.Blocked = append(r.Blocked, f.Class)
			continue
		default:
			continue
		}
		if out == nil {
			out = make([]byte, 0, len(text))
		}
		out = append(out, text[last:f.Start]...)
		out = append(out, repl...)
		last = f.End
	}
	if out == nil {
		return text, nil
	}
	return append(out, text[last:]...), nil
}

// pseudonym is a keyed HMAC of the value: stable across requests for one
// key epoch, unlinkable without the key.
func (p *Policy) pseudonym(c scan.Class, v []byte) string {
	m := hmac.New(sha256.New, p.HashKey)
	m.Write([]byte(c))
	m.Write([]byte{0})
	m.Write(v)
	id := p.HashKeyID
	if id == "" {
		id = "k0"
	}
	return "[" + string(c) + ":" + id + ":" + hex.EncodeToString(m.Sum(nil)[:8]) + "]"
}

// Vault maps the tokens issued in one request to the values they replaced.
// The same value gets the same token; numbering is per class, in order of
// first appearance.
type Vault struct {
	byToken map[string]string
	byValue map[string]string
	next    map[scan.Class]int
}

// NewVault returns an empty vault.
func NewVault() *Vault {
	// The maps are made on the first token: most requests carry none, and
	// in the .wasm every allocation is costly.
	return &Vault{}
}

// Token returns the token for a value, issuing one if new.
func (v *Vault) Token(c scan.Class, value string) string {
	key := string(c) + "\x00" + value
	if t, ok := v.byValue[key]; ok {
		return t
	}
	if v.byValue == nil {
		v.byToken, v.byValue, v.next = map[string]string{}, map[string]string{}, map[scan.Class]int{}
	}
	v.next[c]++
	t := "[" + string(c) + "_" + strconv.Itoa(v.next[c]) + "]"
	v.byValue[key] = t
	v.byToken[t] = value
	return t
}

// Value returns the value a token replaced.
func (v *Vault) Value(token string) (string, bool) {
	s, ok := v.byToken[token]
	return s, ok
}

// Len is the number of tokens issued.
func (v *Vault) Len() int { return len(v.byToken) }
