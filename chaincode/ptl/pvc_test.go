package ptl_test

import (
	"fmt"
	"github.com/medshare/medshare/abe/credential"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/medshare/medshare/chaincode/ccerr"
	"github.com/medshare/medshare/chaincode/internal/cctest"
	"github.com/medshare/medshare/chaincode/ptl"
	"github.com/medshare/medshare/chaincode/storage"
	"github.com/medshare/medshare/network/chaincode/chaincodetest"
)

// TestAccessWindows checks windows across midnight, in zones east and west
// of UTC, and across a daylight saving change.
func TestAccessWindows(t *testing.T) {
	f := newFixture(t)
	utc := func(s string) time.Time {
		tm, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	night := []ptl.Window{{Days: []string{"fri"}, Start: "22:00", End: "06:00"}}
	office := []ptl.Window{{Days: []string{"mon", "tue", "wed", "thu", "fri"}, Start: "09:00", End: "17:00"}, {Days: []string{"sun"}, Start: "00:00", End: "24:00"}}
	tests := []struct {
		zone    string
		windows []ptl.Window
		at      string // UTC
		detail  string // "" when granted
	}{
		// New York in January is UTC-5. 2026-01-02 is a Friday.
		{"America/New_York", night, "2026-01-03T03:00:00Z", ""},                                                                          // Fri 22:00
		{"America/New_York", night, "2026-01-03T10:59:00Z", ""},                                                                          // Sat 05:59, after midnight
		{"America/New_York", night, "2026-01-03T11:00:00Z", "Saturday 06:00 in America/New_York is outside the policy's access windows"}, // closes at 06:00
		{"America/New_York", night, "2026-01-03T02:59:00Z", "Friday 21:59 in America/New_York is outside the policy's access windows"},   // Saturday in UTC, Friday there
		{"America/New_York", night, "2026-01-02T04:00:00Z", "Thursday 23:00 in America/New_York is outside the policy's access windows"}, // Friday in UTC, Thursday there
		{"America/New_York", night, "2026-01-04T04:00:00Z", "Saturday 23:00 in America/New_York is outside the policy's access windows"}, // not a Friday evening
		{"America/New_York", night, "2026-01-10T02:00:00Z", "Friday 21:00 in America/New_York is outside the policy's access windows"},   // EST: 21:00
		{"America/New_York", night, "2026-03-14T02:00:00Z", ""},                                                                          // same UTC clock in EDT: 22:00
		{"Asia/Tokyo", office, "2026-01-04T23:30:00Z", "Monday 08:30 in Asia/Tokyo is outside the policy's access windows"},              // Sunday in UTC, Monday there
		{"Asia/Tokyo", office, "2026-01-05T00:30:00Z", ""},                                                                               // Monday 09:30
		{"Asia/Tokyo", office, "2026-01-09T08:00:00Z", "Friday 17:00 in Asia/Tokyo is outside the policy's access windows"},              // end is exclusive
		{"Asia/Tokyo", office, "2026-01-04T14:59:00Z", ""},                                                                               // Sunday 23:59, whole day
		{"Asia/Tokyo", office, "2026-01-10T14:59:00Z", "Saturday 23:59 in Asia/Tokyo is outside the policy's access windows"},
	}
	for i, tt := range tests {
		t.Run(fmt.Sprintf("%s %s", tt.zone, tt.at), func(t *testing.T) {
			pol := f.Policy(doctor...)
			pol.TimeZone, pol.Windows = tt.zone, tt.windows
			f.L.SetTime(utc(tt.at))
			f.SetPolicy(f.H1, rec1, pol)
			u := f.NewUser(doctor...) // a fresh user each time: refusals count toward blocks
			d := f.Access(f.H1, f.NewProof(u, f.rec, doctor, nil))
			if tt.detail == "" {
				if !d.Granted {
					t.Fatalf("case %d refused: %s", i, d.Detail)
				}
				return
			}
			if d.Granted || d.Reason != ptl.ReasonOutsideWindow || d.Detail != tt.detail {
				t.Fatalf("decision = %s %q, want %q", d.Reason, d.Detail, tt.detail)
			}
		})
	}
}

func TestSetPolicyValidates(t *testing.T) {
	f := newFixture(t)
	f.Store(f.H2, recH2)
	good := f.Policy(doctor...)
	tests := []struct {
		name   string
		edit   func(p *ptl.PolicyInput)
		raw    string
		record string
		who    string
		want   string
	}{
		{name: "no tree", edit: func(p *ptl.PolicyInput) { p.HiddenPolicy = nil }, want: "policy.hiddenPolicy: is required: base64 of the hidden policy tree"},
		{name: "not a tree", edit: func(p *ptl.PolicyInput) { p.HiddenPolicy = []byte{9, 9} }, want: "policy.hiddenPolicy: is not a policy tree: policy: malformed encoding: unknown tree version 9"},
		{name: "names, not tags", edit: func(p *ptl.PolicyInput) { p.HiddenPolicy = append([]byte{1, 1, 10}, "role=nurse"...) }, want: "policy.hiddenPolicy: must have tags as leaves, not attribute names: hide it with the attribute authority's tag key"},
		{name: "bad notBefore", edit: func(p *ptl.PolicyInput) { p.NotBefore = "soon" }, want: "policy.notBefore: must be an RFC 3339 time between 1970 and 2200, such as 2026-01-02T15:04:05Z"},
		{name: "empty period", edit: func(p *ptl.PolicyInput) { p.NotAfter = p.NotBefore }, want: "policy.notAfter: must be after notBefore"},
		{name: "proof age", edit: func(p *ptl.PolicyInput) { p.MaxProofAge = "48h" }, want: `policy.maxProofAge: must be a duration such as "5m" between 1s and 24h0m0s`},
		{name: "windows without zone", edit: func(p *ptl.PolicyInput) {
			p.Windows = []ptl.Window{{Days: []string{"mon"}, Start: "08:00", End: "09:00"}}
		}, want: "policy.timeZone: must be an IANA time zone name such as Europe/Paris or UTC"},
		{name: "Local zone", edit: func(p *ptl.PolicyInput) { p.TimeZone = "Local" }, want: "policy.timeZone: must be an IANA time zone name such as Europe/Paris or UTC"},
		{name: "unknown zone", edit: func(p *ptl.PolicyInput) { p.TimeZone = "Mars/Olympus" }, want: `policy.timeZone: must be an IANA time zone name such as Europe/Paris or UTC; "Mars/Olympus" is unknown to the node's time zone database`},
		{name: "day name", edit: func(p *ptl.PolicyInput) {
			p.TimeZone, p.Windows = "UTC", []ptl.Window{{Days: []string{"monday"}, Start: "08:00", End: "09:00"}}
		}, want: `policy.windows[0].days: must name days as mon, tue, wed, thu, fri, sat, sun; got "monday"`},
		{name: "no days", edit: func(p *ptl.PolicyInput) { p.TimeZone, p.Windows = "UTC", []ptl.Window{{Start: "08:00", End: "09:00"}} }, want: "policy.windows[0].days: must have 1..7 entries, got 0"},
		{name: "hour 25", edit: func(p *ptl.PolicyInput) {
			p.TimeZone, p.Windows = "UTC", []ptl.Window{{Days: []string{"mon"}, Start: "25:00", End: "09:00"}}
		}, want: `policy.windows[0].start: must be a time of day "HH:MM" from 00:00 to 24:00`},
		{name: "minute 60", edit: func(p *ptl.PolicyInput) {
			p.TimeZone, p.Windows = "UTC", []ptl.Window{{Days: []string{"mon"}, Start: "08:00", End: "09:60"}}
		}, want: `policy.windows[0].end: must be a time of day "HH:MM" from 00:00 to 24:00`},
		{name: "sign", edit: func(p *ptl.PolicyInput) {
			p.TimeZone, p.Windows = "UTC", []ptl.Window{{Days: []string{"mon"}, Start: "+8:00", End: "09:00"}}
		}, want: `policy.windows[0].start: must be a time of day "HH:MM" from 00:00 to 24:00`},
		{name: "empty window", edit: func(p *ptl.PolicyInput) {
			p.TimeZone, p.Windows = "UTC", []ptl.Window{{Days: []string{"mon"}, Start: "09:00", End: "09:00"}}
		}, want: "policy.windows[0].end: must differ from start (use 00:00 to 24:00 for a whole day)"},
		{name: "start 24:00", edit: func(p *ptl.PolicyInput) {
			p.TimeZone, p.Windows = "UTC", []ptl.Window{{Days: []string{"mon"}, Start: "24:00", End: "09:00"}}
		}, want: "policy.windows[0].start: must be before 24:00"},
		{name: "too many windows", edit: func(p *ptl.PolicyInput) {
			p.TimeZone, p.Windows = "UTC", slices.Repeat([]ptl.Window{{Days: []string{"mon"}, Start: "08:00", End: "09:00"}}, 17)
		}, want: "policy.windows: must have 0..16 entries, got 17"},
		{name: "unknown field", raw: `{"hiddenPolicy":"AA==","owner":"me"}`, want: `policy: invalid JSON: unknown field "owner"`},
		{name: "not the owner", record: recH2, want: "caller: only the owner of record " + recH2 + " may set its policy"},
		{name: "no record", record: rec9, want: "chaincode storage: recordID: record " + rec9 + " does not exist on side-high"},
		{name: "bad record id", record: "rec 9", want: "recordID: must be 1..128 characters of [A-Za-z0-9._:-]"},
		{name: "admin", who: "admin", want: "caller: only client identities may set policies; the creator's role is admin"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := good
			if tt.edit != nil {
				tt.edit(&p)
			}
			raw := cctest.JSON(t, p)
			if tt.raw != "" {
				raw = tt.raw
			}
			record := rec1
			if tt.record != "" {
				record = tt.record
			}
			who := f.H1
			if tt.who == "admin" {
				who = f.Admin
			}
			_, err := f.L.Submit(who, ptl.Name, "SetPolicy", record, raw)
			cctest.WantErr(t, err, tt.want, nil)
		})
	}
	pol := cctest.Decode[ptl.Policy](t, f.Query(f.H2, ptl.Name, "GetPolicy", rec1))
	if pol.Version != 1 || pol.Owner != f.H1.ID() {
		t.Errorf("policy = v%d by %s", pol.Version, pol.Owner)
	}
	f.SetPolicy(f.H1, rec1, good)
	if pol := cctest.Decode[ptl.Policy](t, f.Query(f.H2, ptl.Name, "GetPolicy", rec1)); pol.Version != 2 {
		t.Errorf("policy version after an update = %d", pol.Version)
	}
}

func TestAccessRejectsBadArguments(t *testing.T) {
	f := newFixture(t)
	f.Store(f.H1, rec2) // no policy
	f.Store(f.H2, recH2)
	now := f.L.Now()
	p := f.proof(nil)
	args := func(edit func(p *ptl.Proof)) []string {
		q := f.proof(edit)
		return f.AccessArgs(q)
	}
	good := f.AccessArgs(p)
	with := func(i int, v string) []string {
		a := slices.Clone(good)
		a[i] = v
		return a
	}
	cid := "must be an IPFS CID: CIDv0 (\"Qm\" and 44 base58 characters) or CIDv1 in base32 (\"b\" and 58..127 characters of [a-z2-7])"
	tests := []struct {
		name string
		who  string
		args []string
		want string
	}{
		{"truncated JSON", "", with(0, "{"), "proof: invalid JSON: unexpected EOF"},
		{"unknown field", "", with(0, `{"recordID":"`+rec1+`","x":1}`), `proof: invalid JSON: unknown field "x"`},
		{"record id", "", args(func(p *ptl.Proof) { p.RecordID = "" }), "proof.recordID: must be 1..128 characters of [A-Za-z0-9._:-]"},
		{"time", "", with(0, strings.Replace(good[0], now.Format(time.RFC3339Nano), "noon", 1)), "proof.time: must be an RFC 3339 time between 1970 and 2200, such as 2026-01-02T15:04:05Z"},
		{"policy version", "", args(func(p *ptl.Proof) { p.PolicyVersion = 0 }), "proof.policyVersion: must be the version of the record's policy the proof was made for (at least 1)"},
		{"key", "", args(func(p *ptl.Proof) { p.Key = []byte("not a key") }), "proof.key: must be the PKIX DER encoding of an ECDSA P-256 public key"},
		{"user", "", args(func(p *ptl.Proof) { p.User = cctest.B64(p.Key) }), "proof.user: must be a user id: the identity hash of the user's enrolled identity, 32 lowercase hexadecimal characters"},
		{"no enrolment", "", args(func(p *ptl.Proof) { p.Enrolment = nil }), "proof.enrolment: must be 8..72 bytes, got 0"},
		{"address", "", args(func(p *ptl.Proof) { p.Address = "ipfs://x" }), "proof.address: " + cid},
		{"other address", "", args(func(p *ptl.Proof) { p.Address = cctest.CID("elsewhere") }), "proof.address: is not the current address of record " + rec1 + " (version 1)"},
		{"nonce", "", args(func(p *ptl.Proof) { p.Nonce = []byte{1, 2, 3} }), "proof.nonce: must be 16..64 bytes, got 3"},
		{"disclosure", "", args(func(p *ptl.Proof) { p.Disclosure = nil }), fmt.Sprintf("proof.disclosure: must be 1..%d bytes, got 0", credential.MaxDisclosureLen)},
		{"no signature", "", with(0, strings.Replace(good[0], `"signature":"`+cctest.B64(p.Signature)+`"`, `"signature":""`, 1)), "proof.signature: must be 8..72 bytes, got 0"},
		{"stamp", "", with(1, "now"), "stamp: must be an RFC 3339 time between 1970 and 2200, such as 2026-01-02T15:04:05Z"},
		{"stamp skew", "", with(1, now.Add(time.Minute).Format(time.RFC3339)), "stamp: must be within 30s of the transaction time 2026-01-01T00:00:00Z, got 2026-01-01T00:01:00Z"},
		{"a third argument (sign_DO is the transaction signature)", "", append(slices.Clone(good), "c2lnbg=="), "Incorrect number of params. Expected 2, received 3"},
		{"another hospital", "h2", f.AccessArgs(p), "caller: only the owner of record " + rec1 + " may submit access transactions for it"},
		{"admin", "admin", f.AccessArgs(p), "caller: only client identities may submit access transactions; the creator's role is admin"},
		{"no record", "", args(func(p *ptl.Proof) { p.RecordID = rec9 }), "chaincode storage: recordID: record " + rec9 + " does not exist on side-high"},
		{"no policy", "", f.AccessArgs(f.NewProof(f.user, cctest.Decode[storage.Record](t, f.Query(f.H1, storage.Name, "GetRecord", rec2)), doctor, nil)), "recordID: record " + rec2 + " has no access policy on side-high; its owner must call SetPolicy"},
	}
	before := len(f.L.Store().Keys(ptl.Name, ""))
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			who := f.H1
			switch tt.who {
			case "h2":
				who = f.H2
			case "admin":
				who = f.Admin
			}
			_, err := f.L.Submit(who, ptl.Name, "Access", tt.args...)
			cctest.WantErr(t, err, tt.want, nil)
		})
	}
	if after := len(f.L.Store().Keys(ptl.Name, "")); after != before {
		t.Errorf("failed accesses wrote %d keys", after-before)
	}
	// After an update the old address is refused.
	f.Must(f.H1, "storage", "Store", f.StoreArgs(f.H1, rec1, 2, "v2")...)
	_, err := f.L.Submit(f.H1, ptl.Name, "Access", good...)
	cctest.WantErr(t, err, "proof.address: is not the current address of record "+rec1+" (version 2)", ccerr.ErrInvalidArgument)
}

func TestNoFunctionRunsBeforeInit(t *testing.T) {
	l := chaincodetest.New("side-high")
	cctest.Deploy(t, l, ptl.Name, ptl.New)
	u := chaincodetest.NewOrg(t, "H1MSP").Client(t, "u", nil)
	for _, call := range [][]string{
		{"Access", "{}", ""}, {"SetPolicy", rec1, "{}"}, {"GetPolicy", rec1}, {"Regrant", "u", "*"},
		{"Recall", "u", "*", ""}, {"RevokeForViolation", "r", "1"}, {"RegrantRequest", "r", "1"}, {"RecallRequest", "r", "1"},
		{"Status", "u", rec1}, {"ListAccessLog", rec1, "1", ""}, {"ListUserLog", "u", "1", ""}, {"CheckEnrolment", "k", "u", "s"},
		{"ListAccesses", rec1, "1", ""}, {"ListViolations", "*", "1", ""}, {"ListBlocks", "", "1", ""}, {"GetConfig"},
	} {
		_, err := l.Submit(u, ptl.Name, call[0], call[1:]...)
		cctest.WantErr(t, err, "ptl is not initialised on this channel: the channel admin must call Init first", ccerr.ErrNotInitialised)
	}
	// Without the lifecycle, Init cannot run at all.
	_, err := l.Submit(chaincodetest.NewOrg(t, "H1MSP").Admin(t, "a"), ptl.Name, "Init", "{}")
	cctest.WantErr(t, err, "config.level: must be one of high, medium, low", ccerr.ErrInvalidArgument)
}

func TestInitConfig(t *testing.T) {
	f := newFixture(t)
	cfg := cctest.Decode[ptl.Config](t, f.Query(f.H1, ptl.Name, "GetConfig"))
	if cfg.Monitor.RecordThreshold != 3 || cfg.DefaultMaxProofAge != "5m" {
		t.Errorf("config = %+v", cfg)
	}
	min := fmt.Sprintf(`{"level":"high","aaPublicKey":%q}`, cctest.B64(f.AA.DER))
	f.MustConfigure(ptl.Name, min)
	filled := cctest.Decode[ptl.Config](t, f.Query(f.H1, ptl.Name, "GetConfig"))
	if filled.MaxClockSkew != "30s" || filled.Monitor.Window != "1h" || filled.Monitor.RecordThreshold != 3 || filled.Monitor.RatePeriod != "1m" || filled.Monitor.OwnerThreshold != 0 {
		t.Errorf("defaults = %+v", filled)
	}
	tests := []struct{ cfg, want string }{
		{`{"level":"high"}`, "config.aaPublicKey: must be 1..256 bytes, got 0"},
		{`{"level":"high","aaPublicKey":"AAAA"}`, "config.aaPublicKey: must be the PKIX DER encoding of an ECDSA P-256 public key"},
		{`{"level":"low","aaPublicKey":` + fmt.Sprintf("%q", cctest.B64(f.AA.DER)) + `}`, "config.level: cannot change from high to low once set"},
		{strings.Replace(min, "}", `,"monitor":{"recordThreshold":101}}`, 1), "config.monitor.recordThreshold: must be 1..100"},
		{strings.Replace(min, "}", `,"monitor":{"ownerThreshold":-1}}`, 1), "config.monitor.ownerThreshold: must be 0 (off) or 1..100"},
		{strings.Replace(min, "}", `,"monitor":{"window":"0s"}}`, 1), `config.monitor.window: must be a duration such as "5m" between 1s and 8760h0m0s`},
		{strings.Replace(min, "}", `,"maxClockSkew":"1h"}`, 1), `config.maxClockSkew: must be a duration such as "5m" between 0s and 10m0s`},
		{strings.Replace(min, "}", `,"auditors":["x509::a::b","x509::a::b"]}`, 1), `config.auditors[1]: names x509::a::b twice`},
	}
	for _, tt := range tests {
		err := f.Configure(ptl.Name, tt.cfg)
		cctest.WantErr(t, err, "lifecycle: init of ptl: chaincode ptl: "+tt.want, ccerr.ErrInvalidArgument)
	}
}
