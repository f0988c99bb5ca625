package oms

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	"github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/verify"
	"github.com/sigstore/sigstore/pkg/signature"
	"google.golang.org/protobuf/encoding/protojson"
)

// TrustMethod is how a signature's signer is trusted.
type TrustMethod string

const (
	// KeyMethod: a public key, named in the bundle by its hint.
	KeyMethod TrustMethod = "key"
	// CertificateMethod: a certificate chaining to a trusted CA, with
	// no transparency log.
	CertificateMethod TrustMethod = "certificate"
	// SigstoreMethod: keyless; a Fulcio certificate for an OIDC
	// identity, logged in Rekor, checked against a trusted root.
	SigstoreMethod TrustMethod = "sigstore"
)

// Trust is what a signature is verified against. Set exactly one of
// PublicKeyPEM, CACertificatesPEM and TrustedRootJSON.
type Trust struct {
	// PublicKeyPEM is the signer's public key ("PUBLIC KEY" PEM): the
	// key method.
	PublicKeyPEM []byte
	// CACertificatesPEM holds one or more PEM certificates, each a trust
	// anchor the bundle's signing certificate must chain to (through
	// intermediates in the bundle): the certificate method. The chain is
	// checked at the current time (model_signing checks it at the signing
	// certificate's notBefore, so it accepts expired ones; this does not),
	// with Go's rules: extended key usages, where given, must allow code
	// signing; the signing certificate's key usage, where given, must
	// allow digital signatures.
	CACertificatesPEM []byte
	// TrustedRootJSON is a Sigstore trusted root (Fulcio CAs, Rekor and
	// CT log keys, as the TUF target trusted_root.json holds it): the
	// keyless method. Identity must name the signer and the issuer.
	TrustedRootJSON []byte
	// Identity is the signer a certificate must name. Keyless requires a
	// subject alternative name (exact or regexp) and an OIDC issuer
	// (exact or regexp); the certificate method checks only a subject
	// alternative name, and only when one is given.
	Identity Identity
}

// Identity matches a certificate's signer. Regexps are Go syntax and
// unanchored unless written with ^ and $.
type Identity struct {
	SubjectAlternativeName       string
	SubjectAlternativeNameRegexp string
	Issuer                       string
	IssuerRegexp                 string
}

func (i Identity) hasSAN() bool {
	return i.SubjectAlternativeName != "" || i.SubjectAlternativeNameRegexp != ""
}
func (i Identity) hasIssuer() bool { return i.Issuer != "" || i.IssuerRegexp != "" }

// Method is the trust method t selects.
func (t Trust) Method() (TrustMethod, error) {
	var set []TrustMethod
	if len(t.PublicKeyPEM) > 0 {
		set = append(set, KeyMethod)
	}
	if len(t.CACertificatesPEM) > 0 {
		set = append(set, CertificateMethod)
	}
	if len(t.TrustedRootJSON) > 0 {
		set = append(set, SigstoreMethod)
	}
	switch len(set) {
	case 1:
		return set[0], nil
	case 0:
		return "", errors.New("oms: trust names no public key, CA certificates or Sigstore trusted root (keyless verification needs a trusted root)")
	default:
		return "", fmt.Errorf("oms: trust sets more than one method (%v): set exactly one", set)
	}
}

// VerifyOption adjusts the re-hash of the model directory.
type VerifyOption func(*verifyConfig)

type verifyConfig struct {
	ignore  []string
	sigFile string
}

// WithIgnorePaths leaves more paths (relative to the model directory) out
// of the re-hash, beyond those the signature records: files shipped
// alongside the model that were not signed. A signed file under one of
// them is reported missing.
func WithIgnorePaths(paths ...string) VerifyOption {
	return func(c *verifyConfig) { c.ignore = append(c.ignore, paths...) }
}

// WithSignatureFile says where the signature sits in the model directory
// (default DefaultSignatureFile), so that it is not reported unlisted.
func WithSignatureFile(rel string) VerifyOption {
	return func(c *verifyConfig) { c.sigFile = rel }
}

// Result describes a verified model.
type Result struct {
	Method        TrustMethod
	ModelName     string // the subject's name: informative only
	RootDigest    string // hex SHA-256, the subject digest
	Serialization Serialization
	Resources     int
	// Signer is a one-line description of who signed: the key hint, or
	// the certificate's subject alternative name (and issuer) or subject.
	Signer string
	// KeyHint is the key method's key hint (PEM SHA-256, see KeyHint).
	KeyHint string
	// CertificateSubject and SubjectAlternativeName come from the
	// signing certificate; Issuer is its Fulcio OIDC issuer (keyless).
	CertificateSubject     string
	SubjectAlternativeName string
	Issuer                 string
	// LogTimes are the verified transparency-log times (keyless).
	LogTimes []time.Time
}

// ErrSignature marks a bundle whose signature, signer or shape does not
// verify. ErrKeyMismatch (also an ErrSignature) is the key method's "the
// bundle names a different key".
var (
	ErrSignature   = errors.New("oms: signature verification failed")
	ErrKeyMismatch = fmt.Errorf("%w: signed by another key", ErrSignature)
)

func sigErr(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrSignature, fmt.Sprintf(format, a...))
}

// MismatchError lists how a model directory differs from its signed
// manifest, by file path (for the shards method, a file with any shard
// missing, changed or extra is changed).
type MismatchError struct {
	Missing  []string // signed, not in the directory
	Changed  []string // in both, content differs
	Unlisted []string // in the directory, not signed
}

func (e *MismatchError) Error() string {
	var parts []string
	add := func(what string, names []string) {
		if len(names) > 0 {
			parts = append(parts, fmt.Sprintf("%d %s (%s)", len(names), what, strings.Join(names, ", ")))
		}
	}
	add("missing", e.Missing)
	add("changed", e.Changed)
	add("unlisted", e.Unlisted)
	return "oms: model does not match its signature: " + strings.Join(parts, "; ")
}

// Verify checks bundleJSON, an OMS v1.0 signature, against trust, then
// re-hashes dir with the serialization the signature records and checks
// that every signed file is there unchanged and that nothing else is
// (other than the paths the signature ignores, the default exclusions,
// the signature file and opts' ignore paths).
//
// The signature is checked first, so a forged bundle costs no hashing.
// Errors: ErrSignature (and ErrKeyMismatch) for the signature, ErrStatement
// for its content, *MismatchError for the directory, *PathError for a
// walk that fails.
func Verify(ctx context.Context, bundleJSON []byte, dir string, trust Trust, opts ...VerifyOption) (Result, error) {
	var cfg verifyConfig
	for _, o := range opts {
		o(&cfg)
	}
	method, err := trust.Method()
	if err != nil {
		return Result{}, err
	}
	res, payload, err := verifySignature(bundleJSON, method, trust)
	if err != nil {
		return Result{}, err
	}
	st, err := ParseStatement(payload)
	if err != nil {
		return Result{}, err
	}
	ignore, err := verifyIgnore(st, cfg)
	if err != nil {
		return Result{}, err
	}
	w := walkConfig{ser: st.Serialization, ignore: ignore}
	m, err := w.manifest(ctx, dir, st.ModelName)
	if err != nil {
		return Result{}, err
	}
	if err := diff(st, m); err != nil {
		return Result{}, err
	}
	if !bytes.Equal(m.RootDigest, st.RootDigest) {
		// Same resources, other order: the statement is not canonical.
		return Result{}, statementErr("resources are not in canonical order (root digest %x, recomputed %x)", st.RootDigest, m.RootDigest)
	}
	res.ModelName = st.ModelName
	res.RootDigest = m.RootDigestHex()
	res.Serialization = st.Serialization
	res.Resources = len(m.Resources)
	return res, nil
}

// verifyIgnore is what the re-hash leaves out: the signed ignore paths and
// the caller's, always; the default exclusions and the signature file
// only where no signed resource lies under them, so that a model signed
// with its git files still verifies them.
func verifyIgnore(st *Statement, cfg verifyConfig) ([]string, error) {
	ignore := slices.Clone(st.Serialization.IgnorePaths)
	for _, p := range cfg.ignore {
		c, err := cleanRelative(p)
		if err != nil {
			return nil, fmt.Errorf("oms: ignore path %q: %w", p, err)
		}
		ignore = append(ignore, c)
	}
	sig := cfg.sigFile
	if sig == "" {
		sig = DefaultSignatureFile
	}
	soft := append([]string{sig}, defaultExclusions...)
	for _, p := range soft {
		c, err := cleanRelative(p)
		if err != nil {
			return nil, fmt.Errorf("oms: signature file %q: %w", p, err)
		}
		covered := slices.ContainsFunc(st.Resources, func(r Resource) bool {
			return ignored(resourcePath(r.Name, st.Serialization.Method), []string{c})
		})
		if !covered {
			ignore = append(ignore, c)
		}
	}
	return ignore, nil
}

func resourcePath(name, method string) string {
	if method == MethodShards {
		p, _, _, _ := splitShard(name)
		return p
	}
	return name
}

// diff compares the signed resources with the directory's, by file.
func diff(st *Statement, m ModelManifest) error {
	method := st.Serialization.Method
	group := func(rs []Resource) map[string]map[string]string {
		g := map[string]map[string]string{}
		for _, r := range rs {
			p := resourcePath(r.Name, method)
			if g[p] == nil {
				g[p] = map[string]string{}
			}
			g[p][r.Name] = string(r.Digest)
		}
		return g
	}
	want, got := group(st.Resources), group(m.Resources)
	var e MismatchError
	for p, ws := range want {
		gs, ok := got[p]
		switch {
		case !ok:
			e.Missing = append(e.Missing, p)
		case !mapsEqual(ws, gs):
			e.Changed = append(e.Changed, p)
		}
	}
	for p := range got {
		if _, ok := want[p]; !ok {
			e.Unlisted = append(e.Unlisted, p)
		}
	}
	if len(e.Missing)+len(e.Changed)+len(e.Unlisted) == 0 {
		return nil
	}
	for _, l := range [][]string{e.Missing, e.Changed, e.Unlisted} {
		slices.SortFunc(l, comparePaths)
	}
	return &e
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// verifySignature checks the bundle with sigstore-go and returns the
// signer and the DSSE payload it verified.
func verifySignature(bundleJSON []byte, method TrustMethod, trust Trust) (Result, []byte, error) {
	res := Result{Method: method}
	var keyDER []byte
	if method == KeyMethod {
		var err error
		if keyDER, err = parsePublicKeyPEM(trust.PublicKeyPEM); err != nil {
			return Result{}, nil, err
		}
		if bundleJSON, err = upgradeLegacyKeyMaterial(bundleJSON, keyDER); err != nil {
			return Result{}, nil, err
		}
	}
	pb := new(protobundle.Bundle)
	if err := protojson.Unmarshal(bundleJSON, pb); err != nil {
		return Result{}, nil, sigErr("parse bundle: %v", err)
	}
	env := pb.GetDsseEnvelope()
	if env == nil {
		return Result{}, nil, sigErr("the bundle holds no DSSE envelope (an OMS signature signs an in-toto statement)")
	}
	if env.GetPayloadType() != PayloadType {
		return Result{}, nil, sigErr("DSSE payload type is %q, want %q", env.GetPayloadType(), PayloadType)
	}
	vm := pb.GetVerificationMaterial()
	if vm == nil {
		return Result{}, nil, sigErr("the bundle has no verification material")
	}
	var bopts []bundle.Option
	switch method {
	case KeyMethod:
		if vm.GetPublicKey() == nil {
			return Result{}, nil, sigErr("the bundle is signed with a certificate, not a key: verify it with the certificate or keyless method")
		}
	case CertificateMethod:
		if vm.GetPublicKey() != nil {
			return Result{}, nil, sigErr("the bundle is signed with a key, not a certificate")
		}
		dropSelfSigned(vm)
		bopts = append(bopts, bundle.AllowCertificateChain())
	case SigstoreMethod:
		if vm.GetCertificate() == nil && vm.GetX509CertificateChain() == nil {
			return Result{}, nil, sigErr("the bundle carries no Fulcio certificate: keyless verification needs one")
		}
		if len(vm.GetTlogEntries()) == 0 {
			return Result{}, nil, sigErr("the bundle carries no transparency log entry: keyless verification needs one")
		}
	}
	b, err := bundle.NewBundle(pb, bopts...)
	if err != nil {
		return Result{}, nil, sigErr("%v", err)
	}

	switch method {
	case KeyMethod:
		err = verifyKeyBundle(b, keyDER, vm.GetPublicKey().GetHint(), &res)
	case CertificateMethod:
		err = verifyCertificateBundle(b, trust, &res)
	case SigstoreMethod:
		err = verifyKeylessBundle(b, trust, &res)
	}
	if err != nil {
		return Result{}, nil, err
	}
	return res, env.GetPayload(), nil
}

// verifyKeyBundle: sigstore-go's verifier with the one trusted key and no
// timestamps (there is no log to give one).
func verifyKeyBundle(b *bundle.Bundle, keyDER []byte, hint string, res *Result) error {
	tm, err := keyMaterial(keyDER, hint)
	if err != nil {
		return err
	}
	v, err := verify.NewVerifier(tm, verify.WithoutStatementPredicate(), verify.WithNoObserverTimestamps())
	if err != nil {
		return fmt.Errorf("oms: %w", err)
	}
	if _, err := v.Verify(b, verify.NewPolicy(verify.WithoutArtifactUnsafe(), verify.WithKey())); err != nil {
		return sigErr("%v", err)
	}
	res.KeyHint = pemHint(keyDER)
	res.Signer = "key " + res.KeyHint
	return nil
}

// verifyCertificateBundle checks the chain and the signature with
// sigstore-go's parts rather than its Verifier, which insists on a
// Fulcio-style subject alternative name (an email or URI) that private
// CAs' certificates, model_signing's own test chain among them, lack.
func verifyCertificateBundle(b *bundle.Bundle, trust Trust, res *Result) error {
	cas, err := parseCertificatesPEM(trust.CACertificatesPEM)
	if err != nil {
		return err
	}
	vc, err := b.VerificationContent()
	if err != nil {
		return sigErr("%v", err)
	}
	leaf := vc.Certificate()
	if leaf == nil {
		return sigErr("the bundle carries no signing certificate")
	}
	now := time.Now()
	var chainErr error
	chained := false
	for _, ca := range cas {
		fca := &root.FulcioCertificateAuthority{Root: ca, Intermediates: vc.Intermediates()}
		if _, err := fca.Verify(leaf, now); err != nil {
			chainErr = err
			continue
		}
		chained = true
		break
	}
	if !chained {
		return sigErr("the signing certificate %q does not chain to a trusted CA: %v", leaf.Subject.String(), chainErr)
	}
	if err := checkLeafUsage(leaf); err != nil {
		return err
	}
	sc, err := b.SignatureContent()
	if err != nil {
		return sigErr("%v", err)
	}
	if err := verify.VerifySignature(sc, vc, &root.BaseTrustedMaterial{}); err != nil {
		return sigErr("%v", err)
	}
	if trust.Identity.hasSAN() {
		if err := matchSAN(leaf, trust.Identity); err != nil {
			return err
		}
	}
	describeLeaf(leaf, firstSAN(leaf), "", res)
	return nil
}

// verifyKeylessBundle: sigstore-go's verifier against the trusted root,
// requiring an SCT, a Rekor entry whose time the certificate was valid
// at, and the identity.
func verifyKeylessBundle(b *bundle.Bundle, trust Trust, res *Result) error {
	id := trust.Identity
	if !id.hasSAN() || !id.hasIssuer() {
		return errors.New("oms: keyless verification needs the signer's identity (subject alternative name) and OIDC issuer")
	}
	tr, err := root.NewTrustedRootFromJSON(trust.TrustedRootJSON)
	if err != nil {
		return fmt.Errorf("oms: trusted root: %w", err)
	}
	cid, err := verify.NewShortCertificateIdentity(id.Issuer, id.IssuerRegexp, id.SubjectAlternativeName, id.SubjectAlternativeNameRegexp)
	if err != nil {
		return fmt.Errorf("oms: identity: %w", err)
	}
	v, err := verify.NewVerifier(tr, verify.WithoutStatementPredicate(),
		verify.WithSignedCertificateTimestamps(1), verify.WithTransparencyLog(1), verify.WithObserverTimestamps(1))
	if err != nil {
		return fmt.Errorf("oms: %w", err)
	}
	vr, err := v.Verify(b, verify.NewPolicy(verify.WithoutArtifactUnsafe(), verify.WithCertificateIdentity(cid)))
	if err != nil {
		return sigErr("%v", err)
	}
	vc, err := b.VerificationContent()
	if err != nil {
		return sigErr("%v", err)
	}
	leaf := vc.Certificate()
	if err := checkLeafUsage(leaf); err != nil {
		return err
	}
	san, issuer := firstSAN(leaf), ""
	if vr.Signature != nil && vr.Signature.Certificate != nil {
		san, issuer = vr.Signature.Certificate.SubjectAlternativeName, vr.Signature.Certificate.Issuer
	}
	describeLeaf(leaf, san, issuer, res)
	for _, ts := range vr.VerifiedTimestamps {
		if ts.Type == "Tlog" {
			res.LogTimes = append(res.LogTimes, ts.Timestamp)
		}
	}
	return nil
}

func checkLeafUsage(leaf *x509.Certificate) error {
	if leaf.KeyUsage != 0 && leaf.KeyUsage&x509.KeyUsageDigitalSignature == 0 {
		return sigErr("the signing certificate's key usage does not allow digital signatures")
	}
	return nil
}

func describeLeaf(leaf *x509.Certificate, san, issuer string, res *Result) {
	res.CertificateSubject = leaf.Subject.String()
	res.SubjectAlternativeName = san
	res.Issuer = issuer
	switch {
	case san != "" && issuer != "":
		res.Signer = san + " (issuer " + issuer + ")"
	case san != "":
		res.Signer = san
	default:
		res.Signer = res.CertificateSubject
	}
}

func sans(leaf *x509.Certificate) []string {
	var out []string
	for _, u := range leaf.URIs {
		out = append(out, u.String())
	}
	out = append(out, leaf.EmailAddresses...)
	out = append(out, leaf.DNSNames...)
	return out
}

func firstSAN(leaf *x509.Certificate) string {
	if s := sans(leaf); len(s) > 0 {
		return s[0]
	}
	return ""
}

// keyMaterial trusts one key under the hints that name it. An empty hint
// (older signers wrote none) is accepted: the signature is checked against
// the trusted key all the same.
func keyMaterial(der []byte, hint string) (root.TrustedMaterial, error) {
	pub, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, fmt.Errorf("oms: public key: %w", err)
	}
	h, err := hashFor(pub)
	if err != nil {
		return nil, err
	}
	sv, err := signature.LoadVerifier(pub, h)
	if err != nil {
		return nil, fmt.Errorf("oms: public key: %w", err)
	}
	ok := map[string]bool{"": true, pemHint(der): true, derHint(der): true}
	if !ok[hint] {
		return nil, fmt.Errorf("%w: the bundle names key %s, the trusted key is %s", ErrKeyMismatch, hint, pemHint(der))
	}
	key := root.NewExpiringKey(sv, time.Time{}, time.Time{})
	return root.NewTrustedPublicKeyMaterial(func(h string) (root.TimeConstrainedVerifier, error) {
		if !ok[h] {
			return nil, fmt.Errorf("unknown key %q", h)
		}
		return key, nil
	}), nil
}

// upgradeLegacyKeyMaterial rewrites the verification material of bundles
// from model_signing before 1.1, which carried the PEM key itself
// ({"publicKey": {"rawBytes": …, "keyDetails": …}}) where the bundle
// format has only a hint: the key must be the trusted one, and the hint
// then names it.
func upgradeLegacyKeyMaterial(bundleJSON, trustedDER []byte) ([]byte, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(bundleJSON, &top); err != nil {
		return nil, sigErr("parse bundle: %v", err)
	}
	var vm map[string]json.RawMessage
	if json.Unmarshal(top["verificationMaterial"], &vm) != nil {
		return bundleJSON, nil
	}
	var pk struct {
		Hint     string `json:"hint"`
		RawBytes []byte `json:"rawBytes"`
	}
	if json.Unmarshal(vm["publicKey"], &pk) != nil || pk.RawBytes == nil || pk.Hint != "" {
		return bundleJSON, nil
	}
	der := pk.RawBytes
	if blk, _ := pem.Decode(pk.RawBytes); blk != nil {
		der = blk.Bytes
	}
	if !bytes.Equal(der, trustedDER) {
		return nil, fmt.Errorf("%w: the bundle carries another public key than the trusted one", ErrKeyMismatch)
	}
	var err error
	if vm["publicKey"], err = json.Marshal(map[string]string{"hint": pemHint(trustedDER)}); err != nil {
		return nil, err
	}
	if top["verificationMaterial"], err = json.Marshal(vm); err != nil {
		return nil, err
	}
	return json.Marshal(top)
}

// dropSelfSigned removes roots from the bundle's chain: the trust anchors
// are the verifier's, and sigstore-go refuses a self-signed certificate
// among the intermediates (model_signing includes the root when given
// one).
func dropSelfSigned(vm *protobundle.VerificationMaterial) {
	ch := vm.GetX509CertificateChain()
	if ch == nil || len(ch.Certificates) < 2 {
		return
	}
	kept := []*protocommon.X509Certificate{ch.Certificates[0]}
	for _, c := range ch.Certificates[1:] {
		cert, err := x509.ParseCertificate(c.GetRawBytes())
		if err == nil && bytes.Equal(cert.RawSubject, cert.RawIssuer) && cert.CheckSignatureFrom(cert) == nil {
			continue
		}
		kept = append(kept, c)
	}
	ch.Certificates = kept
}

func matchSAN(leaf *x509.Certificate, id Identity) error {
	names := sans(leaf)
	m, err := verify.NewSANMatcher(id.SubjectAlternativeName, id.SubjectAlternativeNameRegexp)
	if err != nil {
		return fmt.Errorf("oms: identity: %w", err)
	}
	for _, s := range names {
		if (m.SubjectAlternativeName == "" || s == m.SubjectAlternativeName) &&
			(m.Regexp.String() == "" || m.Regexp.MatchString(s)) {
			return nil
		}
	}
	return sigErr("the signing certificate names %v, not the expected identity", names)
}

func parsePublicKeyPEM(data []byte) ([]byte, error) {
	for {
		var blk *pem.Block
		blk, data = pem.Decode(data)
		if blk == nil {
			return nil, errors.New(`oms: no "PUBLIC KEY" PEM block in the trusted key`)
		}
		if blk.Type != "PUBLIC KEY" {
			continue
		}
		pub, err := x509.ParsePKIXPublicKey(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("oms: trusted key: %w", err)
		}
		if _, err := hashFor(pub); err != nil {
			return nil, err
		}
		return blk.Bytes, nil
	}
}

func parseCertificatesPEM(data []byte) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	for {
		var blk *pem.Block
		blk, data = pem.Decode(data)
		if blk == nil {
			break
		}
		if blk.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("oms: CA certificate: %w", err)
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, errors.New("oms: no CERTIFICATE PEM block in the trusted CA certificates")
	}
	return out, nil
}
