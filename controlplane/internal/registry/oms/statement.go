package oms

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// The in-toto and OMS identifiers a v1.0 signature carries.
const (
	PayloadType   = "application/vnd.in-toto+json"
	StatementType = "https://in-toto.io/Statement/v1"
	PredicateType = "https://model_signing/signature/v1.0"

	// legacyPredicateType is the deprecated v0.2 format, which lists files
	// as subjects and records no serialization: refused.
	legacyPredicateType = "https://model_signing/Digests/v0.1"

	// maxPayload bounds the statement a bundle may carry.
	maxPayload = 64 << 20
)

// Statement is a parsed OMS v1.0 in-toto statement.
type Statement struct {
	ModelName     string
	RootDigest    []byte // the subject's sha256
	Serialization Serialization
	Resources     []Resource // in the order the statement lists them
}

// ErrStatement marks a statement that is not a well-formed OMS v1.0 one.
var ErrStatement = errors.New("oms: invalid statement")

func statementErr(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrStatement, fmt.Sprintf(format, a...))
}

// The JSON shapes. Field order follows the reference implementation's
// output.
type jsonStatement struct {
	Type          string        `json:"_type"`
	Subject       []jsonSubject `json:"subject"`
	PredicateType string        `json:"predicateType"`
	Predicate     jsonPredicate `json:"predicate"`
}

type jsonSubject struct {
	Name   string            `json:"name"`
	Digest map[string]string `json:"digest"`
}

type jsonPredicate struct {
	Serialization jsonSerialization `json:"serialization"`
	Resources     []jsonResource    `json:"resources"`
}

type jsonSerialization struct {
	Method        string      `json:"method"`
	HashType      string      `json:"hash_type"`
	ShardSize     json.Number `json:"shard_size,omitempty"`
	AllowSymlinks bool        `json:"allow_symlinks"`
	IgnorePaths   []string    `json:"ignore_paths,omitempty"`
}

type jsonResource struct {
	Name      string `json:"name"`
	Algorithm string `json:"algorithm"`
	Digest    string `json:"digest"`
}

// encodeStatement is the statement a signature over m signs.
func encodeStatement(m ModelManifest) ([]byte, error) {
	st := jsonStatement{
		Type:          StatementType,
		Subject:       []jsonSubject{{Name: m.ModelName, Digest: map[string]string{"sha256": m.RootDigestHex()}}},
		PredicateType: PredicateType,
		Predicate: jsonPredicate{
			Serialization: jsonSerialization{
				Method:        m.Serialization.Method,
				HashType:      m.Serialization.HashType,
				AllowSymlinks: m.Serialization.AllowSymlinks,
				IgnorePaths:   m.Serialization.IgnorePaths,
			},
			Resources: make([]jsonResource, 0, len(m.Resources)),
		},
	}
	if m.Serialization.Method == MethodShards {
		st.Predicate.Serialization.ShardSize = json.Number(strconv.FormatInt(m.Serialization.ShardSize, 10))
	}
	for _, r := range m.Resources {
		st.Predicate.Resources = append(st.Predicate.Resources, jsonResource{Name: r.Name, Algorithm: r.Algorithm, Digest: hex.EncodeToString(r.Digest)})
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(st); err != nil {
		return nil, fmt.Errorf("oms: encode statement: %w", err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// ParseStatement parses and checks an OMS v1.0 statement: the payload of
// a signature's DSSE envelope. It checks the shape and that the subject
// digest is the root digest of the listed resources; it says nothing about
// who signed it. Predicate fields other than serialization and resources
// are ignored, as v1.0 asks; duplicate object keys are refused, so no two
// JSON parsers can read it differently.
func ParseStatement(payload []byte) (*Statement, error) {
	if len(payload) > maxPayload {
		return nil, statementErr("payload is %d bytes, more than %d", len(payload), maxPayload)
	}
	if !utf8.Valid(payload) {
		return nil, statementErr("payload is not valid UTF-8")
	}
	if err := checkJSON(payload); err != nil {
		return nil, statementErr("%v", err)
	}
	var head struct {
		Type          string          `json:"_type"`
		Subject       json.RawMessage `json:"subject"`
		PredicateType string          `json:"predicateType"`
		Predicate     json.RawMessage `json:"predicate"`
	}
	if err := json.Unmarshal(payload, &head); err != nil {
		return nil, statementErr("%v", err)
	}
	if head.Type != StatementType {
		return nil, statementErr("_type is %q, want %q", head.Type, StatementType)
	}
	switch head.PredicateType {
	case PredicateType:
	case legacyPredicateType:
		return nil, statementErr("predicate type %q is the deprecated v0.2 format: re-sign the model with an OMS v1.0 signer", head.PredicateType)
	default:
		return nil, statementErr("predicate type is %q, want %q", head.PredicateType, PredicateType)
	}
	var subjects []jsonSubject
	if err := json.Unmarshal(head.Subject, &subjects); err != nil {
		return nil, statementErr("subject: %v", err)
	}
	if len(subjects) != 1 {
		return nil, statementErr("want exactly one subject, got %d", len(subjects))
	}
	subj := subjects[0]
	root, err := decodeDigest(subj.Digest["sha256"], sha256.Size)
	if err != nil {
		return nil, statementErr("subject %q: sha256 digest: %v", subj.Name, err)
	}
	var pred struct {
		Serialization *struct {
			Method        string          `json:"method"`
			HashType      string          `json:"hash_type"`
			ShardSize     json.RawMessage `json:"shard_size"`
			AllowSymlinks *bool           `json:"allow_symlinks"`
			IgnorePaths   []string        `json:"ignore_paths"`
		} `json:"serialization"`
		Resources *[]jsonResource `json:"resources"`
	}
	if len(head.Predicate) == 0 || string(head.Predicate) == "null" {
		return nil, statementErr("no predicate")
	}
	if err := json.Unmarshal(head.Predicate, &pred); err != nil {
		return nil, statementErr("predicate: %v", err)
	}
	if pred.Serialization == nil {
		return nil, statementErr("predicate has no serialization")
	}
	if pred.Resources == nil {
		return nil, statementErr("predicate has no resources")
	}
	ps := pred.Serialization
	ser := Serialization{Method: ps.Method, HashType: ps.HashType}
	if ps.AllowSymlinks != nil {
		ser.AllowSymlinks = *ps.AllowSymlinks
	}
	switch ser.Method {
	case MethodFiles:
		if len(ps.ShardSize) != 0 && string(ps.ShardSize) != "null" {
			return nil, statementErr("shard_size given for method %q", ser.Method)
		}
	case MethodShards:
		if ser.ShardSize, err = parseShardSize(ps.ShardSize); err != nil {
			return nil, statementErr("shard_size: %v", err)
		}
	default:
		return nil, statementErr("serialization method %q, want %q or %q", ser.Method, MethodFiles, MethodShards)
	}
	if err := ser.check(); err != nil {
		return nil, statementErr("%v", strings.TrimPrefix(err.Error(), "oms: "))
	}
	for _, p := range ps.IgnorePaths {
		c, err := cleanRelative(p)
		if err != nil {
			return nil, statementErr("ignore path %q: %v", p, err)
		}
		ser.IgnorePaths = append(ser.IgnorePaths, c)
	}
	st := &Statement{ModelName: subj.Name, RootDigest: root, Serialization: ser}
	seen := make(map[string]bool, len(*pred.Resources))
	h := sha256.New()
	for i, r := range *pred.Resources {
		if err := checkResourceName(r.Name, ser); err != nil {
			return nil, statementErr("resource %d %q: %v", i, r.Name, err)
		}
		if seen[r.Name] {
			return nil, statementErr("resource %q listed twice", r.Name)
		}
		seen[r.Name] = true
		if !algorithmMatches(r.Algorithm, ser) {
			return nil, statementErr("resource %q: algorithm %q does not match hash_type %q", r.Name, r.Algorithm, ser.HashType)
		}
		d, err := decodeDigest(r.Digest, digestSize(ser.HashType))
		if err != nil {
			return nil, statementErr("resource %q: digest: %v", r.Name, err)
		}
		h.Write(d)
		st.Resources = append(st.Resources, Resource{Name: r.Name, Algorithm: r.Algorithm, Digest: d})
	}
	if got := h.Sum(nil); !bytes.Equal(got, root) {
		return nil, statementErr("subject digest %x is not the root digest of the listed resources (%x)", root, got)
	}
	return st, nil
}

func decodeDigest(s string, size int) ([]byte, error) {
	if len(s) != 2*size {
		return nil, fmt.Errorf("want %d hex digits, got %d", 2*size, len(s))
	}
	d, err := hex.DecodeString(s)
	if err != nil {
		return nil, err
	}
	return d, nil
}

// parseShardSize reads shard_size, which the reference implementation
// writes as a double (1000000000.0).
func parseShardSize(raw json.RawMessage) (int64, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return 0, errors.New("missing")
	}
	var n json.Number
	if raw[0] == '"' {
		return 0, fmt.Errorf("not a number: %s", raw)
	}
	if err := json.Unmarshal(raw, &n); err != nil {
		return 0, fmt.Errorf("not a number: %s", raw)
	}
	if i, err := strconv.ParseInt(string(n), 10, 64); err == nil {
		return i, nil
	}
	f, err := strconv.ParseFloat(string(n), 64)
	if err != nil || f != math.Trunc(f) || f < 1 || f > float64(maxShardSize) {
		return 0, fmt.Errorf("%s is not a whole number in range", n)
	}
	return int64(f), nil
}

// algorithmMatches accepts the names the reference implementation writes:
// the hash name for files, and for shards also "<hash>-sharded-<size>".
func algorithmMatches(alg string, s Serialization) bool {
	if alg == s.HashType {
		return true
	}
	if s.Method != MethodShards {
		return false
	}
	size, ok := strings.CutPrefix(alg, s.HashType+"-sharded-")
	if !ok {
		return false
	}
	n, err := parseShardSize(json.RawMessage(size))
	return err == nil && n == s.ShardSize
}

// checkResourceName checks that a resource names a file inside the model
// (or "." for a model that is one file), and for shards a well-formed
// range.
func checkResourceName(name string, s Serialization) error {
	p := name
	if s.Method == MethodShards {
		var start, end int64
		var ok bool
		p, start, end, ok = splitShard(name)
		if !ok {
			return errors.New(`want "path:start:end"`)
		}
		if p+":"+strconv.FormatInt(start, 10)+":"+strconv.FormatInt(end, 10) != name {
			return errors.New("offsets are not in canonical form")
		}
		if start < 0 || end <= start || end-start > s.ShardSize || start%s.ShardSize != 0 {
			return fmt.Errorf("range %d..%d does not fit shard size %d", start, end, s.ShardSize)
		}
	}
	if p == "." {
		return nil
	}
	c, err := cleanRelative(p)
	if err != nil {
		return err
	}
	if c != p {
		return errors.New("path is not in canonical form")
	}
	return nil
}

// checkJSON checks that data is one JSON value with no duplicate keys in
// any object.
func checkJSON(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := checkValue(dec, 0); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("trailing data after the JSON value")
	}
	return nil
}

const maxDepth = 64

func checkValue(dec *json.Decoder, depth int) error {
	if depth > maxDepth {
		return fmt.Errorf("nested more than %d deep", maxDepth)
	}
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	d, ok := tok.(json.Delim)
	if !ok {
		return nil
	}
	switch d {
	case '[':
		for dec.More() {
			if err := checkValue(dec, depth+1); err != nil {
				return err
			}
		}
	case '{':
		keys := map[string]bool{}
		for dec.More() {
			tok, err := dec.Token()
			if err != nil {
				return err
			}
			k, _ := tok.(string)
			// encoding/json matches keys to fields case-insensitively:
			// fold, so "predicate" and "Predicate" count as one key.
			k = strings.ToLower(strings.ToUpper(k))
			if keys[k] {
				return fmt.Errorf("duplicate key %q", k)
			}
			keys[k] = true
			if err := checkValue(dec, depth+1); err != nil {
				return err
			}
		}
	}
	_, err = dec.Token() // the closing delimiter
	return err
}
