// Package storage is the storage chaincode of each side channel: it records
// the paper's storage transaction Tx_sto = (S, u, m, checkCode, sign) for the
// records whose fields of the channel's sensitivity level a data owner (a
// hospital) encrypted and added to IPFS.
//
//   - S identifies what is stored: the channel, the record id and the
//     record's version (so that a signed Tx_sto can be replayed neither on
//     another side chain nor over a newer version);
//   - u is the IPFS address (CID) of the ciphertext C;
//   - m is the wrapped keys: the AES keys encrypted with MSC-CP-ABE;
//   - checkCode is SHA-256(C), checked by every reader against what IPFS
//     returns;
//   - sign is the data owner's ECDSA P-256 signature over
//     MD = Digest(S, u, m, checkCode), verified against the key of the
//     transaction creator's certificate.
//
// The creator of the first version owns the record; only the owner may store
// later versions, each with the next version number, and the ledger keeps
// every version in the record key's history. Record ids are scoped to their
// owner ("<owner's identity hash>:<name>", package arg's ScopedID): nobody
// can take an id another owner is about to store. One implementation serves
// the three side channels: the sensitivity level is configured by Init.
//
// # Determinism
//
// Times come from the transaction timestamp only; listings are in key order;
// the signature cache is keyed by exact bytes and caches successes only.
package storage

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/medshare/medshare/chaincode/ccerr"
	"github.com/medshare/medshare/chaincode/internal/arg"
	"github.com/medshare/medshare/chaincode/internal/caller"
	"github.com/medshare/medshare/chaincode/internal/enc"
	"github.com/medshare/medshare/chaincode/internal/jsoncache"
	"github.com/medshare/medshare/chaincode/internal/page"
	"github.com/medshare/medshare/chaincode/internal/setup"
	"github.com/medshare/medshare/chaincode/internal/sigcheck"
	"github.com/medshare/medshare/chaincode/internal/statekey"
	"github.com/medshare/medshare/network/chaincode"
)

// Name is the chaincode's name on every side channel.
const Name = "storage"

// Limits on Tx_sto.
const (
	// MaxKeysLen bounds m, the wrapped keys.
	MaxKeysLen = 64 << 10
	// MaxHistoryPage bounds one page of a record's history.
	MaxHistoryPage = page.MaxSize
)

// Events the chaincode emits.
const (
	// EventStored is emitted by every successful Tx_sto; its payload is the
	// Summary of the stored version.
	EventStored = "Stored"
)

// DigestDomain is the domain string that starts the Tx_sto digest.
const DigestDomain = "medshare/storage/tx-sto/v1"

// Digest returns MD = H(S, u, m, checkCode), the SHA-256 digest the data
// owner signs for a Tx_sto: SHA-256 of the canonical encoding (see package
// enc: 4-byte big-endian length before each variable field, 8-byte
// big-endian integers)
//
//	lp("medshare/storage/tx-sto/v1") ‖ lp(channel) ‖ lp(recordID) ‖ u64(version)
//	‖ lp(address) ‖ lp(keys) ‖ lp(checkCode[32])
//
// where S = (channel, recordID, version). The owner signs it with
// identity.Signer.SignDigest (low-S ASN.1 ECDSA P-256).
func Digest(channel, recordID string, version uint64, address string, keys []byte, checkCode [32]byte) [32]byte {
	return enc.New(DigestDomain).String(channel).String(recordID).Uint64(version).
		String(address).Bytes(keys).Bytes(checkCode[:]).Sum256()
}

// Config is the Init argument of the storage chaincode.
type Config struct {
	// Level is the sensitivity level of the channel's records: "high",
	// "medium" or "low". It cannot change once set.
	Level string `json:"level"`
	// Auditors are the identities (unique names) that may read every
	// owner's record histories and listings.
	Auditors caller.Auditors `json:"auditors,omitempty"`
}

func checkConfig(c *Config) error {
	if err := arg.Level("config.level", c.Level); err != nil {
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

// Record is the current version of a stored record.
type Record struct {
	// RecordID is the record's id, unique on the channel.
	RecordID string `json:"recordID"`
	// Version is 1 for the first Tx_sto and grows by one with each update.
	Version uint64 `json:"version"`
	// Level and Channel say where the record is stored.
	Level   string `json:"level"`
	Channel string `json:"channel"`
	// Owner is the unique name of the data owner's identity; OwnerMSP its
	// organisation; OwnerKey the PKIX DER key sign verifies under.
	Owner    string `json:"owner"`
	OwnerMSP string `json:"ownerMSP"`
	OwnerKey []byte `json:"ownerKey"`
	// Address is u, the IPFS CID of the ciphertext.
	Address string `json:"address"`
	// Keys is m, the ABE-wrapped keys. Queries return it to the owner only
	// (and so to P-TL, which the owner's gateway calls); other members must
	// go through P-TL access, which logs and limits it.
	Keys []byte `json:"keys,omitempty"`
	// KeysHash is SHA-256(m) in hex, for logs that refer to m.
	KeysHash string `json:"keysHash"`
	// CheckCode is SHA-256(C) in hex.
	CheckCode string `json:"checkCode"`
	// Signature is sign, the owner's signature over Digest.
	Signature []byte `json:"signature"`
	// TxID is the transaction that stored this version.
	TxID string `json:"txID"`
	// CreatedAt is the time of version 1; UpdatedAt of this version.
	CreatedAt time.Time `json:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt"`
}

// Summary describes one stored version without its keys: what listings and
// the Stored event carry.
type Summary struct {
	RecordID  string    `json:"recordID"`
	Version   uint64    `json:"version"`
	Level     string    `json:"level"`
	Owner     string    `json:"owner"`
	OwnerMSP  string    `json:"ownerMSP"`
	Address   string    `json:"address"`
	CheckCode string    `json:"checkCode"`
	TxID      string    `json:"txID"`
	At        time.Time `json:"at"`
}

func (r *Record) summary() Summary {
	return Summary{RecordID: r.RecordID, Version: r.Version, Level: r.Level, Owner: r.Owner, OwnerMSP: r.OwnerMSP,
		Address: r.Address, CheckCode: r.CheckCode, TxID: r.TxID, At: r.UpdatedAt}
}

// State layout.
const (
	objRecord = "record"       // (recordID) → Record JSON
	objOwner  = "owner~record" // (ownerHash, recordID) → Summary JSON of the current version
	timeStart = "tsto/"        // "tsto/" time "/" recordID "/" version → Summary JSON of that version
)

// Storage is the storage contract.
type Storage struct {
	chaincode.Contract
	cfg  *setup.Config[Config]
	sigs *sigcheck.Verifier
	// records caches decoded records by their exact stored bytes: P-TL reads
	// a record on every access.
	records *jsoncache.Cache[Record]
}

// New returns the storage chaincode, ready to be deployed on a side channel
// under the name "storage".
func New() (*chaincode.Chaincode, error) {
	records, err := jsoncache.New[Record](1 << 12)
	if err != nil {
		return nil, err
	}
	return chaincode.New(&Storage{
		Contract: chaincode.Contract{Name: Name},
		cfg:      &setup.Config[Config]{Name: Name, Check: checkConfig, Update: updateConfig},
		sigs:     sigcheck.New(1024),
		records:  records,
	})
}

// Init sets the channel's configuration, a JSON Config such as
// {"level":"high","auditors":["x509::…"]}. It runs only as the init call of
// a chaincode definition a majority of the channel's organisations approved
// (package setup): in the deploy transaction, and in later definitions that
// change the configuration (the level is fixed).
func (s *Storage) Init(ctx chaincode.TransactionContext, config string) (*Config, error) {
	return s.cfg.Init(ctx, config)
}

// GetConfig returns the channel's configuration.
func (s *Storage) GetConfig(ctx chaincode.TransactionContext) (*Config, error) {
	return s.cfg.Load(ctx)
}

func recordKey(stub chaincode.Stub, recordID string) (string, error) {
	return stub.CreateCompositeKey(objRecord, []string{recordID})
}

func timeKey(t time.Time, recordID string, version uint64) string {
	return fmt.Sprintf("%s%s/%s/%020d", timeStart, statekey.Time(t), recordID, version)
}

func (s *Storage) load(stub chaincode.Stub, recordID string) (*Record, error) {
	key, err := recordKey(stub, recordID)
	if err != nil {
		return nil, err
	}
	b, err := stub.GetState(key)
	if err != nil || b == nil {
		return nil, err
	}
	shared, err := s.records.Decode(b)
	if err != nil {
		return nil, fmt.Errorf("record %s: stored value is unreadable: %w", recordID, err)
	}
	r := *shared
	return &r, nil
}

// Store records a Tx_sto: version version of record recordID, stored at IPFS
// address u with wrapped keys m (base64), checkCode SHA-256(C) (hex), and the
// owner's signature sign (base64) over Digest. A new record must have
// version 1 and becomes the caller's; an existing one may only be updated by
// its owner, with the next version. It returns the stored version without
// its keys and emits Stored.
func (s *Storage) Store(ctx chaincode.TransactionContext, recordID string, version uint64, address, keys, checkCode, signature string) (*Record, error) {
	cfg, who, err := s.cfg.Client(ctx, "store records")
	if err != nil {
		return nil, err
	}
	if err := arg.ID("recordID", recordID); err != nil {
		return nil, err
	}
	if version == 0 {
		return nil, ccerr.Invalid("version", "must be at least 1")
	}
	if err := arg.CID("address", address); err != nil {
		return nil, err
	}
	m, err := arg.Base64("keys", keys, 1, MaxKeysLen)
	if err != nil {
		return nil, err
	}
	cc, err := arg.Hash("checkCode", checkCode)
	if err != nil {
		return nil, err
	}
	sig, err := arg.Signature("signature", signature)
	if err != nil {
		return nil, err
	}
	stub := ctx.GetStub()
	now, err := stub.GetTxTimestamp()
	if err != nil {
		return nil, err
	}
	prev, err := s.load(stub, recordID)
	if err != nil {
		return nil, err
	}
	created := now
	switch {
	case prev == nil && version != 1:
		return nil, ccerr.Invalid("version", "must be 1 for a new record, got %d", version)
	case prev == nil:
		if err := arg.ScopedID("recordID", recordID, who.OwnerHash(), "the caller (the record's owner)"); err != nil {
			return nil, err
		}
	case prev != nil && prev.Owner != who.ID:
		return nil, ccerr.Forbidden("caller", "only the owner may update record %s", recordID)
	case prev != nil && version != prev.Version+1:
		return nil, ccerr.Invalid("version", "must be %d (the current version is %d), got %d", prev.Version+1, prev.Version, version)
	case prev != nil:
		created = prev.CreatedAt
	}
	md := Digest(stub.GetChannelID(), recordID, version, address, m, cc)
	if err := s.sigs.Verify(who.Key, md, sig); err != nil {
		return nil, ccerr.Invalid("signature", "does not verify against the creator's certificate key over the Tx_sto digest")
	}
	ownerKey, err := x509.MarshalPKIXPublicKey(who.Key)
	if err != nil {
		return nil, err
	}
	keysHash := sha256.Sum256(m)
	rec := &Record{
		RecordID: recordID, Version: version, Level: cfg.Level, Channel: stub.GetChannelID(),
		Owner: who.ID, OwnerMSP: who.MSP, OwnerKey: ownerKey,
		Address: address, Keys: m, KeysHash: hex.EncodeToString(keysHash[:]), CheckCode: checkCode,
		Signature: sig, TxID: stub.GetTxID(), CreatedAt: created, UpdatedAt: now,
	}
	if err := s.write(stub, rec); err != nil {
		return nil, err
	}
	rec.Keys = nil
	return rec, nil
}

func (s *Storage) write(stub chaincode.Stub, rec *Record) error {
	b, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	key, err := recordKey(stub, rec.RecordID)
	if err != nil {
		return err
	}
	if err := stub.PutState(key, b); err != nil {
		return err
	}
	sum, err := json.Marshal(rec.summary())
	if err != nil {
		return err
	}
	ownerKey, err := stub.CreateCompositeKey(objOwner, []string{statekey.Owner(rec.Owner), rec.RecordID})
	if err != nil {
		return err
	}
	if err := stub.PutState(ownerKey, sum); err != nil {
		return err
	}
	if err := stub.PutState(timeKey(rec.UpdatedAt, rec.RecordID, rec.Version), sum); err != nil {
		return err
	}
	return stub.SetEvent(EventStored, sum)
}

// GetRecord returns the current version of a record. The wrapped keys m are
// included only when the caller is the record's owner.
//
// P-TL calls it on every access, so it reads the record first: a stored
// record implies an initialised chaincode (only Store writes records, and it
// requires the configuration), and the configuration is read only to refuse
// a call that finds no record — with the same errors, in the same order, as
// reading it first.
func (s *Storage) GetRecord(ctx chaincode.TransactionContext, recordID string) (*Record, error) {
	stub := ctx.GetStub()
	var rec *Record
	if arg.ID("recordID", recordID) == nil {
		var err error
		if rec, err = s.load(stub, recordID); err != nil {
			return nil, err
		}
	}
	if rec == nil {
		if _, err := s.cfg.Load(ctx); err != nil {
			return nil, err
		}
		if err := arg.ID("recordID", recordID); err != nil {
			return nil, err
		}
		return nil, ccerr.NotFound("recordID", "record %s does not exist on %s", recordID, stub.GetChannelID())
	}
	who, err := caller.Of(ctx)
	if err != nil {
		return nil, err
	}
	if who.ID != rec.Owner {
		rec.Keys = nil
	}
	return rec, nil
}

// History returns a record's versions, newest first, one page at a time:
// bookmark is "" for the newest version or the version number a previous
// page returned. The owner sees the wrapped keys of every version; the
// auditors the configuration names see the versions without them.
func (s *Storage) History(ctx chaincode.TransactionContext, recordID string, pageSize int32, bookmark string) (*page.Page[Record], error) {
	cur, err := s.GetRecord(ctx, recordID)
	if err != nil {
		return nil, err
	}
	cfg, who, err := s.cfg.Caller(ctx)
	if err != nil {
		return nil, err
	}
	if err := who.RequireReader(cur.Owner, "", cfg.Auditors, "read a record's history"); err != nil {
		return nil, err
	}
	if err := page.CheckSize(pageSize); err != nil {
		return nil, err
	}
	from := cur.Version
	if bookmark != "" {
		v, err := strconv.ParseUint(bookmark, 10, 64)
		if err != nil || v == 0 || v > cur.Version {
			return nil, ccerr.Invalid("bookmark", "must be \"\" or a version number from 1 to %d", cur.Version)
		}
		from = v
	}
	stub := ctx.GetStub()
	key, err := recordKey(stub, recordID)
	if err != nil {
		return nil, err
	}
	it, err := stub.GetHistoryForKey(key)
	if err != nil {
		return nil, err
	}
	defer it.Close()
	out := &page.Page[Record]{Items: []Record{}}
	for it.HasNext() {
		mod, err := it.Next()
		if err != nil {
			return nil, err
		}
		if mod.IsDelete {
			continue
		}
		var r Record
		if err := json.Unmarshal(mod.Value, &r); err != nil {
			return nil, fmt.Errorf("record %s: history entry of tx %s is unreadable: %w", recordID, mod.TxID, err)
		}
		if r.Version > from {
			continue
		}
		if len(out.Items) == int(pageSize) {
			out.Bookmark = strconv.FormatUint(r.Version, 10)
			break
		}
		if who.ID != r.Owner {
			r.Keys = nil
		}
		out.Items = append(out.Items, r)
	}
	return out, nil
}

func decodeSummary(_ string, _ []string, v []byte) (Summary, error) {
	var s Summary
	err := json.Unmarshal(v, &s)
	return s, err
}

// ListByOwner lists the current versions of the records owned by owner (an
// identity's unique name, "x509::…"; "" for the caller), in record id
// order. Owners list their own records; the configured auditors anyone's.
func (s *Storage) ListByOwner(ctx chaincode.TransactionContext, owner string, pageSize int32, bookmark string) (*page.Page[Summary], error) {
	cfg, who, err := s.cfg.Caller(ctx)
	if err != nil {
		return nil, err
	}
	if owner == "" {
		owner = who.ID
	}
	if err := arg.Text("owner", owner, 1, 1024); err != nil {
		return nil, err
	}
	if err := who.RequireReader(owner, "", cfg.Auditors, "list an owner's records"); err != nil {
		return nil, err
	}
	return page.Composite(ctx.GetStub(), objOwner, []string{statekey.Owner(owner)}, pageSize, bookmark, decodeSummary)
}

// ListByTime lists every stored version (first stores and updates) whose
// Tx_sto time lies in [from, to) (RFC 3339), oldest first. Only the
// configured auditors may list across owners.
func (s *Storage) ListByTime(ctx chaincode.TransactionContext, from, to string, pageSize int32, bookmark string) (*page.Page[Summary], error) {
	cfg, who, err := s.cfg.Caller(ctx)
	if err != nil {
		return nil, err
	}
	if err := who.RequireAuditor(cfg.Auditors, "list records by time"); err != nil {
		return nil, err
	}
	f, err := arg.Time("from", from)
	if err != nil {
		return nil, err
	}
	t, err := arg.Time("to", to)
	if err != nil {
		return nil, err
	}
	if !f.Before(t) {
		return nil, ccerr.Invalid("to", "must be after from")
	}
	return page.Range(ctx.GetStub(), timeStart+statekey.Time(f), timeStart+statekey.Time(t), pageSize, bookmark, decodeSummary)
}
