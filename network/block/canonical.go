package block

import (
	"math"

	"google.golang.org/protobuf/encoding/protowire"
)

// A transaction has exactly one accepted encoding: the one proto.Marshal
// (deterministic) writes for its decoded message. Protobuf decoders also
// accept other encodings of the same message — unknown fields, fields out of
// order or repeated (the last one wins), explicit default values, overlong
// varints — so without this rule one signed transaction has many byte
// strings, and anything keyed on the bytes (the executor's cache of verified
// signatures, the envelope hash in the Merkle leaf) could be fooled by a copy
// that means the same but is not what was signed.

// fieldSpec describes one field of a message for the canonical check.
type fieldSpec struct {
	known    bool
	typ      protowire.Type
	repeated bool // may appear more than once, consecutively; empty elements allowed
	uint32   bool // a varint that must fit in 32 bits
}

// proposalFields describes pb.Proposal (field numbers 1..8).
var proposalFields = []fieldSpec{
	1: {known: true, typ: protowire.VarintType, uint32: true},  // version
	2: {known: true, typ: protowire.BytesType},                 // channel
	3: {known: true, typ: protowire.BytesType},                 // chaincode
	4: {known: true, typ: protowire.BytesType, repeated: true}, // args
	5: {known: true, typ: protowire.BytesType},                 // msp_id
	6: {known: true, typ: protowire.BytesType},                 // creator
	7: {known: true, typ: protowire.BytesType},                 // nonce
	8: {known: true, typ: protowire.VarintType},                // timestamp
}

// envelopeFields describes pb.Envelope.
var envelopeFields = []fieldSpec{
	1: {known: true, typ: protowire.BytesType}, // proposal
	2: {known: true, typ: protowire.BytesType}, // signature
}

// canonical reports whether b is the canonical protobuf encoding of a
// message with the given fields: only known fields, each with its declared
// wire type, in increasing field-number order (a repeated field's elements
// consecutive), singular fields holding their default value left out, and
// every varint minimally encoded. It allocates nothing.
func canonical(b []byte, fields []fieldSpec) bool {
	var last protowire.Number
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 || n != protowire.SizeTag(num) {
			return false
		}
		if int(num) >= len(fields) || !fields[num].known || fields[num].typ != typ {
			return false
		}
		f := fields[num]
		if num < last || (num == last && !f.repeated) {
			return false
		}
		b = b[n:]
		switch typ {
		case protowire.VarintType:
			v, m := protowire.ConsumeVarint(b)
			if m < 0 || m != protowire.SizeVarint(v) || v == 0 || (f.uint32 && v > math.MaxUint32) {
				return false
			}
			b = b[m:]
		case protowire.BytesType:
			l, k := protowire.ConsumeVarint(b)
			if k < 0 || k != protowire.SizeVarint(l) || l > uint64(len(b)-k) {
				return false
			}
			if l == 0 && !f.repeated {
				return false
			}
			b = b[k+int(l):]
		default:
			return false
		}
		last = num
	}
	return true
}
