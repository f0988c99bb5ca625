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
		var es []edit
		out, model, err := rewriteJSON(body, func(s []byte, base offsets) []edit {
			es = p.edits(s, base, r, es[:0])
			return es
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
	r.Body = applyEdits(body, p.edits(body, offsets{}, r, nil))
	r.finish()
	return r, nil
}

func (r *Result) finish() {
	slices.Sort(r.Blocked)
	r.Blocked = slices.Compact(r.Blocked)
	slices.SortFunc(r.Findings, func(a, b scan.Finding) int { return a.Start - b.Start })
}

// edit replaces text[start:end] with repl.
type edit struct {
	start, end int
	repl       string
}

// offsets maps an offset in a scanned text to one in the original body:
// start+k, or pos[k] for a JSON string that had escapes.
type offsets struct {
	start int
	pos   []int
}

func (o offsets) at(k int) int {
	if o.pos == nil {
		return o.start + k
	}
	return o.pos[k]
}

// edits scans text, records the findings in r, and appends to es the
// replacements the modes call for, in order.
func (p *Policy) edits(text []byte, base offsets, r *Result, es []edit) []edit {
	fs := p.Scanner.Scan(text)
	if len(fs) == 0 {
		return es
	}
	r.Findings = slices.Grow(r.Findings, len(fs))
	for _, f := range fs {
		r.Counts[f.Class]++
		r.Findings = append(r.Findings, scan.Finding{Class: f.Class, Start: base.at(f.Start), End: base.at(f.End), Confidence: f.Confidence})
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
		es = append(es, edit{start: f.Start, end: f.End, repl: repl})
	}
	return es
}

// applyEdits returns text with es applied (text itself when es is empty).
func applyEdits(text []byte, es []edit) []byte {
	if len(es) == 0 {
		return text
	}
	// Tokens can be longer than what they replace.
	out := make([]byte, 0, len(text)+len(text)/8+64)
	last := 0
	for _, e := range es {
		out = append(out, text[last:e.start]...)
		out = append(out, e.repl...)
		last = e.end
	}
	return append(out, text[last:]...)
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
//
// A request carries a few tokens at most, so they are kept in a slice and
// searched; maps are built only past vaultSmall entries. In the .wasm a
// map's creation and hashing cost more than the search.
type Vault struct {
	entries []vaultEntry
	byToken map[string]int // index into entries, once large
	byValue map[string]int
}

type vaultEntry struct {
	class        scan.Class
	value, token string
	n            int // the entry's number within its class
}

const vaultSmall = 16

// NewVault returns an empty vault.
func NewVault() *Vault {
	return &Vault{}
}

// Token returns the token for a value, issuing one if new.
func (v *Vault) Token(c scan.Class, value string) string {
	if i, ok := v.find(c, value); ok {
		return v.entries[i].token
	}
	n := 1
	for i := len(v.entries) - 1; i >= 0; i-- {
		if v.entries[i].class == c {
			n = v.entries[i].n + 1
			break
		}
	}
	t := "[" + string(c) + "_" + strconv.Itoa(n) + "]"
	v.entries = append(v.entries, vaultEntry{class: c, value: value, token: t, n: n})
	switch i := len(v.entries) - 1; {
	case v.byToken != nil:
		v.byToken[t], v.byValue[string(c)+"\x00"+value] = i, i
	case len(v.entries) > vaultSmall:
		v.byToken, v.byValue = make(map[string]int, 2*len(v.entries)), make(map[string]int, 2*len(v.entries))
		for i, e := range v.entries {
			v.byToken[e.token], v.byValue[string(e.class)+"\x00"+e.value] = i, i
		}
	}
	return t
}

func (v *Vault) find(c scan.Class, value string) (int, bool) {
	if v.byValue != nil {
		i, ok := v.byValue[string(c)+"\x00"+value]
		return i, ok
	}
	for i, e := range v.entries {
		if e.class == c && e.value == value {
			return i, true
		}
	}
	return 0, false
}

// Value returns the value a token replaced.
func (v *Vault) Value(token string) (string, bool) {
	if v.byToken != nil {
		i, ok := v.byToken[token]
		if !ok {
			return "", false
		}
		return v.entries[i].value, true
	}
	for _, e := range v.entries {
		if e.token == token {
			return e.value, true
		}
	}
	return "", false
}

// Len is the number of tokens issued.
func (v *Vault) Len() int { return len(v.entries) }
