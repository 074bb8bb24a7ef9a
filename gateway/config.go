package gateway

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"reflect"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/medshare/medshare/abe"
	"github.com/medshare/medshare/abe/policy"
	"github.com/medshare/medshare/chaincode/ptl"
	"github.com/medshare/medshare/gateway/api"
)

// Config is a gateway's configuration: Default(), then a YAML file, then
// MEDSHARE_GATEWAY_* environment variables, then Validate().
type Config struct {
	// MSPID is the organisation the gateway serves; its identity must
	// belong to it.
	MSPID string `yaml:"mspID"`
	// Listen is the HTTPS address (loopback in tests and scripts).
	Listen string `yaml:"listen"`
	// Identity is the gateway's identity directory (signcert, signkey, TLS
	// certificate and key): it signs ledger transactions and serves HTTPS.
	Identity string `yaml:"identity"`
	// CAs maps every consortium organisation's MSP id to its CA
	// certificate file: callers' certificates must chain to one of them.
	CAs map[string]string `yaml:"cas"`
	// Node is the organisation's own node (gRPC API address); only the
	// organisation's CA is trusted for its TLS certificate.
	Node string `yaml:"node"`
	// IPFS is the organisation's kubo RPC API address (host:port).
	IPFS string `yaml:"ipfs"`
	// DataDir holds the gateway's state: the pending-index journal and the
	// custodian key ring (and the authority's state by default).
	DataDir string `yaml:"dataDir"`
	// Gateways overrides, for the organisations it names, the gateway URL
	// their administrators registered on main (index SetGateway): tests, or
	// a gateway reached by another address. docs/gateway.md, "Gateway
	// discovery and pinning".
	Gateways map[string]string `yaml:"gateways"`
	// MaxBodyBytes bounds a request body.
	MaxBodyBytes int64 `yaml:"maxBodyBytes"`
	// RequestTimeout bounds a request's work (ledger and IPFS included).
	RequestTimeout time.Duration `yaml:"requestTimeout"`
	// ReadTimeout bounds reading a whole request, headers and body: a
	// client that sends more slowly (a slowloris, a trickled body) is cut
	// off. ReadHeaderTimeout bounds the TLS handshake and the headers.
	ReadTimeout       time.Duration `yaml:"readTimeout"`
	ReadHeaderTimeout time.Duration `yaml:"readHeaderTimeout"`
	// MaxHeaderBytes bounds a request's headers (431 beyond).
	MaxHeaderBytes int64 `yaml:"maxHeaderBytes"`
	// MaxReplicationLag is how long the replication follower may leave a
	// pin or unpin pending before /readyz reports the gateway not ready.
	MaxReplicationLag time.Duration `yaml:"maxReplicationLag"`
	// GradingRules is a YAML rule file; empty uses the default rules.
	GradingRules string `yaml:"gradingRules"`
	// Templates are named policies and access terms; DefaultTemplate is
	// used when an upload names none and gives no policy.
	Templates       map[string]Template `yaml:"templates"`
	DefaultTemplate string              `yaml:"defaultTemplate"`
	// AccessLog logs each access on main (index LogRequest) after the
	// answer, in the background.
	AccessLog bool `yaml:"accessLog"`
	// Authority configures the attribute authority.
	Authority AuthorityConfig `yaml:"authority"`
	// LogLevel (debug, info, warn, error) and LogFormat (text, json).
	LogLevel  string `yaml:"logLevel"`
	LogFormat string `yaml:"logFormat"`
}

// AuthorityConfig says where the attribute authority is: served by this
// gateway (Serve) or reached at URL.
type AuthorityConfig struct {
	// Serve makes this gateway the attribute authority.
	Serve bool `yaml:"serve"`
	// StateFile holds the authority's keys (mode 0600), created on first
	// start; default <dataDir>/authority.json.
	StateFile string `yaml:"stateFile"`
	// SigningKey is the credential-signing key (PEM), the one P-TL is
	// configured with (cryptogen's authority/key.pem).
	SigningKey string `yaml:"signingKey"`
	// Scheme is the ABE scheme of a new authority: msc or tkn20.
	Scheme string `yaml:"scheme"`
	// CredentialValidity is how long issued credentials are valid.
	CredentialValidity time.Duration `yaml:"credentialValidity"`
	// URL is the authority's gateway when this one does not serve it.
	URL string `yaml:"url"`
	// MSP is the organisation whose gateway serves the authority: its TLS
	// certificate must then be that organisation's CA's, with the gateway
	// (owner) role. Without it any consortium CA's certificate is accepted
	// for the authority, whose public key every upload encrypts under.
	MSP string `yaml:"msp"`
}

// Template is a named policy with its access terms. Validity is how long
// from the upload the record may be accessed.
type Template struct {
	Policy      api.RecordPolicy `yaml:"policy"`
	Validity    time.Duration    `yaml:"validity"`
	MaxProofAge string           `yaml:"maxProofAge"`
	TimeZone    string           `yaml:"timeZone"`
	Windows     []ptl.Window     `yaml:"windows"`
}

// Default returns the defaults: loopback, 8 MiB bodies, 30 s requests,
// the "clinical" template.
func Default() Config {
	return Config{
		Listen:            "127.0.0.1:8443",
		Node:              "127.0.0.1:7051",
		IPFS:              "127.0.0.1:5001",
		DataDir:           "gateway-data",
		MaxBodyBytes:      8 << 20,
		RequestTimeout:    30 * time.Second,
		ReadTimeout:       30 * time.Second,
		ReadHeaderTimeout: 10 * time.Second,
		MaxHeaderBytes:    64 << 10,
		MaxReplicationLag: 5 * time.Minute,
		AccessLog:         true,
		Templates: map[string]Template{
			"clinical": {
				Policy: api.RecordPolicy{
					Low:    "role = doctor or role = nurse or role = researcher",
					Medium: "role = doctor or role = nurse",
					High:   "role = doctor and trust >= 2",
				},
				Validity: 365 * 24 * time.Hour,
			},
		},
		DefaultTemplate: "clinical",
		Authority: AuthorityConfig{
			Scheme:             abe.MSC,
			CredentialValidity: 30 * 24 * time.Hour,
		},
		LogLevel:  "info",
		LogFormat: "text",
	}
}

// LoadConfig returns Default() overlaid with the YAML file at path (unknown
// keys refused) and the environment, validated.
func LoadConfig(path string, env []string) (Config, error) {
	c := Default()
	if path != "" {
		raw, err := os.ReadFile(path)
		if err != nil {
			return c, fmt.Errorf("gateway: config: %w", err)
		}
		dec := yaml.NewDecoder(strings.NewReader(string(raw)))
		dec.KnownFields(true)
		if err := dec.Decode(&c); err != nil {
			return c, fmt.Errorf("gateway: config %s: %w", path, err)
		}
	}
	if err := c.ApplyEnv(env); err != nil {
		return c, err
	}
	return c, c.Validate()
}

// EnvPrefix prefixes the environment variables that override the
// configuration: MEDSHARE_GATEWAY_<YAML KEY IN UPPER CASE>, nested keys
// joined with '_' (MEDSHARE_GATEWAY_AUTHORITY_URL). Lists are
// comma-separated; maps are not settable from the environment.
const EnvPrefix = "MEDSHARE_GATEWAY_"

// ApplyEnv overrides fields from env (KEY=value entries, as os.Environ).
func (c *Config) ApplyEnv(env []string) error {
	vals := map[string]string{}
	for _, kv := range env {
		k, v, ok := strings.Cut(kv, "=")
		if ok && strings.HasPrefix(k, EnvPrefix) {
			vals[strings.TrimPrefix(k, EnvPrefix)] = v
		}
	}
	if len(vals) == 0 {
		return nil
	}
	var errs []error
	setFields(reflect.ValueOf(c).Elem(), "", vals, &errs)
	for k := range vals {
		errs = append(errs, fmt.Errorf("%s%s: no such setting", EnvPrefix, k))
	}
	return errors.Join(errs...)
}

func setFields(v reflect.Value, prefix string, vals map[string]string, errs *[]error) {
	t := v.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		key := strings.ToUpper(prefix + strings.Split(f.Tag.Get("yaml"), ",")[0])
		fv := v.Field(i)
		if f.Type.Kind() == reflect.Struct {
			setFields(fv, key+"_", vals, errs)
			continue
		}
		s, ok := vals[key]
		if !ok {
			continue
		}
		delete(vals, key)
		if err := setValue(fv, s); err != nil {
			*errs = append(*errs, fmt.Errorf("%s%s: %w", EnvPrefix, key, err))
		}
	}
}

func setValue(fv reflect.Value, s string) error {
	switch {
	case fv.Type() == reflect.TypeOf(time.Duration(0)):
		d, err := time.ParseDuration(s)
		if err != nil {
			return err
		}
		fv.SetInt(int64(d))
	case fv.Kind() == reflect.String:
		fv.SetString(s)
	case fv.Kind() == reflect.Bool:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return err
		}
		fv.SetBool(b)
	case fv.Kind() == reflect.Int64:
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return err
		}
		fv.SetInt(n)
	case fv.Kind() == reflect.Slice && fv.Type().Elem().Kind() == reflect.String:
		var parts []string
		for p := range strings.SplitSeq(s, ",") {
			if p = strings.TrimSpace(p); p != "" {
				parts = append(parts, p)
			}
		}
		fv.Set(reflect.ValueOf(parts))
	default:
		return errors.New("cannot be set from the environment")
	}
	return nil
}

// Validate checks the configuration, naming every field at fault.
func (c *Config) Validate() error {
	var errs []error
	bad := func(field, format string, a ...any) {
		errs = append(errs, fmt.Errorf("%s: "+format, append([]any{field}, a...)...))
	}
	if c.MSPID == "" {
		bad("mspID", "is required")
	}
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		bad("listen", "must be host:port: %v", err)
	}
	if c.Identity == "" {
		bad("identity", "is required")
	}
	if len(c.CAs) == 0 {
		bad("cas", "maps the consortium's MSP ids to their CA certificates; at least one is required")
	} else if _, ok := c.CAs[c.MSPID]; !ok && c.MSPID != "" {
		bad("cas", "must include the gateway's own organisation %s", c.MSPID)
	}
	if _, _, err := net.SplitHostPort(c.Node); err != nil {
		bad("node", "must be host:port: %v", err)
	}
	if _, _, err := net.SplitHostPort(c.IPFS); err != nil {
		bad("ipfs", "must be host:port: %v", err)
	}
	if c.DataDir == "" {
		bad("dataDir", "is required")
	}
	for msp, u := range c.Gateways {
		if pu, err := url.Parse(u); err != nil || pu.Scheme != "https" || pu.Host == "" {
			bad("gateways."+msp, "must be an https URL, got %q", u)
		}
	}
	if c.MaxBodyBytes < 1024 || c.MaxBodyBytes > 1<<30 {
		bad("maxBodyBytes", "must be between 1 KiB and 1 GiB")
	}
	if c.RequestTimeout < time.Second {
		bad("requestTimeout", "must be at least 1s")
	}
	if c.ReadTimeout < time.Second {
		bad("readTimeout", "must be at least 1s")
	}
	if c.ReadHeaderTimeout < 100*time.Millisecond || c.ReadHeaderTimeout > c.ReadTimeout {
		bad("readHeaderTimeout", "must be from 100ms to readTimeout")
	}
	if c.MaxHeaderBytes < 4<<10 || c.MaxHeaderBytes > 1<<20 {
		bad("maxHeaderBytes", "must be between 4 KiB and 1 MiB")
	}
	if c.MaxReplicationLag < time.Second {
		bad("maxReplicationLag", "must be at least 1s")
	}
	for name, t := range c.Templates {
		if _, err := parsePolicy(t.Policy); err != nil {
			bad("templates."+name+".policy", "%v", err)
		}
		if t.Validity <= 0 {
			bad("templates."+name+".validity", "must be positive")
		}
	}
	if c.DefaultTemplate != "" {
		if _, ok := c.Templates[c.DefaultTemplate]; !ok {
			bad("defaultTemplate", "names no template: %q", c.DefaultTemplate)
		}
	}
	a := c.Authority
	if a.Serve {
		if a.SigningKey == "" {
			bad("authority.signingKey", "is required when the gateway serves the authority")
		}
		if _, err := abe.New(a.Scheme); err != nil {
			bad("authority.scheme", "%v", err)
		}
		if a.CredentialValidity <= 0 {
			bad("authority.credentialValidity", "must be positive")
		}
	} else if a.URL != "" {
		if pu, err := url.Parse(a.URL); err != nil || pu.Scheme != "https" || pu.Host == "" {
			bad("authority.url", "must be an https URL, got %q", a.URL)
		}
		if _, ok := c.CAs[a.MSP]; a.MSP != "" && !ok {
			bad("authority.msp", "names no organisation of cas: %q", a.MSP)
		}
	} else {
		bad("authority", "either serve the authority (authority.serve) or name its gateway (authority.url)")
	}
	switch c.LogFormat {
	case "text", "json":
	default:
		bad("logFormat", "must be text or json")
	}
	return errors.Join(errs...)
}

// FieldError is a bad request field: its JSON path and what is wrong.
type FieldError struct {
	Field string
	Err   error
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Err.Error() }
func (e *FieldError) Unwrap() error { return e.Err }

// parsePolicy parses a record policy's three levels; an error is a
// *FieldError naming the level (policy.low, …).
func parsePolicy(p api.RecordPolicy) (*policy.Record, error) {
	var trees [policy.NumLevels]*policy.Tree
	for _, l := range []struct {
		lv  policy.Level
		src string
	}{{policy.Low, p.Low}, {policy.Medium, p.Medium}, {policy.High, p.High}} {
		if strings.TrimSpace(l.src) == "" {
			if l.lv == policy.Low {
				return nil, &FieldError{"policy.low", errors.New("the low level needs conditions")}
			}
			continue
		}
		t, err := policy.Parse(l.src)
		if err != nil {
			return nil, &FieldError{"policy." + l.lv.String(), err}
		}
		trees[l.lv] = t
	}
	rp, err := policy.NewRecord(trees[policy.Low], trees[policy.Medium], trees[policy.High])
	if err != nil {
		return nil, &FieldError{"policy", err}
	}
	return rp, nil
}
