// Package ipfs is medshare's client of its organisation's kubo (IPFS)
// daemon, over kubo's RPC API with github.com/ipfs/go-ipfs-api. The gateway
// uses it to add and pin ciphertext, the replication follower to pin what
// the side chains index, and the data user's CLI to fetch ciphertext.
//
//	c, err := ipfs.New("127.0.0.1:5001", ipfs.WithTimeout(30*time.Second), ipfs.WithMaxObjectSize(64<<20))
//	cid, commit, undo, err := c.AddTx(ctx, ciphertext) // added and pinned
//	if err := submitTxSto(cid); err != nil {
//		undo(ctx) // a failed upload leaves nothing pinned
//	} else {
//		commit()
//	}
//	data, err := c.Cat(ctx, cid) // checkCode is the caller's to verify
//
// # Addresses
//
// Objects are added as CIDv1 with raw leaves (sha2-256, 256 KiB chunks): an
// object of up to one chunk is one raw block whose CID is derived from the
// SHA-256 of its bytes alone (txbuild.RawCID computes the same string), so
// the address does not depend on UnixFS's protobuf framing or on kubo's
// defaults (which are CIDv0 with wrapped leaves), and it is the base32 form
// the storage chaincode's address check accepts. Larger objects get a UnixFS
// root over raw leaves.
//
// Every method takes only bare CIDs (no /ipfs/ or /ipns/ paths), checked
// locally before kubo sees them: a hostile address cannot make kubo resolve
// names or walk paths.
//
// # Errors
//
// ErrUnavailable: kubo cannot be reached (the gateway answers 503);
// ErrNotFound: the object was not retrieved before the deadline;
// ErrTooLarge: the object exceeds the maximum object size;
// ErrInvalidCID: the address is not a CID. Errors wrap with %w; check
// them with errors.Is.
//
// # Pins
//
// kubo's pins are a set, not a count: an object is pinned once, whoever
// pinned it. AddTx therefore remembers whether the object was pinned before
// it, and its undo unpins only what it pinned itself (see AddTx).
package ipfs
