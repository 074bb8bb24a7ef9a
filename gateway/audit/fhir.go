package audit

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/google/fhir/go/fhirversion"
	"github.com/google/fhir/go/jsonformat"
	cpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/codes_go_proto"
	dtpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/datatypes_go_proto"
	aepb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/audit_event_go_proto"
	provpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/provenance_go_proto"
	"github.com/medshare/medshare/gateway/deid"
)

// Config configures the FHIR mapping.
type Config struct {
	// Base prefixes the identifier systems and code systems of medshare's
	// own names (identities, key-hashes, records, packages, transactions,
	// roles, actions, reasons): Base + ":identity" for a URN base,
	// Base + "/identity" for a URL. It must be an absolute URI without a
	// trailing ":" or "/"; "urn:medshare" by default. A consortium that owns
	// a domain may use "https://…/fhir/sid".
	Base string
}

// DefaultConfig returns the default configuration.
func DefaultConfig() Config { return Config{Base: "urn:medshare"} }

// Validate checks the configuration.
func (c Config) Validate() error {
	if c.Base == "" || !strings.Contains(c.Base, ":") || strings.HasSuffix(c.Base, ":") ||
		strings.HasSuffix(c.Base, "/") || strings.ContainsAny(c.Base, " \t\n\"") {
		return fmt.Errorf("audit: config: base %q must be an absolute URI without a trailing separator", truncate(c.Base, 64))
	}
	return nil
}

// Converter turns trail entries into FHIR R4 resources (AuditEvent,
// Provenance, Bundle), built with google/fhir's R4 models and marshalled by
// its JSON marshaller. It is safe for concurrent use.
type Converter struct {
	cfg Config
	m   *jsonformat.Marshaller
}

// New returns a Converter.
func New(cfg Config) (*Converter, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	m, err := jsonformat.NewMarshaller(false, "", "", fhirversion.R4)
	if err != nil {
		return nil, fmt.Errorf("audit: FHIR marshaller: %w", err)
	}
	return &Converter{cfg: cfg, m: m}, nil
}

// sys names a system under the base: "urn:medshare:record",
// "https://…/sid/record".
func (c *Converter) sys(name string) string {
	if strings.HasPrefix(c.cfg.Base, "urn:") {
		return c.cfg.Base + ":" + name
	}
	return c.cfg.Base + "/" + name
}

// Identifier and code systems under Config.Base.
const (
	SysIdentity  = "identity"  // certificate identities (x509::subject::issuer)
	SysKeyHash   = "key-hash"  // user keys
	SysMSP       = "msp"       // organisations
	SysNode      = "node"      // ledger nodes
	SysRecord    = "record"    // record ids
	SysPackage   = "package"   // package data ids
	SysRequest   = "request"   // MeDShare request ids
	SysTx        = "tx"        // ledger transactions: "<channel>/<txID>"
	SysRole      = "role"      // Role codes
	SysAction    = "action"    // reported actions
	SysReason    = "reason"    // violation and refusal reasons
	SysControl   = "control"   // revoke, regrant, recall
	ExtLedgerTx  = "ledger-tx" // extension: the transaction holding a signature
	ExtLedgerBlk = "ledger-block"
)

// AuditEvents converts an entry into AuditEvents (JSON), following the IHE
// Basic Audit Log Patterns: one per entry, one per action for a report.
func (c *Converter) AuditEvents(e *Entry) ([][]byte, error) {
	evs, err := c.auditEvents(e)
	if err != nil {
		return nil, err
	}
	out := make([][]byte, len(evs))
	for i, ev := range evs {
		if out[i], err = c.m.MarshalResource(ev); err != nil {
			return nil, fmt.Errorf("audit: marshal AuditEvent: %w", err)
		}
	}
	return out, nil
}

// Provenance converts an upload or a request (package) entry into a
// Provenance (JSON); ok is false for the other kinds, which have none.
func (c *Converter) Provenance(e *Entry) (doc []byte, ok bool, err error) {
	p, err := c.provenance(e)
	if err != nil || p == nil {
		return nil, false, err
	}
	doc, err = c.m.MarshalResource(p)
	if err != nil {
		return nil, false, fmt.Errorf("audit: marshal Provenance: %w", err)
	}
	return doc, true, nil
}

func (c *Converter) auditEvents(e *Entry) ([]*aepb.AuditEvent, error) {
	if err := e.Validate(); err != nil {
		return nil, err
	}
	if e.Kind == KindReport {
		out := make([]*aepb.AuditEvent, len(e.Actions))
		for i := range e.Actions {
			out[i] = c.reportEvent(e, i)
		}
		return out, nil
	}
	ev := c.base(e, 0)
	switch e.Kind {
	case KindUpload:
		ev.Type = coding(typeRest)
		sub, act, lc := subCreate, cpb.AuditEventActionCode_C, lcOriginate
		if e.Version > 1 {
			sub, act, lc = subUpdate, cpb.AuditEventActionCode_U, lcAmend
		}
		ev.Subtype = []*dtpb.Coding{coding(sub)}
		ev.Action = &aepb.AuditEvent_ActionCode{Value: act}
		ev.Agent = c.agents(agent{e.Actor, roleCustodian, true}, agent{e.Submitter, roleSource, false})
		ev.Entity = c.recordEntities(e, lc)
	case KindAccess:
		ev.Type = coding(typeRest)
		ev.Subtype = []*dtpb.Coding{coding(subRead)}
		ev.Action = &aepb.AuditEvent_ActionCode{Value: cpb.AuditEventActionCode_R}
		ev.Agent = c.agents(agent{e.Actor, roleRecipient, true}, agent{e.Submitter, roleSource, false})
		ev.Entity = c.recordEntities(e, lcAccess)
	case KindRequest, KindDelivery:
		ev.Type = coding(typeExport)
		lc := lcDisclose
		if e.Kind == KindDelivery {
			lc = lcTransmit
		}
		ev.Subtype = []*dtpb.Coding{coding(lc)}
		ev.Action = &aepb.AuditEvent_ActionCode{Value: cpb.AuditEventActionCode_R}
		ev.Agent = c.agents(agent{e.Subject, roleDestination, true}, agent{e.Actor, roleSource, false}, agent{e.Submitter, roleApplication, false})
		if e.Kind == KindRequest {
			ev.Entity = c.recordEntities(e, lcDisclose)
			if !e.Received.IsZero() && !e.Sent.IsZero() {
				ev.Period = &dtpb.Period{Start: dateTime(e.Received), End: dateTime(e.Sent)}
			}
		}
		ev.Entity = append(ev.Entity, c.packageEntity(e, lc))
	case KindViolation:
		ev.Type = coding(typeSecurity)
		ev.Subtype = []*dtpb.Coding{c.code(SysReason, e.Reason, "")}
		if e.Reason == "forbidden_action" {
			ev.Subtype = append([]*dtpb.Coding{coding(subRestricted)}, ev.Subtype...)
		}
		ev.Action = &aepb.AuditEvent_ActionCode{Value: cpb.AuditEventActionCode_E}
		ev.Agent = c.agents(agent{e.Actor, roleRecipient, true}, agent{e.Submitter, roleSource, false})
		ev.Entity = c.recordEntities(e, code{})
		if e.PackageID != "" {
			ev.Entity = append(ev.Entity, c.packageEntity(e, code{}))
		}
	case KindRevocation, KindRegrant, KindRecall:
		ev.Type = coding(typeSecurity)
		ev.Subtype = []*dtpb.Coding{coding(subUserAttrs), c.code(SysControl, controlCode(e.Kind), "")}
		ev.Action = &aepb.AuditEvent_ActionCode{Value: cpb.AuditEventActionCode_E}
		ev.Agent = c.agents(agent{e.Actor, roleApplication, true}, agent{e.Subject, roleRecipient, false})
		ev.Entity = c.recordEntities(e, code{})
		if e.RequestID != "" && e.PackageID != "" {
			ev.Entity = append(ev.Entity, c.packageEntity(e, code{}))
		}
	}
	return []*aepb.AuditEvent{ev}, nil
}

func controlCode(k Kind) string {
	switch k {
	case KindRegrant:
		return "regrant"
	case KindRecall:
		return "recall"
	}
	return "revoke"
}

// base fills what every AuditEvent has: id, recorded, outcome, source,
// purpose of event.
func (c *Converter) base(e *Entry, i int) *aepb.AuditEvent {
	ev := &aepb.AuditEvent{
		Id:       &dtpb.Id{Value: ResourceID("AuditEvent", e.Channel, e.TxID, string(e.Kind), strconv.Itoa(i))},
		Recorded: instant(e.Time),
		Outcome:  &aepb.AuditEvent_OutcomeCode{Value: outcomeCode(e.Outcome)},
		Source: &aepb.AuditEvent_Source{
			Site:     str(e.Channel),
			Observer: c.ref("Device", SysNode, e.Node, e.Node),
			Type:     []*dtpb.Coding{coding(sourceAppServer)},
		},
	}
	if e.Outcome != Success {
		desc := e.Reason
		if e.Detail != "" {
			desc += ": " + e.Detail
		}
		ev.OutcomeDesc = str(desc)
	}
	if e.Purpose != "" {
		ev.PurposeOfEvent = []*dtpb.CodeableConcept{purpose(e.Purpose)}
	}
	return ev
}

func outcomeCode(o Outcome) cpb.AuditEventOutcomeCode_Value {
	switch o {
	case Refused:
		return cpb.AuditEventOutcomeCode_MINOR_FAILURE
	case Failed:
		return cpb.AuditEventOutcomeCode_SERIOUS_FAILURE
	}
	return cpb.AuditEventOutcomeCode_SUCCESS
}

// reportEvent is the AuditEvent of action i of a report.
func (c *Converter) reportEvent(e *Entry, i int) *aepb.AuditEvent {
	a := e.Actions[i]
	ac := actionCodes[a.Name]
	ev := c.base(e, i)
	ev.Type = coding(typeRecord)
	ev.Subtype = []*dtpb.Coding{coding(ac.lifecycle), c.code(SysAction, a.Name, "")}
	ev.Action = &aepb.AuditEvent_ActionCode{Value: actionValue(ac.action)}
	ev.Period = &dtpb.Period{Start: dateTime(a.At), End: dateTime(a.At)}
	ev.Agent = c.agents(agent{e.Actor, roleRecipient, true}, agent{e.Submitter, roleApplication, false})
	pe := c.packageEntity(e, ac.lifecycle)
	pe.Detail = append(pe.Detail, detail("status", a.Status), detail("seq", strconv.FormatUint(e.Seq, 10)))
	if e.SideBlock != "" {
		pe.Detail = append(pe.Detail, detail("sideBlock", e.SideBlock))
	}
	ev.Entity = []*aepb.AuditEvent_Entity{pe}
	return ev
}

func actionValue(a string) cpb.AuditEventActionCode_Value {
	switch a {
	case "C":
		return cpb.AuditEventActionCode_C
	case "U":
		return cpb.AuditEventActionCode_U
	case "D":
		return cpb.AuditEventActionCode_D
	}
	return cpb.AuditEventActionCode_R
}

type agent struct {
	p         Party
	typ       code
	requestor bool
}

// agents converts the parties present (in order).
func (c *Converter) agents(as ...agent) []*aepb.AuditEvent_Agent {
	var out []*aepb.AuditEvent_Agent
	for _, a := range as {
		if a.p.empty() {
			continue
		}
		ag := &aepb.AuditEvent_Agent{
			Type:      &dtpb.CodeableConcept{Coding: []*dtpb.Coding{coding(a.typ)}},
			Who:       c.party(a.p),
			Requestor: &dtpb.Boolean{Value: a.requestor},
		}
		if a.p.Role != "" {
			ag.Role = []*dtpb.CodeableConcept{{Coding: []*dtpb.Coding{c.code(SysRole, string(a.p.Role), "")}}}
		}
		if a.p.Name != "" {
			ag.Name = str(a.p.Name)
		}
		if a.p.KeyHash != "" && a.p.ID != "" {
			ag.AltId = str(a.p.KeyHash)
		}
		out = append(out, ag)
	}
	return out
}

// party is a logical reference to a party: its certificate identity or its
// key-hash, with its organisation as display.
func (c *Converter) party(p Party) *dtpb.Reference {
	sys, v := SysIdentity, p.ID
	if v == "" {
		sys, v = SysKeyHash, p.KeyHash
	}
	display := p.Name
	if display == "" {
		display = p.MSP
	} else if p.MSP != "" {
		display += " (" + p.MSP + ")"
	}
	return c.ref("", sys, v, display)
}

func (c *Converter) recordEntities(e *Entry, lc code) []*aepb.AuditEvent_Entity {
	var out []*aepb.AuditEvent_Entity
	for _, id := range e.RecordIDs {
		ent := &aepb.AuditEvent_Entity{
			What: c.ref("DocumentReference", SysRecord, id, ""),
			Type: coding(entitySystemObject),
			Role: coding(objectDomain),
		}
		if lc.code != "" {
			ent.Lifecycle = coding(lc)
		}
		ent.Detail = c.txDetails(e)
		if e.Version > 0 {
			ent.Detail = append(ent.Detail, detail("version", strconv.FormatUint(e.Version, 10)))
		}
		if e.Level != "" {
			ent.Detail = append(ent.Detail, detail("level", e.Level))
		}
		if e.AccessID != "" {
			ent.Detail = append(ent.Detail, detail("accessID", e.AccessID))
		}
		if e.Scope != "" {
			ent.Detail = append(ent.Detail, detail("scope", e.Scope))
		}
		out = append(out, ent)
	}
	return out
}

func (c *Converter) packageEntity(e *Entry, lc code) *aepb.AuditEvent_Entity {
	ent := &aepb.AuditEvent_Entity{
		What: c.ref("", SysPackage, e.PackageID, ""),
		Type: coding(entitySystemObject),
		Role: coding(objectReport),
	}
	if lc.code != "" {
		ent.Lifecycle = coding(lc)
	}
	ent.Detail = c.txDetails(e)
	if e.RequestID != "" {
		ent.Detail = append(ent.Detail, detail("requestID", e.RequestID))
	}
	if e.PackageHash != "" {
		ent.Detail = append(ent.Detail, detail("packageHash", e.PackageHash))
	}
	return ent
}

// txDetails name the ledger transaction holding the fact.
func (c *Converter) txDetails(e *Entry) []*aepb.AuditEvent_Entity_Detail {
	return []*aepb.AuditEvent_Entity_Detail{
		detail("txID", e.TxID),
		detail("block", strconv.FormatUint(e.Block, 10)),
		detail("channel", e.Channel),
	}
}

// provenance builds the Provenance of an upload or a package.
func (c *Converter) provenance(e *Entry) (*provpb.Provenance, error) {
	if err := e.Validate(); err != nil {
		return nil, err
	}
	p := &provpb.Provenance{
		Id:       &dtpb.Id{Value: ResourceID("Provenance", e.Channel, e.TxID, string(e.Kind))},
		Recorded: instant(e.Time),
	}
	switch e.Kind {
	case KindUpload:
		p.Target = []*dtpb.Reference{c.ref("DocumentReference", SysRecord, e.RecordIDs[0], "version "+strconv.FormatUint(e.Version, 10))}
		p.Occurred = &provpb.Provenance_OccurredX{Choice: &provpb.Provenance_OccurredX_DateTime{DateTime: dateTime(e.Time)}}
		op := opCreate
		if e.Version > 1 {
			op = opUpdate
			p.Entity = []*provpb.Provenance_Entity{{
				Role: &provpb.Provenance_Entity_RoleCode{Value: cpb.ProvenanceEntityRoleCode_REVISION},
				What: c.ref("DocumentReference", SysRecord, e.RecordIDs[0], "version "+strconv.FormatUint(e.Version-1, 10)),
			}}
		}
		p.Activity = &dtpb.CodeableConcept{Coding: []*dtpb.Coding{coding(op)}}
		p.Agent = c.provAgents(provAgent{e.Actor, provCustodian}, provAgent{e.Submitter, provAuthor})
	case KindRequest:
		p.Target = []*dtpb.Reference{c.ref("", SysPackage, e.PackageID, "")}
		if !e.Received.IsZero() && !e.Sent.IsZero() {
			p.Occurred = &provpb.Provenance_OccurredX{Choice: &provpb.Provenance_OccurredX_Period{Period: &dtpb.Period{Start: dateTime(e.Received), End: dateTime(e.Sent)}}}
		}
		p.Activity = &dtpb.CodeableConcept{Coding: []*dtpb.Coding{coding(lcDisclose)}}
		if e.Purpose != "" {
			p.Reason = []*dtpb.CodeableConcept{purpose(e.Purpose)}
		}
		p.Agent = c.provAgents(provAgent{e.Actor, provCustodian}, provAgent{e.Submitter, provAssembler})
		for _, id := range e.RecordIDs {
			p.Entity = append(p.Entity, &provpb.Provenance_Entity{
				Role: &provpb.Provenance_Entity_RoleCode{Value: cpb.ProvenanceEntityRoleCode_SOURCE},
				What: c.ref("DocumentReference", SysRecord, id, ""),
			})
		}
	default:
		return nil, nil
	}
	if len(e.Signature) > 0 && !e.SignedBy.empty() {
		p.Signature = []*dtpb.Signature{{
			Type: []*dtpb.Coding{coding(code{sysSignatureType, codeSourceSignature, "Source Signature"})},
			When: instant(e.Time),
			Who:  c.party(e.SignedBy),
			Data: &dtpb.Base64Binary{Value: e.Signature},
			Extension: []*dtpb.Extension{
				{Url: &dtpb.Uri{Value: c.sys(ExtLedgerTx)}, Value: &dtpb.Extension_ValueX{Choice: &dtpb.Extension_ValueX_Identifier{
					Identifier: &dtpb.Identifier{System: &dtpb.Uri{Value: c.sys(SysTx)}, Value: str(e.Channel + "/" + e.TxID)}}}},
				{Url: &dtpb.Uri{Value: c.sys(ExtLedgerBlk)}, Value: &dtpb.Extension_ValueX{Choice: &dtpb.Extension_ValueX_StringValue{
					StringValue: str(strconv.FormatUint(e.Block, 10))}}},
			},
		}}
	}
	return p, nil
}

type provAgent struct {
	p   Party
	typ code
}

func (c *Converter) provAgents(as ...provAgent) []*provpb.Provenance_Agent {
	var out []*provpb.Provenance_Agent
	for _, a := range as {
		if a.p.empty() {
			continue
		}
		ag := &provpb.Provenance_Agent{
			Type: &dtpb.CodeableConcept{Coding: []*dtpb.Coding{coding(a.typ)}},
			Who:  c.party(a.p),
		}
		if a.p.MSP != "" {
			ag.OnBehalfOf = c.ref("Organization", SysMSP, a.p.MSP, a.p.MSP)
		}
		out = append(out, ag)
	}
	return out
}

// ResourceID is the id of a generated resource: a UUID (version 8) from
// SHA-256 of the resource type and the parts naming the fact, so that the
// same trail always gives the same ids.
func ResourceID(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(strconv.Itoa(len(p))))
		h.Write([]byte{':'})
		h.Write([]byte(p))
	}
	b := h.Sum(nil)[:16]
	b[6] = b[6]&0x0f | 0x80
	b[8] = b[8]&0x3f | 0x80
	s := hex.EncodeToString(b)
	return s[:8] + "-" + s[8:12] + "-" + s[12:16] + "-" + s[16:20] + "-" + s[20:]
}

func str(s string) *dtpb.String { return &dtpb.String{Value: s} }

func coding(c code) *dtpb.Coding {
	out := &dtpb.Coding{System: &dtpb.Uri{Value: c.system}, Code: &dtpb.Code{Value: c.code}}
	if c.display != "" {
		out.Display = str(c.display)
	}
	return out
}

func (c *Converter) code(system, value, display string) *dtpb.Coding {
	return coding(code{c.sys(system), value, display})
}

func (c *Converter) ref(typ, system, value, display string) *dtpb.Reference {
	r := &dtpb.Reference{Identifier: &dtpb.Identifier{System: &dtpb.Uri{Value: c.sys(system)}, Value: str(value)}}
	if typ != "" {
		r.Type = &dtpb.Uri{Value: typ}
	}
	if display != "" {
		r.Display = str(display)
	}
	return r
}

func detail(typ, value string) *aepb.AuditEvent_Entity_Detail {
	return &aepb.AuditEvent_Entity_Detail{
		Type:  str(typ),
		Value: &aepb.AuditEvent_Entity_Detail_ValueX{Choice: &aepb.AuditEvent_Entity_Detail_ValueX_StringValue{StringValue: str(value)}},
	}
}

// purpose is a PurposeOfUse coding for an HL7 code, else text.
func purpose(p string) *dtpb.CodeableConcept {
	if deid.KnownPurpose(p) {
		return &dtpb.CodeableConcept{Coding: []*dtpb.Coding{coding(code{sysPurposeOfUse, p, ""})}}
	}
	return &dtpb.CodeableConcept{Text: str(p)}
}

func instant(t time.Time) *dtpb.Instant {
	return &dtpb.Instant{ValueUs: t.UnixMicro(), Timezone: "Z", Precision: dtpb.Instant_MICROSECOND}
}

func dateTime(t time.Time) *dtpb.DateTime {
	return &dtpb.DateTime{ValueUs: t.UnixMicro(), Timezone: "Z", Precision: dtpb.DateTime_MICROSECOND}
}
