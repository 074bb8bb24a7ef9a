// Package cryptogen generates the certificates and keys of a local network
// from a small YAML description, as Fabric's cryptogen does: a CA per
// organisation, and for each node, administrator and user a signing
// certificate and a TLS certificate issued by that CA, with roles and
// attributes. It also creates the attribute authority's credential-signing
// key.
//
// Output layout (one identity directory per member, see identity.Dir):
//
//	<out>/<org>/ca/{cert.pem,key.pem}
//	<out>/<org>/msp/cacert.pem
//	<out>/<org>/nodes/<node>.<domain>/{signcert.pem,signkey.pem,tls/cert.pem,tls/key.pem,ca.pem,mspid}
//	<out>/<org>/users/<name>@<domain>/...   (administrators and users)
//	<out>/authority/{key.pem,pub.pem}
package cryptogen

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/medshare/medshare/network/identity"
)

// Config describes the organisations to generate.
type Config struct {
	// Validity is how long certificates are valid; default ten years.
	Validity      time.Duration  `yaml:"validity"`
	Organizations []Organization `yaml:"organizations"`
	// Authority names the attribute authority whose key signs attribute
	// credentials; empty skips it.
	Authority string `yaml:"authority"`
}

// Organization is one organisation.
type Organization struct {
	// Name is the directory name, e.g. "hospital1".
	Name string `yaml:"name"`
	// MSPID is the organisation's MSP ID, e.g. "Hospital1MSP".
	MSPID string `yaml:"mspID"`
	// Domain suffixes node and user names, e.g. "hospital1.example".
	Domain string `yaml:"domain"`
	Nodes  []Node `yaml:"nodes"`
	// Admins and Users are identity names; users may carry attributes.
	Admins []string `yaml:"admins"`
	Users  []User   `yaml:"users"`
}

// Node is a ledger node: its name and the hosts its TLS certificate covers.
type Node struct {
	Name  string   `yaml:"name"`
	Hosts []string `yaml:"hosts"`
}

// User is a client identity with optional attributes. Hosts, when set,
// are the DNS names and IP addresses its TLS certificate also serves (a
// gateway's identity serves HTTPS with it).
type User struct {
	Name       string            `yaml:"name"`
	Attributes map[string]string `yaml:"attributes"`
	Hosts      []string          `yaml:"hosts"`
}

var nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{0,62}$`)

// Load reads a configuration file.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("cryptogen: %w", err)
	}
	var c Config
	dec := yaml.NewDecoder(strings.NewReader(string(data)))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("cryptogen: %s: %w", path, err)
	}
	return &c, c.Validate()
}

// Validate checks names and uniqueness.
func (c *Config) Validate() error {
	var errs []error
	if len(c.Organizations) == 0 {
		errs = append(errs, errors.New("no organizations"))
	}
	seen := map[string]bool{}
	for i, o := range c.Organizations {
		if !nameRE.MatchString(o.Name) || !nameRE.MatchString(o.Domain) || o.MSPID == "" {
			errs = append(errs, fmt.Errorf("organizations[%d]: name and domain must be lower-case DNS labels and mspID is required", i))
		}
		if seen[o.Name] || seen[o.MSPID] {
			errs = append(errs, fmt.Errorf("organizations[%d]: name or mspID used twice", i))
		}
		seen[o.Name], seen[o.MSPID] = true, true
		names := map[string]bool{}
		for _, n := range o.Nodes {
			if !nameRE.MatchString(n.Name) || names["n:"+n.Name] {
				errs = append(errs, fmt.Errorf("organization %s: bad or repeated node name %q", o.Name, n.Name))
			}
			names["n:"+n.Name] = true
		}
		for _, a := range o.Admins {
			if !nameRE.MatchString(strings.ToLower(a)) || names["u:"+a] {
				errs = append(errs, fmt.Errorf("organization %s: bad or repeated admin name %q", o.Name, a))
			}
			names["u:"+a] = true
		}
		for _, u := range o.Users {
			if !nameRE.MatchString(strings.ToLower(u.Name)) || names["u:"+u.Name] {
				errs = append(errs, fmt.Errorf("organization %s: bad or repeated user name %q", o.Name, u.Name))
			}
			names["u:"+u.Name] = true
		}
	}
	if c.Validity < 0 {
		errs = append(errs, errors.New("validity must not be negative"))
	}
	return errors.Join(errs...)
}

// NodeID is the ID (and certificate common name) of an organisation's node.
func NodeID(o Organization, node string) string { return node + "." + o.Domain }

// UserName is the common name of an organisation's administrator or user.
func UserName(o Organization, user string) string { return user + "@" + o.Domain }

// NodeDir is where a node's identity is written.
func NodeDir(out string, o Organization, node string) identity.Dir {
	return identity.Dir(filepath.Join(out, o.Name, "nodes", NodeID(o, node)))
}

// UserDir is where an administrator's or user's identity is written.
func UserDir(out string, o Organization, user string) identity.Dir {
	return identity.Dir(filepath.Join(out, o.Name, "users", UserName(o, user)))
}

// CAFile is the organisation's CA certificate, as channel configurations
// reference it.
func CAFile(out string, o Organization) string {
	return filepath.Join(out, o.Name, "msp", "cacert.pem")
}

// AuthorityDir holds the attribute authority's credential-signing key.
func AuthorityDir(out string) string { return filepath.Join(out, "authority") }

// Generate writes all material under out, which must not exist yet or be
// empty. rnd supplies randomness; now starts the validity period.
func Generate(c *Config, out string, rnd io.Reader, now time.Time) error {
	if err := c.Validate(); err != nil {
		return fmt.Errorf("cryptogen: %w", err)
	}
	if entries, err := os.ReadDir(out); err == nil && len(entries) > 0 {
		return fmt.Errorf("cryptogen: %s already holds crypto material; remove it first", out)
	}
	validity := c.Validity
	if validity == 0 {
		validity = 10 * 365 * 24 * time.Hour
	}
	start, end := now.Add(-time.Hour), now.Add(validity)
	for _, o := range c.Organizations {
		ca, err := identity.NewCA(rnd, o.MSPID, o.Name, "ca."+o.Domain, start, end)
		if err != nil {
			return err
		}
		if err := identity.WriteCertFile(filepath.Join(out, o.Name, "ca", "cert.pem"), ca.Certificate()); err != nil {
			return err
		}
		if err := identity.WriteKeyFile(filepath.Join(out, o.Name, "ca", "key.pem"), ca.PrivateKey()); err != nil {
			return err
		}
		if err := identity.WriteCertFile(CAFile(out, o), ca.Certificate()); err != nil {
			return err
		}
		for _, n := range o.Nodes {
			hosts := append([]string{NodeID(o, n.Name)}, n.Hosts...)
			if err := writeIdentity(ca, rnd, NodeDir(out, o, n.Name), NodeID(o, n.Name), identity.RoleNode, nil, hosts, start, end); err != nil {
				return err
			}
		}
		for _, a := range o.Admins {
			if err := writeIdentity(ca, rnd, UserDir(out, o, a), UserName(o, a), identity.RoleAdmin, nil, nil, start, end); err != nil {
				return err
			}
		}
		for _, u := range o.Users {
			if err := writeIdentity(ca, rnd, UserDir(out, o, u.Name), UserName(o, u.Name), identity.RoleClient, u.Attributes, u.Hosts, start, end); err != nil {
				return err
			}
		}
	}
	if c.Authority != "" {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rnd)
		if err != nil {
			return fmt.Errorf("cryptogen: authority key: %w", err)
		}
		if err := identity.WriteKeyFile(filepath.Join(AuthorityDir(out), "key.pem"), key); err != nil {
			return err
		}
		der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
		if err != nil {
			return fmt.Errorf("cryptogen: authority key: %w", err)
		}
		pub := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
		if err := os.WriteFile(filepath.Join(AuthorityDir(out), "pub.pem"), pub, 0o644); err != nil {
			return fmt.Errorf("cryptogen: %w", err)
		}
	}
	return nil
}

// writeIdentity issues a signing and a TLS certificate for one member.
func writeIdentity(ca *identity.CA, rnd io.Reader, dir identity.Dir, cn string, role identity.Role, attrs map[string]string, hosts []string, start, end time.Time) error {
	req := identity.Request{CommonName: cn, Role: role, Attributes: attrs, NotBefore: start, NotAfter: end}
	cert, key, err := ca.Issue(rnd, req)
	if err != nil {
		return err
	}
	req.TLS = true
	req.Hosts = hosts
	tlsCert, tlsKey, err := ca.Issue(rnd, req)
	if err != nil {
		return err
	}
	for _, write := range []func() error{
		func() error { return identity.WriteCertFile(dir.CertFile(), cert) },
		func() error { return identity.WriteKeyFile(dir.KeyFile(), key) },
		func() error { return identity.WriteCertFile(dir.TLSCertFile(), tlsCert) },
		func() error { return identity.WriteKeyFile(dir.TLSKeyFile(), tlsKey) },
		func() error { return identity.WriteCertFile(dir.CAFile(), ca.Certificate()) },
	} {
		if err := write(); err != nil {
			return err
		}
	}
	if err := os.WriteFile(dir.MSPIDFile(), []byte(ca.MSPID()+"\n"), 0o644); err != nil {
		return fmt.Errorf("cryptogen: %w", err)
	}
	return nil
}

// LoadTLS reads an identity directory's TLS key pair.
func LoadTLS(dir identity.Dir) (tls.Certificate, error) {
	return tls.LoadX509KeyPair(dir.TLSCertFile(), dir.TLSKeyFile())
}
