package ptl

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/medshare/medshare/abe/policy"
	"github.com/medshare/medshare/chaincode/ccerr"
	"github.com/medshare/medshare/chaincode/internal/arg"
	"github.com/medshare/medshare/chaincode/internal/caller"
	"github.com/medshare/medshare/chaincode/internal/invoke"
	"github.com/medshare/medshare/chaincode/internal/kv"
	"github.com/medshare/medshare/chaincode/internal/setup"
	"github.com/medshare/medshare/chaincode/storage"
	"github.com/medshare/medshare/network/chaincode"
)

// Limits on policies.
const (
	// MaxWindows bounds the access windows of a policy.
	MaxWindows = 16
	// MaxPolicyLen bounds the SetPolicy argument.
	MaxPolicyLen = 128 << 10
)

// PolicyInput is the SetPolicy argument: what the owner decides.
type PolicyInput struct {
	// HiddenPolicy is the record's access tree for this channel's level as
	// policy.Tree.MarshalBinary encodes it, in base64, with tags (not
	// attribute names) as leaves. The tree of a level already includes the
	// conditions of the levels below it.
	HiddenPolicy []byte `json:"hiddenPolicy"`
	// NotBefore and NotAfter bound the policy's validity period
	// [NotBefore, NotAfter), RFC 3339.
	NotBefore string `json:"notBefore"`
	NotAfter  string `json:"notAfter"`
	// MaxProofAge is the oldest proof accepted ("2m"); "" takes the
	// channel's default.
	MaxProofAge string `json:"maxProofAge,omitempty"`
	// TimeZone is the IANA zone the windows are stated in ("Europe/Paris");
	// required with windows.
	TimeZone string `json:"timeZone,omitempty"`
	// Windows are the times access is allowed; none means any time.
	Windows []Window `json:"windows,omitempty"`
}

// Window is a weekly access window in the policy's time zone.
type Window struct {
	// Days are the days the window opens: "mon" … "sun".
	Days []string `json:"days"`
	// Start and End are wall-clock times "HH:MM"; End may be "24:00". When
	// End is not after Start the window runs past midnight and closes at End
	// on the next day (a "fri" 22:00–06:00 window covers Friday 22:00 to
	// Saturday 06:00).
	Start string `json:"start"`
	End   string `json:"end"`
}

// Policy is a record's stored policy.
type Policy struct {
	PolicyInput
	// RecordID is the record the policy is for; Owner its owner.
	RecordID string `json:"recordID"`
	Owner    string `json:"owner"`
	// Version grows by one with each SetPolicy.
	Version uint64 `json:"version"`
	// SetAt and TxID say when and by which transaction it was set.
	SetAt time.Time `json:"setAt"`
	TxID  string    `json:"txID"`
}

// compiled is a policy ready to evaluate.
type compiled struct {
	tree        *policy.Tree
	notBefore   time.Time
	notAfter    time.Time
	maxProofAge time.Duration // 0: the channel's default
	loc         *time.Location
	windows     []window
}

// window is a Window in minutes of the day, with a day mask (bit = weekday).
type window struct {
	days       uint8
	start, end int
}

var dayNames = [7]string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}

func parseClock(name, s string) (int, error) {
	digit := func(i int) int { return int(s[i] - '0') }
	if len(s) != 5 || s[2] != ':' {
		return 0, ccerr.Invalid(name, "must be a time of day \"HH:MM\" from 00:00 to 24:00")
	}
	for _, i := range []int{0, 1, 3, 4} {
		if s[i] < '0' || s[i] > '9' {
			return 0, ccerr.Invalid(name, "must be a time of day \"HH:MM\" from 00:00 to 24:00")
		}
	}
	h, m := digit(0)*10+digit(1), digit(3)*10+digit(4)
	if m > 59 || h > 24 || (h == 24 && m != 0) {
		return 0, ccerr.Invalid(name, "must be a time of day \"HH:MM\" from 00:00 to 24:00")
	}
	return h*60 + m, nil
}

// location loads an IANA zone, caching successes.
func (c *PTL) location(name string) (*time.Location, error) {
	c.zoneMu.Lock()
	loc, ok := c.zones[name]
	c.zoneMu.Unlock()
	if ok {
		return loc, nil
	}
	// "Local" and "" would depend on the node's own settings.
	if name == "" || name == "Local" || len(name) > 64 || strings.Contains(name, "..") {
		return nil, ccerr.Invalid("policy.timeZone", "must be an IANA time zone name such as Europe/Paris or UTC")
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, ccerr.Invalid("policy.timeZone", "must be an IANA time zone name such as Europe/Paris or UTC; %q is unknown to the node's time zone database", name)
	}
	c.zoneMu.Lock()
	c.zones[name] = loc
	c.zoneMu.Unlock()
	return loc, nil
}

// compile checks a policy input and prepares it for evaluation.
func (c *PTL) compile(in *PolicyInput) (*compiled, error) {
	if len(in.HiddenPolicy) == 0 {
		return nil, ccerr.Invalid("policy.hiddenPolicy", "is required: base64 of the hidden policy tree")
	}
	tree, err := policy.Unmarshal(in.HiddenPolicy)
	if err != nil {
		return nil, ccerr.Invalid("policy.hiddenPolicy", "is not a policy tree: %v", err)
	}
	if !tree.Hidden() {
		return nil, ccerr.Invalid("policy.hiddenPolicy", "must have tags as leaves, not attribute names: hide it with the attribute authority's tag key")
	}
	p := &compiled{tree: tree}
	if p.notBefore, err = arg.Time("policy.notBefore", in.NotBefore); err != nil {
		return nil, err
	}
	if p.notAfter, err = arg.Time("policy.notAfter", in.NotAfter); err != nil {
		return nil, err
	}
	if !p.notBefore.Before(p.notAfter) {
		return nil, ccerr.Invalid("policy.notAfter", "must be after notBefore")
	}
	if in.MaxProofAge != "" {
		if p.maxProofAge, err = arg.Duration("policy.maxProofAge", in.MaxProofAge, time.Second, 24*time.Hour); err != nil {
			return nil, err
		}
	}
	if err := arg.Count("policy.windows", len(in.Windows), 0, MaxWindows); err != nil {
		return nil, err
	}
	if len(in.Windows) > 0 || in.TimeZone != "" {
		if p.loc, err = c.location(in.TimeZone); err != nil {
			return nil, err
		}
	}
	for i, w := range in.Windows {
		name := fmt.Sprintf("policy.windows[%d]", i)
		var cw window
		if err := arg.Count(name+".days", len(w.Days), 1, 7); err != nil {
			return nil, err
		}
		for _, d := range w.Days {
			found := false
			for n, dn := range dayNames {
				if d == dn {
					cw.days |= 1 << n
					found = true
				}
			}
			if !found {
				return nil, ccerr.Invalid(name+".days", "must name days as mon, tue, wed, thu, fri, sat, sun; got %q", d)
			}
		}
		if cw.start, err = parseClock(name+".start", w.Start); err != nil {
			return nil, err
		}
		if cw.end, err = parseClock(name+".end", w.End); err != nil {
			return nil, err
		}
		if cw.start == cw.end {
			return nil, ccerr.Invalid(name+".end", "must differ from start (use 00:00 to 24:00 for a whole day)")
		}
		if cw.start == 24*60 {
			return nil, ccerr.Invalid(name+".start", "must be before 24:00")
		}
		p.windows = append(p.windows, cw)
	}
	return p, nil
}

// period describes why t lies outside the policy's validity period, or is
// "" when it lies inside.
func (p *compiled) period(t time.Time) string {
	if t.Before(p.notBefore) {
		return "the policy is valid from " + p.notBefore.Format(time.RFC3339)
	}
	if !t.Before(p.notAfter) {
		return "the policy expired at " + p.notAfter.Format(time.RFC3339)
	}
	return ""
}

// inWindow reports whether t falls in one of the windows. With no windows
// every time does.
func (p *compiled) inWindow(t time.Time) bool {
	if len(p.windows) == 0 {
		return true
	}
	local := t.In(p.loc)
	day := uint8(local.Weekday())
	prev := (day + 6) % 7
	mins := local.Hour()*60 + local.Minute()
	for _, w := range p.windows {
		if w.start < w.end {
			if w.days&(1<<day) != 0 && mins >= w.start && mins < w.end {
				return true
			}
			continue
		}
		// Past midnight: the evening of an opening day, or the early hours
		// of the day after one.
		if w.days&(1<<day) != 0 && mins >= w.start || w.days&(1<<prev) != 0 && mins < w.end {
			return true
		}
	}
	return false
}

func policyKey(stub chaincode.Stub, recordID string) (string, error) {
	return stub.CreateCompositeKey(objPolicy, []string{recordID})
}

// cachedPolicy is a stored policy, decoded and compiled.
type cachedPolicy struct {
	policy   Policy
	compiled *compiled
}

// loadPolicy returns a record's policy and its compiled form, or nil. The
// compiled form is shared; the policy is the caller's copy.
func (c *PTL) loadPolicy(stub chaincode.Stub, recordID string) (*Policy, *compiled, error) {
	key, err := policyKey(stub, recordID)
	if err != nil {
		return nil, nil, err
	}
	b, err := stub.GetState(key)
	if err != nil || b == nil {
		return nil, nil, err
	}
	sum := sha256.Sum256(b)
	if cp, ok := c.policies.Get(sum); ok {
		p := cp.policy
		return &p, cp.compiled, nil
	}
	var p Policy
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, nil, fmt.Errorf("policy of %s: stored value is unreadable: %w", recordID, err)
	}
	cp, err := c.compile(&p.PolicyInput)
	if err != nil {
		return nil, nil, fmt.Errorf("policy of %s: stored policy is invalid: %w", recordID, err)
	}
	c.policies.Add(sum, &cachedPolicy{policy: p, compiled: cp})
	return &p, cp, nil
}

// ownedRecord reads a record from the storage chaincode and checks that the
// caller owns it. The record is shared (decoded once per exact result):
// callers must not modify it.
func (c *PTL) ownedRecord(ctx chaincode.TransactionContext, who *caller.Caller, recordID, what string) (*storage.Record, error) {
	if err := arg.ID("recordID", recordID); err != nil {
		return nil, err
	}
	rec, err := invoke.CallCached(ctx.GetStub(), c.records, storageName, "GetRecord", recordID)
	if err != nil {
		return nil, err
	}
	if rec.Owner != who.ID {
		return nil, ccerr.Forbidden("caller", "only the owner of record %s may %s", recordID, what)
	}
	return rec, nil
}

// SetPolicy sets the access policy of a record the caller owns (a JSON
// PolicyInput) and returns it with its new version. It emits PolicySet.
func (c *PTL) SetPolicy(ctx chaincode.TransactionContext, recordID, policyJSON string) (*Policy, error) {
	_, who, err := c.cfg.Client(ctx, "set policies")
	if err != nil {
		return nil, err
	}
	if len(policyJSON) > MaxPolicyLen {
		return nil, ccerr.Invalid("policy", "must be at most %d bytes of JSON", MaxPolicyLen)
	}
	var in PolicyInput
	if err := setup.DecodeStrict("policy", []byte(policyJSON), &in); err != nil {
		return nil, err
	}
	if _, err := c.compile(&in); err != nil {
		return nil, err
	}
	if _, err := c.ownedRecord(ctx, who, recordID, "set its policy"); err != nil {
		return nil, err
	}
	stub := ctx.GetStub()
	prev, _, err := c.loadPolicy(stub, recordID)
	if err != nil {
		return nil, err
	}
	now, err := stub.GetTxTimestamp()
	if err != nil {
		return nil, err
	}
	p := &Policy{PolicyInput: in, RecordID: recordID, Owner: who.ID, Version: 1, SetAt: now, TxID: stub.GetTxID()}
	if prev != nil {
		p.Version = prev.Version + 1
	}
	b, err := json.Marshal(p)
	if err != nil {
		return nil, err
	}
	key, err := policyKey(stub, recordID)
	if err != nil {
		return nil, err
	}
	if err := stub.PutState(key, b); err != nil {
		return nil, err
	}
	return p, kv.Emit(stub, EventPolicySet, map[string]any{"recordID": recordID, "version": p.Version, "txID": p.TxID})
}

// GetPolicy returns a record's policy. Any channel member may read it: its
// leaves are tags, which data users match against their credential to
// choose what to disclose.
func (c *PTL) GetPolicy(ctx chaincode.TransactionContext, recordID string) (*Policy, error) {
	if _, err := c.cfg.Load(ctx); err != nil {
		return nil, err
	}
	if err := arg.ID("recordID", recordID); err != nil {
		return nil, err
	}
	p, _, err := c.loadPolicy(ctx.GetStub(), recordID)
	if err != nil {
		return nil, err
	}
	if p == nil {
		return nil, noPolicy(ctx.GetStub(), recordID)
	}
	return p, nil
}

func noPolicy(stub chaincode.Stub, recordID string) error {
	return ccerr.NotFound("recordID", "record %s has no access policy on %s; its owner must call SetPolicy", recordID, stub.GetChannelID())
}
