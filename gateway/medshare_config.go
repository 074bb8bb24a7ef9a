package gateway

import (
	"fmt"
	"os"
	"slices"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/medshare/medshare/abe/policy"
	"github.com/medshare/medshare/chaincode/provenance"
	"github.com/medshare/medshare/gateway/deid"
	"github.com/medshare/medshare/gateway/grade"
)

// MedShareConfig configures the MeDShare packages an owner's gateway makes:
// the de-identification rules, the usage contract it attaches and how long
// a package may be used.
type MedShareConfig struct {
	// Rules is a de-identification rule file (gateway/deid's YAML); ""
	// uses the embedded rules (deid.DefaultRules).
	Rules string `yaml:"rules"`
	// Allowed are the actions a package permits (of read, write, delete,
	// duplicate, move, copy; "decrypted" always is).
	Allowed []string `yaml:"allowed"`
	// Ignored are actions the contract does not record, for packages on the
	// low sensitivity channel only (never "decrypted").
	Ignored []string `yaml:"ignored"`
	// Validity is how long a package may be used from its issue.
	Validity time.Duration `yaml:"validity"`
	// CacheSize bounds the opened records and prepared documents kept in
	// memory (never on disk) to answer repeated requests quickly.
	CacheSize int64 `yaml:"cacheSize"`
}

// DefaultMedShare is the default: packages permit reading and copying (an
// export out of the client) for 30 days; nothing is ignored.
func DefaultMedShare() MedShareConfig {
	return MedShareConfig{Allowed: []string{provenance.ActionRead, provenance.ActionCopy}, Validity: 30 * 24 * time.Hour, CacheSize: 64}
}

func (m MedShareConfig) validate() []error {
	var errs []error
	bad := func(field, format string, a ...any) {
		errs = append(errs, fmt.Errorf("medshare.%s: "+format, append([]any{field}, a...)...))
	}
	check := func(field string, actions []string) {
		for i, a := range actions {
			if provenance.MaskOf([]string{a}) == 0 || a == provenance.ActionDecrypted && field == "ignored" {
				bad(fmt.Sprintf("%s[%d]", field, i), "%q is not an action of read, write, delete, duplicate, move, copy", a)
			}
			if slices.Contains(actions[:i], a) {
				bad(fmt.Sprintf("%s[%d]", field, i), "lists %s twice", a)
			}
		}
	}
	check("allowed", m.Allowed)
	check("ignored", m.Ignored)
	if m.Validity < time.Minute || m.Validity > 10*365*24*time.Hour {
		bad("validity", "must be from 1m to 10 years")
	}
	if m.CacheSize < 1 || m.CacheSize > 1<<16 {
		bad("cacheSize", "must be from 1 to 65536")
	}
	return errs
}

// MedShare is what an owner's gateway needs to answer MeDShare requests:
// the de-identifier with its cache of prepared documents, the assembly of
// a record's opened levels into one document, the contract terms, and a
// cache of opened records (plaintext in memory only, keyed by record and
// version, so a recall — a new version — is never served from it).
type MedShare struct {
	Deid     *deid.Deidentifier
	Assemble func(opened [policy.NumLevels][]byte) ([]byte, error)
	Allowed  []string
	Ignored  []string
	Validity time.Duration

	prepared *deid.Cache
	opened   *lru.Cache[string, *openedRecord]
}

// NewMedShare builds the MeDShare part of a gateway from its configuration
// and the grading rules its records were graded with.
func NewMedShare(cfg MedShareConfig, grading *grade.Rules) (*MedShare, error) {
	if errs := cfg.validate(); len(errs) > 0 {
		return nil, errs[0]
	}
	rules := deid.DefaultRules()
	if cfg.Rules != "" {
		raw, err := os.ReadFile(cfg.Rules)
		if err != nil {
			return nil, fmt.Errorf("gateway: medshare.rules: %w", err)
		}
		if rules, err = deid.ParseRules(raw); err != nil {
			return nil, fmt.Errorf("gateway: medshare.rules: %w", err)
		}
	}
	d, err := deid.New(rules, grading)
	if err != nil {
		return nil, fmt.Errorf("gateway: medshare: %w", err)
	}
	prepared, err := deid.NewCache(d, int(cfg.CacheSize))
	if err != nil {
		return nil, err
	}
	opened, err := lru.New[string, *openedRecord](int(cfg.CacheSize))
	if err != nil {
		return nil, err
	}
	return &MedShare{Deid: d, Assemble: grade.Assemble, Allowed: slices.Clone(cfg.Allowed), Ignored: slices.Clone(cfg.Ignored),
		Validity: cfg.Validity, prepared: prepared, opened: opened}, nil
}
