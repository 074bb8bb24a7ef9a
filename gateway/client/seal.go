package client

import (
	"crypto/rand"
	"fmt"

	"github.com/medshare/medshare/abe"
	"github.com/medshare/medshare/abe/authority"
	"github.com/medshare/medshare/abe/policy"
	"github.com/medshare/medshare/abe/tag"
	"github.com/medshare/medshare/gateway/api"
	"github.com/medshare/medshare/gateway/envelope"
)

// Sealer seals records on a data owner's side for POST
// /api/v1/records/sealed: the attribute authority's public key, schema and
// epoch, and the tag key (GET /api/v1/authority/tag-key). The owner's
// gateway then stores what it is given without seeing any plaintext.
type Sealer struct {
	Scheme    abe.Scheme
	PublicKey *abe.PublicKey
	Schema    *tag.Schema
	TagKey    tag.Key
	Epoch     uint64
}

// Seal encrypts levels (nil: no data at that level) as version 1 of
// recordID under the record policy rp (attribute names; hidden here), and
// returns the upload with each level's hidden P-TL policy.
func (s *Sealer) Seal(recordID string, rp *policy.Record, levels abe.Levels) (*api.SealedUpload, error) {
	hidden, err := authority.HidePolicy(rp, s.Schema, s.TagKey, s.Epoch)
	if err != nil {
		return nil, err
	}
	ct, err := s.Scheme.Encrypt(rand.Reader, s.PublicKey, hidden, envelope.Binding(recordID, 1), levels)
	if err != nil {
		return nil, err
	}
	header, err := ct.MarshalHeader()
	if err != nil {
		return nil, err
	}
	up := &api.SealedUpload{RecordID: recordID}
	for _, l := range []policy.Level{policy.High, policy.Medium, policy.Low} {
		if levels[l] == nil {
			continue
		}
		gate, err := envelope.NewGate(nil)
		if err != nil {
			return nil, err
		}
		k := &envelope.Keys{RecordID: recordID, Version: 1, Epoch: s.Epoch, Level: l, Gate: gate, Header: header}
		m, err := k.MarshalBinary()
		if err != nil {
			return nil, err
		}
		obj, err := envelope.Seal(nil, k, ct.Sealed(l))
		if err != nil {
			return nil, err
		}
		pol, err := hidden.Level(l).MarshalBinary()
		if err != nil {
			return nil, err
		}
		up.Levels = append(up.Levels, api.SealedLevel{Level: l.String(), Keys: m, Object: obj, HiddenPolicy: pol})
	}
	if len(up.Levels) == 0 {
		return nil, fmt.Errorf("client: nothing to seal")
	}
	return up, nil
}
