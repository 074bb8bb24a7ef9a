package audit

import (
	"testing"
	"time"
)

// FuzzAuditEvents: entries with arbitrary strings (ids, reasons, purposes,
// names, as a hostile contract result or a bug upstream could give). The
// converter never panics, and what it converts is valid FHIR R4.
func FuzzAuditEvents(f *testing.F) {
	f.Add(uint8(0), "tx-1", "rec-1", "x509::CN=a::CN=b", "0f1e", "policy_not_met", "HRESCH", "detail", uint8(1))
	f.Add(uint8(6), "tx\x00", "", "", "k", "", "free text purpose", "\u2028<div>", uint8(2))
	f.Add(uint8(4), "t", "r", "i", "", "forbidden_action", "TREAT", "", uint8(0))
	c, err := New(DefaultConfig())
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, kind uint8, tx, record, id, key, reason, purpose, detail string, outcome uint8) {
		e := Entry{
			Kind: Kinds[int(kind)%len(Kinds)], TxID: tx, Block: uint64(kind), Time: time.Unix(int64(kind)*1e6, 0),
			Channel: "side-high", Node: "node0", Actor: Party{ID: id, KeyHash: key, Name: detail}, Subject: Party{KeyHash: key},
			Submitter: Party{ID: id}, RecordIDs: []string{record}, Version: uint64(outcome), Reason: reason, Detail: detail,
			Purpose: purpose, RequestID: record, PackageID: tx, Outcome: Outcome(outcome % 4),
			Actions: []Action{{Name: reason, At: time.Unix(1, 0), Status: detail}}, Signature: []byte(detail), SignedBy: Party{ID: id},
		}
		docs, err := c.AuditEvents(&e)
		if err != nil {
			return
		}
		for _, d := range docs {
			validateR4(t, d)
		}
		if p, ok, err := c.Provenance(&e); err != nil {
			t.Fatalf("provenance of a valid entry: %v", err)
		} else if ok {
			validateR4(t, p)
		}
	})
}
