// Package ptl is the P-TL contract of each side channel (MSC-CP-ABE/AC-CSS):
// the gate every access to a record's wrapped keys goes through.
//
// P-TL has two parts, as in the paper:
//
//   - PVC, the policy validity check: each record has a policy (SetPolicy)
//     with a validity period, optional access windows (days and hours in a
//     stated IANA time zone) and a maximum proof age. An access proof must
//     be fresh, carry an unused nonce, be signed by the data user's key,
//     carry the attribute authority's enrolment binding that key to the
//     user's enrolled identity (its user id), name the policy version it was
//     made for, and disclose attribute-authority-certified tags that satisfy
//     the record's hidden policy.
//   - Real-time monitoring: every attempt is logged (APR = T ‖ BPK_DU ‖ u ‖ m,
//     with m kept as its hash), every failure is a violation (VIPR = T ‖
//     BPK_DU ‖ u) with its reason, and a configurable number of violations
//     within a sliding window blocks the user for the record, or for all of
//     the owner's records. The owner lists violations and blocks, re-grants or
//     recalls; the provenance chaincode revokes through RevokeForViolation in
//     the same transaction as a forbidden-action report.
//
// Users are their enrolled identities, not their keys: every block, nonce,
// rate count and violation is keyed by the user id the attribute authority
// bound the proof's key to, so a revoked user is refused whatever key it
// presents. A violation counts toward a block only when the user's own
// signed proof shows it (Violation.Blame): replays, late or early
// submissions, attempts made before a block or under an older policy version
// are refused and blamed on the submitter, so an owner cannot get a user
// blocked.
//
// A granted access records Tx_acc = (A, BPK_DU, u, T_stemp, sign_DO) and
// returns u and H(m); the owner's gateway, which holds m, hands it to the
// data user. A refused access is not an error: the transaction succeeds
// with a "denied" decision, so that its log entry and violation are kept.
// Only malformed arguments, unknown records and callers who do not own the
// record fail the transaction (nothing then can be attributed to a data
// user). sign_DO is the owner's signature of the Access transaction itself.
//
// Trust model: the ledger gate authenticates, logs and rate-limits access
// through the consortium, and revokes; confidentiality comes from the
// MSC-CP-ABE encryption of m — every node operator can read m from the
// world state, and only holders of satisfying attribute keys can unwrap it.
//
// # Determinism
//
// Time comes only from the transaction timestamp; access windows are
// evaluated with time.LoadLocation, so the IANA zone rules are those of the
// node's time zone database (the node binary embeds time/tzdata as a
// fallback) and nodes must run the same tz data release. The caches (verified
// signatures, verified disclosures, decoded policies, time zones) are keyed by
// exact bytes and hold pure functions of them; they save work and never change
// a result.
package ptl

import (
	"crypto/ecdsa"
	"sync"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/medshare/medshare/abe/tag"
	"github.com/medshare/medshare/chaincode/ccerr"
	"github.com/medshare/medshare/chaincode/internal/arg"
	"github.com/medshare/medshare/chaincode/internal/caller"
	"github.com/medshare/medshare/chaincode/internal/jsoncache"
	"github.com/medshare/medshare/chaincode/internal/setup"
	"github.com/medshare/medshare/chaincode/internal/sigcheck"
	"github.com/medshare/medshare/chaincode/storage"
	"github.com/medshare/medshare/network/chaincode"
)

// Name is the chaincode's name on every side channel.
const Name = "ptl"

// The names of the chaincodes P-TL calls on its channel.
const (
	storageName    = "storage"
	provenanceName = "provenance"
)

// Config is the Init argument of the P-TL chaincode. Durations are Go
// duration strings ("90s", "5m", "1h"). Omitted fields take the defaults in
// brackets; the stored configuration has them filled in.
type Config struct {
	// Level is the channel's sensitivity level: high, medium or low.
	Level string `json:"level"`
	// AAPublicKey is the attribute authority's credential key: base64 of
	// its PKIX DER ECDSA P-256 public key. It signs users' credentials and
	// enrolments.
	AAPublicKey string `json:"aaPublicKey"`
	// MinEpoch refuses credentials issued before this AA epoch [0].
	MinEpoch uint64 `json:"minEpoch"`
	// DefaultMaxProofAge applies to policies that set no maxProofAge ["5m"].
	DefaultMaxProofAge string `json:"defaultMaxProofAge"`
	// MaxClockSkew is how far a proof time may lie ahead of the transaction
	// time, and how far the owner's stamp may differ from it ["30s"].
	MaxClockSkew string `json:"maxClockSkew"`
	// Monitor configures real-time monitoring.
	Monitor Monitor `json:"monitor"`
	// Auditors are the identities (unique names) that may read every
	// owner's logs, violations and blocks, and every user's log.
	Auditors caller.Auditors `json:"auditors,omitempty"`

	aaKey        *ecdsa.PublicKey
	maxProofAge  time.Duration
	maxClockSkew time.Duration
	window       time.Duration
	ratePeriod   time.Duration
}

// Monitor configures real-time monitoring.
type Monitor struct {
	// Window is the sliding window violations are counted in ["1h"].
	Window string `json:"window"`
	// RecordThreshold violations by one user on one record within Window
	// block the user for that record [3]; 1..100.
	RecordThreshold int `json:"recordThreshold"`
	// OwnerThreshold violations by one user on one owner's records within
	// Window block the user for all of the owner's records; 0 (or omitted)
	// turns the owner-wide block off; at most 100.
	OwnerThreshold int `json:"ownerThreshold"`
	// RateLimit is the number of attempts one user may make on one record
	// per RatePeriod; 0 (or omitted) turns rate limiting off; at most
	// 1,000,000.
	RateLimit int `json:"rateLimit"`
	// RatePeriod is the rate limit's fixed period, aligned to the Unix
	// epoch ["1m"].
	RatePeriod string `json:"ratePeriod"`
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func checkConfig(c *Config) error {
	if err := arg.Level("config.level", c.Level); err != nil {
		return err
	}
	der, err := arg.Base64("config.aaPublicKey", c.AAPublicKey, 1, arg.MaxPublicKeyLen)
	if err != nil {
		return err
	}
	if c.aaKey, err = arg.PublicKey("config.aaPublicKey", der); err != nil {
		return err
	}
	c.DefaultMaxProofAge = orDefault(c.DefaultMaxProofAge, "5m")
	if c.maxProofAge, err = arg.Duration("config.defaultMaxProofAge", c.DefaultMaxProofAge, time.Second, 24*time.Hour); err != nil {
		return err
	}
	c.MaxClockSkew = orDefault(c.MaxClockSkew, "30s")
	if c.maxClockSkew, err = arg.Duration("config.maxClockSkew", c.MaxClockSkew, 0, 10*time.Minute); err != nil {
		return err
	}
	m := &c.Monitor
	m.Window = orDefault(m.Window, "1h")
	if c.window, err = arg.Duration("config.monitor.window", m.Window, time.Second, 365*24*time.Hour); err != nil {
		return err
	}
	if m.RecordThreshold == 0 {
		m.RecordThreshold = 3
	}
	if m.RecordThreshold < 1 || m.RecordThreshold > maxThreshold {
		return ccerr.Invalid("config.monitor.recordThreshold", "must be 1..%d", maxThreshold)
	}
	if m.OwnerThreshold < 0 || m.OwnerThreshold > maxThreshold {
		return ccerr.Invalid("config.monitor.ownerThreshold", "must be 0 (off) or 1..%d", maxThreshold)
	}
	if m.RateLimit < 0 || m.RateLimit > 1_000_000 {
		return ccerr.Invalid("config.monitor.rateLimit", "must be 0 (off) or 1..1000000")
	}
	m.RatePeriod = orDefault(m.RatePeriod, "1m")
	if c.ratePeriod, err = arg.Duration("config.monitor.ratePeriod", m.RatePeriod, time.Second, 24*time.Hour); err != nil {
		return err
	}
	return c.Auditors.Check("config.auditors")
}

func updateConfig(old, c *Config) error {
	if old.Level != c.Level {
		return ccerr.Invalid("config.level", "cannot change from %s to %s once set", old.Level, c.Level)
	}
	return nil
}

// maxThreshold bounds violation thresholds, and so the size of a violation
// ring.
const maxThreshold = 100

// PTL is the P-TL contract.
type PTL struct {
	chaincode.Contract
	cfg  *setup.Config[Config]
	sigs *sigcheck.Verifier
	// disclosures caches the tags of verified disclosures, keyed by
	// SHA-256(AA key ‖ disclosure bytes).
	disclosures *lru.Cache[[32]byte, []tag.Tag]
	// policies caches stored policies, decoded and compiled, keyed by
	// SHA-256 of the stored policy JSON.
	policies *lru.Cache[[32]byte, *cachedPolicy]
	// records caches the decoding of the storage chaincode's GetRecord
	// results, by their exact bytes.
	records *jsoncache.Cache[storage.Record]

	zoneMu sync.Mutex
	zones  map[string]*time.Location
}

// New returns the P-TL chaincode, ready to be deployed on a side channel
// under the name "ptl" next to "storage" and "provenance".
func New() (*chaincode.Chaincode, error) {
	disclosures, err := lru.New[[32]byte, []tag.Tag](1 << 14)
	if err != nil {
		return nil, err
	}
	policies, err := lru.New[[32]byte, *cachedPolicy](1 << 12)
	if err != nil {
		return nil, err
	}
	records, err := jsoncache.New[storage.Record](1 << 12)
	if err != nil {
		return nil, err
	}
	return chaincode.New(&PTL{
		Contract:    chaincode.Contract{Name: Name},
		cfg:         &setup.Config[Config]{Name: Name, Check: checkConfig, Update: updateConfig},
		sigs:        sigcheck.New(sigcheck.DefaultCacheSize),
		disclosures: disclosures,
		policies:    policies,
		records:     records,
		zones:       make(map[string]*time.Location),
	})
}

// Init sets the channel's configuration, a JSON Config such as
// {"level":"high","aaPublicKey":"MFkw…"}. It runs only as the init call of a
// chaincode definition a majority of the channel's organisations approved
// (package setup): in the deploy transaction, and in later definitions that
// change the configuration (the level is fixed). No organisation alone can
// replace the attribute authority's key, lower minEpoch or loosen
// monitoring.
func (c *PTL) Init(ctx chaincode.TransactionContext, config string) (*Config, error) {
	return c.cfg.Init(ctx, config)
}

// GetConfig returns the channel's configuration.
func (c *PTL) GetConfig(ctx chaincode.TransactionContext) (*Config, error) {
	return c.cfg.Load(ctx)
}
