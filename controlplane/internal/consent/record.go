// Package consent keeps data subjects' consent records (shaped after
// ISO/IEC TS 27560 and the Kantara Consent Receipt), their emergency-access
// (break-glass) grants, and publishes both to nexus-authz as an OPA bundle.
//
// A subject is named in the clear only inside a sealed record: rows, audit
// entries and the published policy data carry the keyed hash nexus-authz
// computes from the verified JWT sub, so a decision can be matched to a
// consent without either side writing the subject down.
package consent

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Record is one consent as given by a data subject. Field names follow
// the Kantara Consent Receipt where it has one (piiPrincipalId → Subject,
// piiCategory → Categories, termination → ExpiresAt,
// thirdPartyDisclosure/thirdPartyName → Sharing/ThirdParties).
type Record struct {
	ID string `json:"id"`
	// Subject is the data subject's id as the identity provider puts it in
	// the JWT sub. It is only ever stored sealed.
	Subject string `json:"subject"`
	// SubjectID is the keyed hash the subject appears as everywhere else.
	SubjectID        string    `json:"subject_id"`
	Purposes         []string  `json:"purposes"`
	Categories       []string  `json:"categories"`
	Duration         string    `json:"duration"`
	ExpiresAt        time.Time `json:"expires_at"`
	Sharing          bool      `json:"sharing"`
	ThirdParties     []string  `json:"third_parties,omitempty"`
	CollectionMethod string    `json:"collection_method"`
	Jurisdiction     string    `json:"jurisdiction,omitempty"`
	PolicyURL        string    `json:"policy_url,omitempty"`
	Controller       string    `json:"controller,omitempty"`
	// ConsentTime is when the subject gave the consent; RecordedAt when
	// Nexus stored it.
	ConsentTime time.Time  `json:"consent_time"`
	RecordedAt  time.Time  `json:"recorded_at"`
	RecordedBy  string     `json:"recorded_by"`
	RevokedAt   *time.Time `json:"revoked_at,omitempty"`
	RevokedBy   string     `json:"revoked_by,omitempty"`
}

// Active says whether the record counts at now.
func (r Record) Active(now time.Time) bool {
	return r.RevokedAt == nil && now.Before(r.ExpiresAt)
}

// Request is the body of POST /api/v1/admin/consents.
type Request struct {
	Subject          string   `json:"subject"`
	Purposes         []string `json:"purposes"`
	Categories       []string `json:"categories"`
	Duration         string   `json:"duration"`
	Sharing          bool     `json:"sharing"`
	ThirdParties     []string `json:"third_parties,omitempty"`
	CollectionMethod string   `json:"collection_method"`
	Jurisdiction     string   `json:"jurisdiction,omitempty"`
	PolicyURL        string   `json:"policy_url,omitempty"`
	Controller       string   `json:"controller,omitempty"`
	// ConsentTime defaults to when the request is recorded.
	ConsentTime *time.Time `json:"consent_time,omitempty"`
}

// FieldError is a refused request, naming the field at fault.
type FieldError struct {
	Field string
	Msg   string
}

func (e *FieldError) Error() string {
	if e.Field == "" {
		return e.Msg
	}
	return e.Field + ": " + e.Msg
}

func fieldErr(field, format string, args ...any) *FieldError {
	return &FieldError{Field: field, Msg: fmt.Sprintf(format, args...)}
}

// Limits on what a consent may say.
const (
	MaxDuration     = 10 * 366 * 24 * time.Hour
	maxSubjectLen   = 256
	maxTextLen      = 256
	maxList         = 32
	maxRequestBytes = 64 << 10
)

var (
	purposeRE  = regexp.MustCompile(`^[a-z][a-z0-9_.-]{0,63}$`)
	categoryRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_.-]{0,63}$`)
)

// ParseRequest reads and validates a consent request: unknown fields,
// trailing data and anything invalid are a *FieldError naming the field.
func ParseRequest(body []byte, now time.Time) (Request, error) {
	var req Request
	if err := strictJSON(body, &req); err != nil {
		return Request{}, err
	}
	return req, req.Validate(now)
}

// strictJSON decodes one JSON object, refusing unknown fields and trailing
// data, with errors that name the field.
func strictJSON(body []byte, v any) error {
	if len(body) > maxRequestBytes {
		return fieldErr("", "body is larger than %d bytes", maxRequestBytes)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var te *json.UnmarshalTypeError
		var se *json.SyntaxError
		var tpe *time.ParseError
		switch {
		case errors.As(err, &te) && te.Field != "":
			return fieldErr(te.Field, "must be a JSON %s, got %s", jsonKind(te.Type.Kind().String()), te.Value)
		case errors.As(err, &te):
			return fieldErr("", "body must be a JSON object, got %s", te.Value)
		case errors.As(err, &se):
			return fieldErr("", "body is not valid JSON at byte %d", se.Offset)
		case errors.As(err, &tpe):
			return fieldErr("consent_time", "must be an RFC 3339 time, e.g. 2026-01-02T15:04:05Z")
		case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
			return fieldErr("", "body is not a complete JSON object")
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
			return fieldErr(name, "unknown field")
		}
		return fieldErr("", "body: %v", err)
	}
	if dec.More() {
		return fieldErr("", "body has data after the JSON object")
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return fieldErr("", "body has data after the JSON object")
	}
	return nil
}

func jsonKind(goKind string) string {
	switch goKind {
	case "slice", "array":
		return "array"
	case "struct", "map", "ptr":
		return "object"
	case "bool":
		return "boolean"
	case "string":
		return "string"
	}
	return "value"
}

// Validate checks every field; the first fault is returned.
func (r Request) Validate(now time.Time) error {
	if err := ValidSubject(r.Subject); err != nil {
		return err
	}
	if err := tokens("purposes", r.Purposes, purposeRE, "lower-case names such as treatment or research"); err != nil {
		return err
	}
	if err := tokens("categories", r.Categories, categoryRE, "data categories such as health or PII classes such as EMAIL"); err != nil {
		return err
	}
	if _, err := ParseDuration("duration", r.Duration, MaxDuration); err != nil {
		return err
	}
	if !r.Sharing && len(r.ThirdParties) > 0 {
		return fieldErr("third_parties", "names third parties but sharing is false")
	}
	if len(r.ThirdParties) > maxList {
		return fieldErr("third_parties", "at most %d entries", maxList)
	}
	for i, tp := range r.ThirdParties {
		if err := text(fmt.Sprintf("third_parties[%d]", i), tp, true); err != nil {
			return err
		}
	}
	if err := text("collection_method", r.CollectionMethod, true); err != nil {
		return err
	}
	if err := text("jurisdiction", r.Jurisdiction, false); err != nil {
		return err
	}
	if err := text("controller", r.Controller, false); err != nil {
		return err
	}
	if r.PolicyURL != "" {
		u, err := url.Parse(r.PolicyURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || len(r.PolicyURL) > 2048 {
			return fieldErr("policy_url", "must be an absolute http(s) URL of the privacy notice")
		}
	}
	if r.ConsentTime != nil && r.ConsentTime.After(now.Add(time.Minute)) {
		return fieldErr("consent_time", "is in the future")
	}
	return nil
}

// ValidSubject checks a subject id as the JWT sub carries it.
func ValidSubject(s string) error {
	switch {
	case s == "":
		return fieldErr("subject", "is required: the data subject's id as the identity provider's JWT sub carries it")
	case len(s) > maxSubjectLen:
		return fieldErr("subject", "is longer than %d bytes", maxSubjectLen)
	case !printable(s):
		return fieldErr("subject", "must be printable UTF-8 without control characters")
	}
	return nil
}

// ParseDuration reads a Go duration that must be positive and at most max.
func ParseDuration(field, s string, max time.Duration) (time.Duration, error) {
	if s == "" {
		return 0, fieldErr(field, "is required, e.g. \"720h\"")
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fieldErr(field, "%q is not a duration such as \"720h\" or \"30m\"", s)
	}
	if d <= 0 {
		return 0, fieldErr(field, "must be positive, got %s", s)
	}
	if d > max {
		return 0, fieldErr(field, "%s is longer than the maximum %s", s, max)
	}
	return d, nil
}

func tokens(field string, list []string, re *regexp.Regexp, what string) error {
	if len(list) == 0 {
		return fieldErr(field, "needs at least one entry (%s)", what)
	}
	if len(list) > maxList {
		return fieldErr(field, "at most %d entries", maxList)
	}
	seen := map[string]bool{}
	for i, p := range list {
		f := fmt.Sprintf("%s[%d]", field, i)
		if !re.MatchString(p) {
			return fieldErr(f, "%q is not a valid name (%s)", truncate(p), what)
		}
		if seen[p] {
			return fieldErr(f, "%q is listed twice", p)
		}
		seen[p] = true
	}
	return nil
}

func text(field, s string, required bool) error {
	switch {
	case s == "" && required:
		return fieldErr(field, "is required")
	case len(s) > maxTextLen:
		return fieldErr(field, "is longer than %d bytes", maxTextLen)
	case !printable(s):
		return fieldErr(field, "must be printable UTF-8 without control characters")
	}
	return nil
}

func printable(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return false
		}
	}
	return true
}

func truncate(s string) string {
	if len(s) > 40 {
		return strings.ToValidUTF8(s[:40], "") + "…"
	}
	return s
}
