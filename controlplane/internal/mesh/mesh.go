// Package mesh holds the declarative model of a Nexus mesh: the trust domain,
// the services that get a drop-in sidecar, the models and their versions, and
// where the shared parts (ext_authz, the piiguard filter, tracing) live.
//
// A Mesh is produced only by Parse, which validates the whole document and
// reports every problem with its path; code that receives a *Mesh may rely on
// it being valid.
package mesh

import (
	"fmt"
	"time"
)

// PIIMode is what the piiguard filter does with one class of personal data.
type PIIMode string

// The modes piiguard understands. They are the filter's configuration
// vocabulary, so the names are part of the contract with filters/.
const (
	PIITokenize PIIMode = "tokenize"
	PIIRedact   PIIMode = "redact"
	PIIHash     PIIMode = "hash"
	PIIBlock    PIIMode = "block"
	PIIReport   PIIMode = "report"
)

// PIIClasses are the data classes piiguard knows; a mode for any other class
// is a configuration error rather than a silently ignored entry.
var piiClasses = []string{
	"EMAIL", "PHONE", "US_SSN", "CREDIT_CARD", "IBAN", "IP_ADDRESS",
	"DATE_OF_BIRTH", "MEDICAL_RECORD_NUMBER", "HEALTH_PLAN_ID", "US_PASSPORT",
	"DRIVER_LICENSE", "SECRET", "MAC_ADDRESS", "CRYPTO_WALLET", "FAX", "URL",
	"US_NPI", "MEDICAL_LICENSE", "US_ITIN", "US_BANK_NUMBER", "ABA_ROUTING_NUMBER",
	"UK_NINO", "UK_NHS", "FR_NIR", "DE_TAX_ID", "DE_HEALTH_INSURANCE", "ES_NIF",
	"ES_NIE", "NL_BSN", "IT_FISCAL_CODE", "CA_SIN", "AU_TFN", "AU_MEDICARE",
	"NAME", "ADDRESS", "DATE", "VEHICLE", "DEVICE",
}

// PIIClasses returns the data classes piiguard knows, in a stable order.
func PIIClasses() []string { return append([]string(nil), piiClasses...) }

// IdentityProvider says who issues SVIDs and serves them over SDS.
type IdentityProvider string

const (
	// IdentityBuiltin is the control plane's own SPIFFE CA, served over ADS.
	IdentityBuiltin IdentityProvider = "builtin"
	// IdentitySPIRE points Envoy's SDS at a SPIRE agent socket.
	IdentitySPIRE IdentityProvider = "spire"
)

// Mesh is a validated mesh description.
type Mesh struct {
	TrustDomain  string
	Identity     Identity
	ControlPlane ControlPlane
	Services     []Service
	Models       []Model
	ExtAuthz     ExtAuthz
	PIIGuard     PIIGuard
	JWT          *JWT
	Tracing      *Tracing
}

// Identity configures where Envoy gets its certificates.
type Identity struct {
	Provider IdentityProvider
	// SPIREAgentSocket is the SPIRE agent's SDS socket (provider spire).
	SPIREAgentSocket string
}

// ControlPlane is where sidecars reach the xDS server.
type ControlPlane struct {
	Address  Address
	SPIFFEID string
}

// Address is a host and port.
type Address struct {
	Host string
	Port uint32
}

func (a Address) String() string { return fmt.Sprintf("%s:%d", a.Host, a.Port) }

// Service is an existing workload that gets a sidecar: it calls models through
// its outbound listener and receives calls on its inbound listener.
type Service struct {
	Name     string
	SPIFFEID string
	// AppPort is the port the application listens on, on loopback.
	AppPort uint32
	// Inbound is where the sidecar accepts mTLS calls for the app.
	Inbound Address
	// Outbound is where the app sends plaintext calls that the sidecar
	// upgrades to mTLS; it stays on loopback.
	Outbound Address
}

// NodeID is the xDS node id of the service's sidecar.
func (s Service) NodeID() string { return NodeID(RoleService, s.Name) }

// Model is an inference model served by one or more versions behind a
// model-side sidecar.
type Model struct {
	Name     string
	SPIFFEID string
	Hosts    []string
	// Sidecar is the model-side Envoy's inbound mTLS listener; callers'
	// outbound clusters point at it.
	Sidecar Address
	// Policy is the Rego package that decides calls to this model.
	Policy   string
	PII      map[string]PIIMode
	Versions []Version
}

// NodeID is the xDS node id of the model's sidecar.
func (m Model) NodeID() string { return NodeID(RoleModel, m.Name) }

// Version returns the version named v.
func (m Model) Version(v string) (Version, bool) {
	for _, ver := range m.Versions {
		if ver.Name == v {
			return ver, true
		}
	}
	return Version{}, false
}

// Version is one deployable version of a model.
type Version struct {
	Name      string
	Weight    uint32
	Endpoints []Address
	// SPIFFEID is the identity the backend presents to the model sidecar.
	SPIFFEID string
	// State is where the version is in its life cycle; only a validated
	// or serving version may get traffic.
	State VersionState
	// Artifact is the directory (or URL) the version's model files are
	// in, for the registry's checks.
	Artifact string
	// Signature is the OMS signature bundle of the artifact (default
	// model.sig inside it, when present).
	Signature string
	// Mirror is the percent of the model's requests also sent to this
	// version as shadow traffic (Envoy's request mirroring: its answers
	// are dropped, callers never see them). Only a validated or serving
	// version may be a mirror target.
	Mirror uint32
}

// VersionState is a model version's life-cycle state: registered, then
// verified (signature and artifact checks), validated (behavioural checks
// at weight 0), serving, retired.
type VersionState string

const (
	StateRegistered VersionState = "registered"
	StateVerified   VersionState = "verified"
	StateValidated  VersionState = "validated"
	StateServing    VersionState = "serving"
	StateRetired    VersionState = "retired"
)

// VersionStates are the states in life-cycle order.
var VersionStates = []VersionState{StateRegistered, StateVerified, StateValidated, StateServing, StateRetired}

// MayServe says whether the version may get traffic: only once it has
// been validated, and not after it is retired. The translation gives any
// other version weight 0 whatever its configured weight.
func (v Version) MayServe() bool { return v.State == StateValidated || v.State == StateServing }

// NotServableError is a weight asked for a version that may not serve.
type NotServableError struct {
	Model, Version string
	State          VersionState
}

func (e *NotServableError) Error() string {
	return fmt.Sprintf("version %s of %s is %s: it may get traffic only once validated", e.Version, e.Model, e.State)
}

// ExtAuthz locates nexus-authz.
type ExtAuthz struct {
	Address         Address
	SPIFFEID        string
	Timeout         time.Duration
	MaxRequestBytes uint32
}

// PIIGuard locates the compiled filter.
type PIIGuard struct {
	WasmPath string
	SHA256   string
	// HashKey keys the hash mode's pseudonyms; HashKeyID names its epoch
	// (rotate by changing both).
	HashKey   []byte
	HashKeyID string
}

// JWT configures end-user token verification with Envoy's jwt_authn filter.
type JWT struct {
	Issuer    string
	Audiences []string
	JWKSURI   string
	// Forward keeps the token in the request for the backend.
	Forward bool
}

// Tracing configures the OpenTelemetry tracer.
type Tracing struct {
	Collector Address
	// SPIFFEID is the collector's identity; the sidecar verifies it.
	SPIFFEID        string
	ServiceName     string
	SamplingPercent float64
}

// Role is what a sidecar node fronts.
type Role string

const (
	RoleModel   Role = "model"
	RoleService Role = "service"
)

// NodeID builds an xDS node id. The "~" separator follows Istio's node ids
// and cannot appear in a model or service name.
func NodeID(role Role, name string) string { return string(role) + "~" + name }

// Node is one sidecar the mesh defines.
type Node struct {
	ID   string
	Role Role
	Name string
	// SPIFFEID is the identity the node's sidecar holds and proves.
	SPIFFEID string
}

// Nodes lists every sidecar node the mesh defines, models first, each group
// in file order.
func (m *Mesh) Nodes() []Node {
	nodes := make([]Node, 0, len(m.Models)+len(m.Services))
	for _, md := range m.Models {
		nodes = append(nodes, Node{ID: md.NodeID(), Role: RoleModel, Name: md.Name, SPIFFEID: md.SPIFFEID})
	}
	for _, s := range m.Services {
		nodes = append(nodes, Node{ID: s.NodeID(), Role: RoleService, Name: s.Name, SPIFFEID: s.SPIFFEID})
	}
	return nodes
}

// Model returns the model named name.
func (m *Mesh) Model(name string) (*Model, bool) {
	for i := range m.Models {
		if m.Models[i].Name == name {
			return &m.Models[i], true
		}
	}
	return nil, false
}

// WithVersionState returns a copy of the mesh in which model's version is
// in state.
func (m *Mesh) WithVersionState(model, version string, state VersionState) *Mesh {
	return m.withVersions(model, func(v *Version) {
		if v.Name == version {
			v.State = state
		}
	})
}

// WithWeights returns a copy of the mesh in which model's versions carry the
// given weights. The caller validates the weights first (ValidateWeights).
func (m *Mesh) WithWeights(model string, weights map[string]uint32) *Mesh {
	return m.withVersions(model, func(v *Version) { v.Weight = weights[v.Name] })
}

// withVersions copies the mesh and applies change to each of model's
// versions in the copy, leaving m as it was.
func (m *Mesh) withVersions(model string, change func(*Version)) *Mesh {
	out := *m
	out.Models = make([]Model, len(m.Models))
	copy(out.Models, m.Models)
	for i := range out.Models {
		if out.Models[i].Name != model {
			continue
		}
		vs := make([]Version, len(out.Models[i].Versions))
		copy(vs, out.Models[i].Versions)
		for j := range vs {
			change(&vs[j])
		}
		out.Models[i].Versions = vs
	}
	return &out
}

// Weights returns the model's current weights by version name.
func (m Model) Weights() map[string]uint32 {
	w := make(map[string]uint32, len(m.Versions))
	for _, v := range m.Versions {
		w[v.Name] = v.Weight
	}
	return w
}
