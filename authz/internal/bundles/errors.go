package bundles

import (
	"errors"
	"fmt"
	"strings"

	"github.com/open-policy-agent/opa/v1/download"
)

// Reason says why a bundle download did not yield a bundle.
type Reason string

// The reasons a bundle is refused or not downloaded.
const (
	ReasonUnsigned       Reason = "unsigned: no .signatures.json"
	ReasonUnknownKey     Reason = "signing key id unknown"
	ReasonBadSignature   Reason = "signature does not verify"
	ReasonDigestMismatch Reason = "file digest mismatch"
	ReasonUnsignedFile   Reason = "file not covered by the signature"
	ReasonMissingFile    Reason = "file named by the signature is missing"
	ReasonScope          Reason = "signature scope mismatch"
	ReasonSignature      Reason = "malformed signature"
	ReasonNoKeys         Reason = "signed, but no keys are configured to verify it"
	ReasonDelta          Reason = "delta bundles are not supported"
	ReasonInvalid        Reason = "invalid bundle"
	ReasonHTTP           Reason = "bundle service error"
	ReasonRequest        Reason = "request failed"
)

// signatureReasons maps fragments of the errors OPA's bundle reader
// returns (v1.22) to reasons; a test pins each against the real reader so
// an OPA upgrade that rewords one is noticed.
var signatureReasons = []struct {
	fragment string
	reason   Reason
}{
	{"bundle missing .signatures.json file", ReasonUnsigned},
	{"verification key corresponding to ID", ReasonUnknownKey},
	{"verification key ID is empty", ReasonUnknownKey},
	{"failed to verify JWT signature", ReasonBadSignature},
	{"digest mismatch", ReasonDigestMismatch},
	{"not included in bundle signature", ReasonUnsignedFile},
	{"specified in bundle signatures but not found", ReasonMissingFile},
	{"scope mismatch", ReasonScope},
	{"verification key not provided", ReasonNoKeys},
	{".signatures.json:", ReasonSignature},
	{"failed to split compact JWT", ReasonSignature},
	{"failed to base64 decode JWT", ReasonSignature},
	{"failed to parse PEM block", ReasonSignature},
	{"unknown signature algorithm", ReasonSignature},
	{"bundle load failed on signatures decode", ReasonSignature},
	{"delta bundles do not support signature verification", ReasonDelta},
}

// DownloadError is a failed bundle download: the service could not be
// reached or answered an error, or the bundle it sent was refused.
type DownloadError struct {
	Bundle string
	Reason Reason
	// HTTPCode is the bundle service's status for ReasonHTTP, else 0.
	HTTPCode int
	Err      error
}

func (e *DownloadError) Error() string {
	switch e.Reason {
	case ReasonHTTP, ReasonRequest:
		return fmt.Sprintf("bundle %q: download failed: %v", e.Bundle, e.Err)
	}
	return fmt.Sprintf("bundle %q refused: %s: %v", e.Bundle, e.Reason, e.Err)
}

func (e *DownloadError) Unwrap() error { return e.Err }

// classify names what went wrong with one download.
func classify(name string, err error) *DownloadError {
	de := &DownloadError{Bundle: name, Reason: ReasonInvalid, Err: err}
	if he, ok := errors.AsType[download.HTTPError](err); ok {
		de.Reason, de.HTTPCode = ReasonHTTP, he.StatusCode
		return de
	}
	msg := err.Error()
	if strings.HasPrefix(msg, "request failed:") {
		de.Reason = ReasonRequest
		return de
	}
	for _, r := range signatureReasons {
		if strings.Contains(msg, r.fragment) {
			de.Reason = r.reason
			return de
		}
	}
	return de
}
