// Package kubo runs the IPFS daemons of a medshare network: one kubo per
// organisation, all in one private swarm on loopback.
//
// A daemon's repository lives in a folder the caller chooses (the network's
// data folder, or a test's temporary directory). Init creates it with
// `ipfs init --empty-repo` and writes the private-swarm configuration of
// Settings into its config file:
//
//   - the consortium's swarm key (NewSwarmKey, generated with the crypto
//     material) is copied into the repository, and every daemon runs with
//     LIBP2P_FORCE_PNET=1, so a daemon without the key refuses to start and
//     peers without it cannot connect;
//   - the RPC API, the HTTP gateway and the swarm listen on 127.0.0.1 only,
//     on given ports or on free ones chosen by Init;
//   - no public bootstrap peers, Routing.Type "none" (no DHT, no delegated
//     routers), no AutoConf, no relays, hole punching, AutoNAT, AutoTLS,
//     UPnP, mDNS, HTTP retrieval, content providing or telemetry;
//   - the organisations' daemons know each other through Peering.Peers, so
//     they connect directly and keep the connections open; bitswap then
//     fetches blocks from them.
//
// Start runs `ipfs daemon` and waits until its API answers; Stop ends it
// with SIGTERM (SIGKILL after a grace period); Kill simulates a crash.
// Package kubotest starts N daemons in one private swarm for tests.
//
// The ipfs binary is built by `make kubo` (tools/kubo pins the version) into
// bin/ipfs; FindBinary locates it.
package kubo
