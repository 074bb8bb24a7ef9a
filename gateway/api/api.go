// Package api holds the JSON bodies of the medshare gateway's REST API
// (version 1, under /api/v1): what the gateway decodes and renders, and what
// the Go client (package gateway/client) sends and reads. The OpenAPI
// document (docs/openapi.json) describes the same shapes; a test in package
// gateway checks that they agree.
//
// Byte fields are standard base64 with padding; times are RFC 3339;
// durations are Go duration strings ("90s", "5m"). Request bodies are
// decoded strictly: an unknown field is refused.
package api

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"time"

	"github.com/medshare/medshare/chaincode/ptl"
)

// Version is the API version in every route's prefix.
const Version = "v1"

// Prefix is the path prefix of every versioned route.
const Prefix = "/api/" + Version

// Media types.
const (
	// JSON is the media type of request and response bodies.
	JSON = "application/json"
	// FHIRJSON is FHIR's JSON media type, accepted for uploads of a bare
	// resource with a policy template named in the query.
	FHIRJSON = "application/fhir+json"
	// ProblemJSON is the media type of error responses (RFC 9457).
	ProblemJSON = "application/problem+json"
	// Binary is the media type of stored IPFS objects.
	Binary = "application/octet-stream"
)

// Problem is an RFC 9457 problem details object: every error response of
// the gateway. Type is a URN naming the kind of problem; Field names the
// offending request field (a JSON path, a query parameter or a FHIR path).
// Access refusals carry P-TL's reason and the transaction that recorded the
// violation.
type Problem struct {
	Type     string `json:"type"`
	Title    string `json:"title"`
	Status   int    `json:"status"`
	Detail   string `json:"detail,omitempty"`
	Instance string `json:"instance,omitempty"`
	// Field is the offending field, when one is at fault.
	Field string `json:"field,omitempty"`
	// Reason is P-TL's refusal reason (policy_not_met, outside_window,
	// expired, replay, revoked, rate_exceeded, bad_signature,
	// bad_credential), on access refusals.
	Reason string `json:"reason,omitempty"`
	// ViolationID is the transaction id of the Access transaction that
	// recorded the violation (VIPR); AccessID is A, the proof's access id.
	ViolationID string `json:"violationId,omitempty"`
	AccessID    string `json:"accessId,omitempty"`
	// Blocked lists the scopes ("record", "owner") the refusal blocked the
	// user for.
	Blocked []string `json:"blocked,omitempty"`
	// RecordID is set when a problem concerns a record that exists (an
	// upload whose index entry is pending, a record owned elsewhere).
	RecordID string `json:"recordId,omitempty"`
	// OwnerGateway is the URL of the gateway that serves the record, when a
	// request reached the wrong one.
	OwnerGateway string `json:"ownerGateway,omitempty"`
}

// RoleAttribute is the certificate attribute that carries a caller's REST
// role (owner, user, authority, auditor); GatewayRole is the role of a
// gateway's own identity, which clients require of a gateway's TLS
// certificate.
const (
	RoleAttribute = "medshare.role"
	GatewayRole   = "owner"
)

// Principal is the caller as the gateway sees it: GET /api/v1/whoami.
type Principal struct {
	// Role is the REST role: owner, user, authority, auditor or admin.
	Role string `json:"role"`
	// MSP is the caller's organisation; Name its certificate's common name;
	// ID its unique identity name (x509::subject::issuer).
	MSP  string `json:"msp"`
	Name string `json:"name"`
	ID   string `json:"id"`
	// Attributes are the certificate's attributes.
	Attributes map[string]string `json:"attributes,omitempty"`
	// Gateway is the MSP this gateway serves; RecordPrefix starts the ids
	// of the records it creates (ids are scoped to their owner).
	Gateway      string `json:"gateway"`
	RecordPrefix string `json:"recordPrefix"`
	// User is the caller's user id: how P-TL names it in decisions,
	// violations and blocks.
	User string `json:"user"`
}

// AttributeSpec describes one attribute of the authority's schema.
type AttributeSpec struct {
	Name    string   `json:"name"`
	Ordered bool     `json:"ordered"`
	Max     int      `json:"max,omitempty"`
	Values  []string `json:"values,omitempty"`
}

// AuthorityParams are the attribute authority's public parameters: GET
// /api/v1/authority/params.
type AuthorityParams struct {
	// Scheme is the ABE scheme ("msc" or "tkn20"); PublicKey its public key
	// (abe.PublicKey.MarshalBinary).
	Scheme    string `json:"scheme"`
	PublicKey []byte `json:"publicKey"`
	// VerifyKey is the PKIX DER key that signs credentials (P-TL's
	// aaPublicKey).
	VerifyKey []byte `json:"verifyKey"`
	// Epoch is the current epoch: keys and policies of this epoch.
	Epoch uint64 `json:"epoch"`
	// Schema lists the attributes keys and policies may name.
	Schema []AttributeSpec `json:"schema"`
}

// EnrolRequest asks the attribute authority for an ABE key and a tag
// credential (POST /api/v1/authority/keys, data users) or for the data
// owner's custodian key (POST /api/v1/authority/custodian-keys). It binds
// the TLS client certificate of the call to the caller's enrolled signing
// certificate: Signature is made with the signing certificate's key over
// EnrolDigest(SHA-256 of the TLS certificate, Time).
type EnrolRequest struct {
	// Certificate is the caller's signing certificate (PEM): its key becomes
	// the credential's subject, BPK_DU.
	Certificate string    `json:"certificate"`
	Time        time.Time `json:"time"`
	Signature   []byte    `json:"signature"`
}

// Enrolment is the attribute authority's answer: the ABE user key and the
// credential wallet for the same tags and epoch. Both are secret to the
// caller; the authority keeps neither.
type Enrolment struct {
	Epoch uint64 `json:"epoch"`
	// Key is abe.UserKey.MarshalBinary; Wallet credential.Wallet.MarshalBinary.
	Key    []byte `json:"key"`
	Wallet []byte `json:"wallet"`
	// User is the user id P-TL knows the caller by (the identity hash of
	// its enrolled identity); Enrolment the authority's signature binding
	// the key to it (ptl.Enrolment).
	User      string `json:"user"`
	Enrolment []byte `json:"enrolment"`
	// Attributes are the canonical attributes certified (epoch included).
	Attributes []string  `json:"attributes"`
	NotBefore  time.Time `json:"notBefore"`
	NotAfter   time.Time `json:"notAfter"`
}

// TagKey is the authority's tag key, for data owners' gateways, which hide
// policies with it: GET /api/v1/authority/tag-key.
type TagKey struct {
	Key   []byte `json:"key"`
	Epoch uint64 `json:"epoch"`
}

// Epoch is the authority's epoch after a rotation: POST
// /api/v1/authority/epoch.
type Epoch struct {
	Epoch uint64 `json:"epoch"`
}

// RecordPolicy is a record's nested policy: the extra conditions of each
// level in the policy language of abe/policy ("role = doctor and trust >=
// 2"). Low is required; a level left empty has the predicate of the level
// below.
type RecordPolicy struct {
	Low    string `json:"low"`
	Medium string `json:"medium,omitempty"`
	High   string `json:"high,omitempty"`
}

// Window is a weekly access window, as P-TL takes it.
type Window = ptl.Window

// Access is when a record may be accessed: the validity period, weekly
// windows in an IANA time zone, and the oldest proof accepted.
type Access struct {
	NotBefore   time.Time `json:"notBefore"`
	NotAfter    time.Time `json:"notAfter"`
	MaxProofAge string    `json:"maxProofAge,omitempty"`
	TimeZone    string    `json:"timeZone,omitempty"`
	Windows     []Window  `json:"windows,omitempty"`
}

// UploadRequest is the body of POST /api/v1/records (a new record) and PUT
// /api/v1/records/{id} (a new version): the document and either a policy
// and access terms, or the name of a template configured at the gateway.
// Fields given beside a template override the template's.
type UploadRequest struct {
	// Document is a FHIR R4 resource (a Bundle or a single resource) or a
	// plain JSON object.
	Document json.RawMessage `json:"document"`
	Template string          `json:"template,omitempty"`
	Policy   *RecordPolicy   `json:"policy,omitempty"`
	Access   *Access         `json:"access,omitempty"`
}

// Counts is how many elements went to each level (never their values).
type Counts struct {
	High   int `json:"high"`
	Medium int `json:"medium"`
	Low    int `json:"low"`
}

// StoredLevel is one level of an uploaded version: its Tx_sto.
type StoredLevel struct {
	Level     string `json:"level"`
	SideChain string `json:"sideChain"`
	// Address is u, the CID of the level's object; CheckCode its SHA-256
	// in hex.
	Address   string `json:"address"`
	CheckCode string `json:"checkCode"`
	// TxID is the Tx_sto transaction; ChainVersion the record's version on
	// that side chain.
	TxID         string `json:"txID"`
	ChainVersion uint64 `json:"chainVersion"`
}

// Upload is the answer to an upload: 201 when indexed, 202 when the side
// chains hold the version but its index entry is still being written (the
// gateway retries it).
type Upload struct {
	RecordID string        `json:"recordId"`
	Version  uint64        `json:"version"`
	Kind     string        `json:"kind"`
	Levels   []StoredLevel `json:"levels"`
	Counts   Counts        `json:"counts"`
	// IndexTxID is the index entry's transaction on main; Indexed says
	// whether it committed.
	IndexTxID string `json:"indexTxID,omitempty"`
	Indexed   bool   `json:"indexed"`
}

// LevelRef is one level of a record in the index.
type LevelRef struct {
	Level        string `json:"level"`
	SideChain    string `json:"sideChain"`
	TxID         string `json:"txID"`
	ChainVersion uint64 `json:"chainVersion"`
}

// Record is a record's metadata from the index: GET /api/v1/records/{id}
// and the items of GET /api/v1/records. It never holds the policy.
type Record struct {
	RecordID string `json:"recordId"`
	Kind     string `json:"kind"`
	// Version is the record's version (each upload is one).
	Version uint64 `json:"version"`
	// Owner is the owning organisation (MSP id); OwnerGateway the URL of
	// its gateway, where accesses are submitted, when this gateway knows it.
	Owner        string     `json:"owner"`
	OwnerGateway string     `json:"ownerGateway,omitempty"`
	Levels       []LevelRef `json:"levels"`
	CreatedAt    time.Time  `json:"createdAt"`
	UpdatedAt    time.Time  `json:"updatedAt"`
	TxID         string     `json:"txID"`
}

// RecordPage is a page of records; Bookmark continues the listing ("" on
// the last page).
type RecordPage struct {
	Items    []Record `json:"items"`
	Bookmark string   `json:"bookmark"`
}

// Level is what a data user needs to build a proof for one level: GET
// /api/v1/records/{id}/levels/{level}. HiddenPolicy's leaves are attribute
// tags, never names.
type Level struct {
	RecordID     string `json:"recordId"`
	Level        string `json:"level"`
	Channel      string `json:"channel"`
	ChainVersion uint64 `json:"chainVersion"`
	Address      string `json:"address"`
	CheckCode    string `json:"checkCode"`
	// KeysHash is H(m) as the level's Tx_sto records it: the reader checks
	// the m the owner's gateway hands over against it.
	KeysHash string `json:"keysHash"`
	// HiddenPolicy is policy.Tree.MarshalBinary of the level's predicate.
	HiddenPolicy  []byte   `json:"hiddenPolicy"`
	PolicyVersion uint64   `json:"policyVersion"`
	NotBefore     string   `json:"notBefore"`
	NotAfter      string   `json:"notAfter"`
	MaxProofAge   string   `json:"maxProofAge,omitempty"`
	TimeZone      string   `json:"timeZone,omitempty"`
	Windows       []Window `json:"windows,omitempty"`
}

// AccessRequest is the body of POST /api/v1/records/{id}/access: a proof
// the data user signed for one level.
type AccessRequest struct {
	Level string     `json:"level"`
	Proof *ptl.Proof `json:"proof"`
}

// Grant is a granted access: u, the wrapped keys m and checkCode of the
// granted version, and the transactions that recorded it.
type Grant struct {
	RecordID     string `json:"recordId"`
	Level        string `json:"level"`
	Channel      string `json:"channel"`
	ChainVersion uint64 `json:"chainVersion"`
	Address      string `json:"address"`
	CheckCode    string `json:"checkCode"`
	// Keys is m (envelope.Keys.MarshalBinary); KeysHash its SHA-256 in hex
	// as P-TL's decision states it.
	Keys     []byte `json:"keys"`
	KeysHash string `json:"keysHash"`
	AccessID string `json:"accessId"`
	TxID     string `json:"txID"`
}

// Violation is a P-TL violation on one of the owner's records.
type Violation struct {
	Level string `json:"level"`
	ptl.Violation
}

// ViolationPage is a page of violations. Bookmarks are per side chain: pass
// the page's Bookmark back unchanged.
type ViolationPage struct {
	Items    []Violation `json:"items"`
	Bookmark string      `json:"bookmark"`
}

// RegrantRequest lifts a block: the user's user id (as violations list it),
// and the scope: "record" (this record) or "owner" (every record of the
// owner). Levels default to every level the record holds.
type RegrantRequest struct {
	User   string   `json:"user"`
	Scope  string   `json:"scope,omitempty"`
	Levels []string `json:"levels,omitempty"`
}

// Regrant is the answer to a re-grant: the lifted blocks' transactions.
type Regrant struct {
	RecordID string            `json:"recordId"`
	User     string            `json:"user"`
	TxIDs    map[string]string `json:"txIDs"`
}

// RecallRequest recalls a record: it is re-encrypted under fresh keys as a
// new version, the old ciphertext is unpinned, and User (if given) is
// blocked as recalled on every level.
type RecallRequest struct {
	User   string `json:"user,omitempty"`
	Reason string `json:"reason,omitempty"`
}

// Recall is the answer to a recall: the new version and what was unpinned.
type Recall struct {
	Upload
	// Unpinned are the old version's addresses this gateway unpinned; the
	// other organisations' followers unpin them when they see the new
	// version.
	Unpinned []string `json:"unpinned"`
	// Blocked maps each level to the Recall transaction that blocked User.
	Blocked map[string]string `json:"blocked,omitempty"`
}

// Gateway is an organisation's gateway as the caller's own gateway
// resolves it: GET /api/v1/gateways/{msp}. Clients send an organisation's
// accesses there, and accept for its TLS only a certificate CA issued with
// the data owner role (the gateway's).
type Gateway struct {
	// Org is the organisation (MSP id); URL its gateway's base URL.
	Org string `json:"org"`
	URL string `json:"url"`
	// Source is "registry" (the index on main, set by the organisation's
	// administrator) or "configuration" (an override in this gateway's
	// configuration).
	Source string `json:"source"`
	// Version, SetBy and TxID describe the registry entry (registry only).
	Version uint64 `json:"version,omitempty"`
	SetBy   string `json:"setBy,omitempty"`
	TxID    string `json:"txID,omitempty"`
	// CA is the organisation's CA certificate (PEM) as the consortium's
	// configuration of this gateway holds it.
	CA string `json:"ca"`
}

// Gateway sources.
const (
	SourceRegistry      = "registry"
	SourceConfiguration = "configuration"
)

// Health is the body of /healthz and /readyz. Checks name each check
// ("ledger", "ipfs", "keys", "authority", "replication") with "ok" or, for
// callers with a consortium certificate, why it fails ("failing" for
// anyone else: failures name internal addresses).
type Health struct {
	Status      string             `json:"status"`
	Checks      map[string]string  `json:"checks,omitempty"`
	Replication *ReplicationHealth `json:"replication,omitempty"`
}

// ReplicationHealth is the replication follower's state in /readyz: pins
// and unpins not carried out yet (Retrying of them failed at least once),
// how long the oldest has waited (the lag) against the most /readyz
// accepts, and how many of the followed event streams are connected.
type ReplicationHealth struct {
	Pending       int     `json:"pending"`
	Retrying      int     `json:"retrying"`
	LagSeconds    float64 `json:"lagSeconds"`
	MaxLagSeconds float64 `json:"maxLagSeconds"`
	StreamsUp     int     `json:"streamsUp"`
	Streams       int     `json:"streams"`
}

// EnrolDigest is what an enrolment's Signature signs: SHA-256 of
// lp("medshare/gateway/enrol/v1") ‖ lp(SHA-256 of the TLS client
// certificate's DER) ‖ i64(Time in Unix nanoseconds), with lp a 4-byte
// big-endian length prefix. Binding the TLS certificate stops a replay of
// the request over another connection.
func EnrolDigest(tlsCert []byte, t time.Time) [32]byte {
	certHash := sha256.Sum256(tlsCert)
	var b []byte
	for _, part := range [][]byte{[]byte("medshare/gateway/enrol/v1"), certHash[:]} {
		b = binary.BigEndian.AppendUint32(b, uint32(len(part)))
		b = append(b, part...)
	}
	b = binary.BigEndian.AppendUint64(b, uint64(t.UnixNano()))
	return sha256.Sum256(b)
}

// SealedLevel is one level a data owner graded and sealed on its own side
// (package gateway/envelope): m, the object for IPFS, and optionally the
// level's hidden P-TL policy (without one the level cannot be accessed
// until a policy is set).
type SealedLevel struct {
	Level        string `json:"level"`
	Keys         []byte `json:"keys"`
	Object       []byte `json:"object"`
	HiddenPolicy []byte `json:"hiddenPolicy,omitempty"`
}

// SealedUpload is the body of POST /api/v1/records/sealed: a new record
// (version 1) whose levels the owner sealed itself; the gateway adds the
// objects to IPFS, submits the Tx_sto (and policies) and indexes it — the
// paper's "Transaction".
type SealedUpload struct {
	RecordID string        `json:"recordId"`
	Levels   []SealedLevel `json:"levels"`
	Access   *Access       `json:"access,omitempty"`
}
