// Package replicate keeps an organisation's kubo holding what the ledger
// indexes: a Follower reads the storage chaincode's Stored events on the
// side channels (the Tx_sto of every organisation, its own included) and
// pins every address it sees, so a record stays readable when its owner's
// kubo is down. The ledger, not the uploader, decides what is replicated.
//
// # Guarantees
//
//   - Nothing committed is missed: the follower reads each channel's events
//     from a start block, records its progress and its unfinished work
//     (pending pins and unpins) together in a state file in the gateway's
//     data folder, and resumes from there after a restart or a lost stream.
//     A restart re-reads at most the events of the last SaveInterval (pins
//     are idempotent, and one already pinned costs a pin ls).
//   - Pins that fail (kubo down, no peer holding the object yet) are
//     retried with exponential backoff, new work first, until GiveUpAfter.
//   - The follower pins only what kubo can read as a file of at most the
//     client's maximum object size: it fetches the object bounded (Cat)
//     before pinning it, so a committed Tx_sto naming a huge or foreign DAG
//     cannot fill the disk. A raw CID (one block, no links) is pinned
//     without the fetch when that bound is at least ipfs.MaxBlockBytes,
//     the most one block from a peer can hold.
//   - Unpins (recalls) win: an unpinned address is remembered and never
//     pinned again by this follower, whatever order the events arrive in.
//
// What an event means is a Mapper: StoredPins maps Stored to a pin of its
// address; the gateway adds its recall event with an Unpin decision, or
// calls Follower.Unpin directly. Status reports the streams, the pending
// work and the age of the oldest pending pin (the replication lag), for
// /readyz; the Follower is also a prometheus.Collector.
package replicate
