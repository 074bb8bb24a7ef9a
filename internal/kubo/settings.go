package kubo

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Setting is one key of kubo's configuration file and the JSON value
// medshare gives it: what `ipfs config --json <Key> <Value>` would set.
type Setting struct {
	Key   string
	Value any
}

// String renders the setting as the ipfs command that applies it.
func (s Setting) String() string {
	v, _ := json.Marshal(s.Value)
	return fmt.Sprintf("ipfs config --json %s '%s'", s.Key, v)
}

// Settings returns the private-swarm configuration of a daemon whose
// addresses are final (no port 0): loopback listeners, no public network
// service of any kind, the other organisations in Peering.Peers. Init writes
// it into the repository's config file; scripts may apply the same settings
// with `ipfs config --json` (Setting.String).
func Settings(c Config) ([]Setting, error) {
	api, err := Multiaddr(c.API)
	if err != nil {
		return nil, err
	}
	gw, err := Multiaddr(c.Gateway)
	if err != nil {
		return nil, err
	}
	swarm, err := Multiaddr(c.Swarm)
	if err != nil {
		return nil, err
	}
	peers := make([]Peer, 0, len(c.Peers))
	peers = append(peers, c.Peers...)
	s := []Setting{
		// Listen on the given addresses only, and announce nothing else.
		{"Addresses.API", api},
		{"Addresses.Gateway", gw},
		{"Addresses.Swarm", []string{swarm}},
		{"Addresses.Announce", []string{}},
		{"Addresses.AppendAnnounce", []string{}},
		// No public peers: the consortium's daemons find each other through
		// Peering, which also keeps the connections open.
		{"Bootstrap", []string{}},
		{"Peering.Peers", peers},
		// No content routing at all (no DHT, no delegated routers): bitswap
		// asks the connected peers directly.
		{"Routing.Type", "none"},
		{"Routing.DelegatedRouters", []string{}},
		{"Ipns.DelegatedPublishers", []string{}},
		{"DNS.Resolvers", map[string]string{}},
		{"AutoConf.Enabled", false},
		{"Provide.Enabled", false},
		{"HTTPRetrieval.Enabled", false},
		// Nothing that reaches or advertises to the outside.
		{"Discovery.MDNS.Enabled", false},
		{"AutoNAT.ServiceMode", "disabled"},
		{"AutoTLS.Enabled", false},
		{"Swarm.DisableNatPortMap", true},
		{"Swarm.EnableHolePunching", false},
		{"Swarm.RelayClient.Enabled", false},
		{"Swarm.RelayService.Enabled", false},
		// Private networks run over TCP only (libp2p's PSK protects TCP
		// streams; QUIC, WebTransport and WebRTC cannot use it).
		{"Swarm.Transports.Network.TCP", true},
		{"Swarm.Transports.Network.QUIC", false},
		{"Swarm.Transports.Network.WebTransport", false},
		{"Swarm.Transports.Network.WebRTCDirect", false},
		{"Swarm.Transports.Network.Websocket", false},
		{"Swarm.Transports.Network.Relay", false},
		{"Plugins.Plugins.telemetry.Disabled", true},
		// `ipfs add` on the command line makes the CIDs the gateway's client
		// makes: CIDv1, raw leaves.
		{"Import.CidVersion", 1},
		{"Import.UnixFSRawLeaves", true},
	}
	if c.StorageMax != "" {
		s = append(s, Setting{"Datastore.StorageMax", c.StorageMax})
	}
	return s, nil
}

// applySettings sets each setting in a decoded kubo config file, creating
// the objects on the way.
func applySettings(cfg map[string]any, settings []Setting) error {
	for _, s := range settings {
		// Round-trip the value through JSON, so the config holds only JSON
		// types whatever Go type the setting uses.
		raw, err := json.Marshal(s.Value)
		if err != nil {
			return fmt.Errorf("kubo: setting %s: %w", s.Key, err)
		}
		var v any
		if err := json.Unmarshal(raw, &v); err != nil {
			return fmt.Errorf("kubo: setting %s: %w", s.Key, err)
		}
		parts := strings.Split(s.Key, ".")
		m := cfg
		for _, p := range parts[:len(parts)-1] {
			switch next := m[p].(type) {
			case map[string]any:
				m = next
			case nil:
				child := map[string]any{}
				m[p] = child
				m = child
			default:
				return fmt.Errorf("kubo: setting %s: %s is not an object", s.Key, p)
			}
		}
		m[parts[len(parts)-1]] = v
	}
	return nil
}
