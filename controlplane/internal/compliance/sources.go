package compliance

import (
	"context"
	"time"

	"github.com/secureai-nexus/nexus/controlplane/internal/audit"
	"github.com/secureai-nexus/nexus/controlplane/internal/mesh"
	"github.com/secureai-nexus/nexus/controlplane/internal/translate"
)

// Sources are where the checks get their evidence. Every field may be nil:
// the checks that need it are then not satisfied, saying which source is
// missing. Each interface is the least a check needs, so whatever holds
// the evidence can serve it with a small adapter.
type Sources struct {
	Mesh        MeshSource
	Snapshot    SnapshotSource
	Audit       AuditSource
	Registry    RegistrySource
	AdminAuth   AdminAuthSource
	Rollouts    RolloutSource
	Keys        KeySource
	Consent     ConsentSource
	DecisionLog DecisionLogSource
	BreakGlass  BreakGlassSource
	Anchors     AnchorSource
	Access      AccessSource
}

// MeshSource is the mesh being served (the controller).
type MeshSource interface {
	Mesh() *mesh.Mesh
}

// SnapshotSource is what every sidecar node was last published over xDS,
// by node id: the real Envoy resources, as the translation built them.
type SnapshotSource interface {
	Published() map[string]*translate.Resources
}

// AuditSource gives the audit log's state for the checkpoint check.
type AuditSource interface {
	AuditEvidence(ctx context.Context) (AuditEvidence, error)
}

// AuditEvidence is the audit log as it stands and the last checkpoint
// signed over it.
type AuditEvidence struct {
	// Chain is the result of walking the hash chain (store.VerifyAudit).
	Chain audit.Verification
	// Size is the number of records in the log's Merkle tree, and RootAt
	// the tree's root at a size up to it (from the store's tree nodes,
	// which the chain walk verified against the records).
	Size   int64
	RootAt func(size int64) (audit.Hash, error)
	// Checkpoint is the last signed checkpoint note (C2SP
	// tlog-checkpoint); nil when none was ever signed.
	Checkpoint []byte
	// VerifierKey is the note verifier key checkpoints must verify with.
	VerifierKey string
	// Origin is the log's origin line the checkpoint must name.
	Origin string
}

// RegistrySource lists every version of every model with its registry
// record.
type RegistrySource interface {
	VersionEvidence(ctx context.Context) ([]VersionEvidence, error)
}

// VersionEvidence is one model version as the registry sees it.
type VersionEvidence struct {
	Model, Version string
	State          mesh.VersionState
	Weight         uint32
	// Verified and Validated are the outcomes of the last verification
	// (signature and artifact) and validation (behaviour at weight 0);
	// false when there is no record of one.
	Verified, Validated bool
	// Digest is the verified artifact digest, when verified.
	Digest string
}

// AdminAuthSource says how the admin API authenticates people.
type AdminAuthSource interface {
	AdminAuth() AdminAuthEvidence
}

// AdminAuthEvidence is the admin API's authentication configuration.
type AdminAuthEvidence struct {
	// OIDCIssuer is the issuer bearer tokens are verified against; empty
	// in loopback dev mode (one static token in the data dir).
	OIDCIssuer string
	// Address is where the admin API listens.
	Address string
	// TLS says the admin API is served over HTTPS.
	TLS bool
	// MTLSSPIFFEIDs are the automation identities allowed over the admin
	// mTLS listener, if it is on.
	MTLSSPIFFEIDs []string
}

// RolloutSource says how rollouts are gated.
type RolloutSource interface {
	RolloutEvidence(ctx context.Context) (RolloutEvidence, error)
}

// RolloutEvidence is the rollout runner's gating and its rollouts in
// flight.
type RolloutEvidence struct {
	// MetricSource is the query API gates are read from; empty means every
	// gate is inconclusive.
	MetricSource string
	Active       []ActiveRollout
}

// ActiveRollout is a rollout in flight.
type ActiveRollout struct {
	Model, Canary, Phase string
	Gates                int
}

// KeySource is the key manager's inventory (controlplane/internal/keys).
// Implement it with the manager's own listing; nothing here reads key
// material.
type KeySource interface {
	KeyEvidence(ctx context.Context) (KeyEvidence, error)
}

// KeyEvidence is every data-encryption key, the retention and rotation
// policy of each class, and the key-encryption keys.
type KeyEvidence struct {
	DataKeys []DataKey
	// Classes are the retention classes by name ("inference", "logs").
	Classes map[string]KeyClass
	KEKs    []KEK
}

// DataKey is one data-encryption key (one per class and time bucket).
type DataKey struct {
	ID, Class string
	Created   time.Time
	// BucketEnd is when the key's time bucket closed: data it encrypts is
	// at most this old plus the class's retention when destroyed.
	BucketEnd time.Time
	Destroyed bool
	// LegalHold blocks destruction; a held key past retention is no
	// violation.
	LegalHold bool
	// Active says the key is sealing new data now (not only opening).
	Active bool
}

// KeyClass is a retention class's policy.
type KeyClass struct {
	// Retention is how long data of the class is kept after its bucket
	// ends; the bucket's key must be destroyed by then.
	Retention time.Duration
	// Rotation is how often a new data key starts for the class.
	Rotation time.Duration
	// PerSubject classes key each data subject separately and keep the
	// key until the subject is erased: no retention or rotation applies.
	PerSubject bool
}

// KEK is a key-encryption key (Vault Transit key, KMS key, local key).
type KEK struct {
	ID string
	// Rotated is when its newest version was made.
	Rotated time.Time
	// MaxAge is its rotation period.
	MaxAge time.Duration
}

// ConsentSource is the consent store's view of purposes
// (controlplane/internal/consent).
type ConsentSource interface {
	ConsentEvidence(ctx context.Context) (ConsentEvidence, error)
}

// ConsentEvidence is each purpose requests are made for and whether the
// policy checks consent for it, and how fresh nexus-authz's consent data
// is.
type ConsentEvidence struct {
	Purposes []Purpose
	// Pushed is when nexus-authz last acknowledged the consent data;
	// MaxStaleness is how old it may be before requests fail closed.
	Pushed       time.Time
	MaxStaleness time.Duration
}

// Purpose is one processing purpose.
type Purpose struct {
	Name string
	// Health says the purpose carries health data (special category,
	// GDPR Art. 9; PHI under HIPAA).
	Health bool
	// ConsentChecked says the shipped policy denies a call for this
	// purpose without the subject's consent.
	ConsentChecked bool
	// Basis names the legal basis other than consent a purpose rests on
	// (HIPAA §164.506 treatment, payment and operations; GDPR Art. 9(2)(h)
	// health care), when it has one: such a purpose needs no consent check.
	Basis string
}

// DecisionLogSource is nexus-authz's decision log configuration.
type DecisionLogSource interface {
	DecisionLogEvidence(ctx context.Context) (DecisionLogEvidence, error)
}

// DecisionLogEvidence is what nexus-authz masks in its decision log.
type DecisionLogEvidence struct {
	// Masks are the JSON pointers under /input that are masked.
	Masks []string
	// UnmaskedEncrypted says unmasked inputs, when kept, are encrypted
	// under a retention-class data key.
	UnmaskedKept, UnmaskedEncrypted bool
}

// BreakGlassSource lists break-glass grants.
type BreakGlassSource interface {
	BreakGlassEvidence(ctx context.Context) (BreakGlassEvidence, error)
}

// BreakGlassEvidence is every break-glass grant and how soon after it
// ends one must be reviewed.
type BreakGlassEvidence struct {
	Grants       []BreakGlassGrant
	ReviewWithin time.Duration
}

// BreakGlassGrant is one emergency-access grant. Who asked appears as a
// keyed hash or a principal name, never as personal data.
type BreakGlassGrant struct {
	ID        string
	Principal string
	Reason    string
	Start     time.Time
	End       time.Time
	Uses      int
	Reviewed  bool
}

// AnchorSource is the state of the anchoring of nexus-authz decision logs
// into the audit log (controlplane/internal/anchor).
type AnchorSource interface {
	AnchorEvidence(ctx context.Context) (AnchorEvidence, error)
}

// AnchorEvidence is each nexus-authz feed's anchoring and the interval it
// should keep.
type AnchorEvidence struct {
	Interval time.Duration
	Feeds    []AnchorFeed
}

// AnchorFeed is one nexus-authz's feed.
type AnchorFeed struct {
	Name       string
	LastPull   time.Time
	LastError  string
	LastAnchor time.Time
}

// AccessSource is the access review (controlplane/internal/accessreview).
type AccessSource interface {
	AccessEvidence(ctx context.Context) (AccessEvidence, error)
}

// AccessEvidence is every principal with access and whether it is stale.
type AccessEvidence struct {
	Principals []AccessPrincipal
	// Incomplete names sources the review could not read.
	Incomplete []string
}

// AccessPrincipal is one line of the access review.
type AccessPrincipal struct {
	Kind, ID string
	LastUsed time.Time
	Stale    bool
}
