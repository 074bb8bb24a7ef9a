package audit

// Code systems and codes of the FHIR mapping (docs/medshare.md has the
// table). Standard systems where a standard code exists: HL7 audit-event-type
// and restful-interaction, DICOM (DCM) event and role ids, ISO 21089
// lifecycle, HL7 v3 ParticipationType and ActReason, audit-entity-type,
// object-role, security-source-type, provenance-participant-type, ISO-ASTM
// E1762 signature types.
const (
	sysAuditEventType   = "http://terminology.hl7.org/CodeSystem/audit-event-type"
	sysRestful          = "http://hl7.org/fhir/restful-interaction"
	sysDCM              = "http://dicom.nema.org/resources/ontology/DCM"
	sysLifecycle        = "http://terminology.hl7.org/CodeSystem/iso-21089-lifecycle"
	sysParticipation    = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"
	sysEntityType       = "http://terminology.hl7.org/CodeSystem/audit-entity-type"
	sysObjectRole       = "http://terminology.hl7.org/CodeSystem/object-role"
	sysSourceType       = "http://terminology.hl7.org/CodeSystem/security-source-type"
	sysProvParticipant  = "http://terminology.hl7.org/CodeSystem/provenance-participant-type"
	sysDataOperation    = "http://terminology.hl7.org/CodeSystem/v3-DataOperation"
	sysSignatureType    = "urn:iso-astm:E1762-95:2013"
	sysPurposeOfUse     = "http://terminology.hl7.org/CodeSystem/v3-ActReason"
	codeSourceSignature = "1.2.840.10065.1.12.1.14" // Source Signature
)

type code struct{ system, code, display string }

var (
	typeRest     = code{sysAuditEventType, "rest", "Restful Operation"}
	typeExport   = code{sysDCM, "110106", "Export"}
	typeRecord   = code{sysDCM, "110110", "Patient Record"}
	typeSecurity = code{sysDCM, "110113", "Security Alert"}

	subCreate     = code{sysRestful, "create", "create"}
	subUpdate     = code{sysRestful, "update", "update"}
	subRead       = code{sysRestful, "read", "read"}
	subRestricted = code{sysDCM, "110132", "Use of Restricted Function"}
	subUserAttrs  = code{sysDCM, "110137", "User Security Attributes Changed"}

	lcOriginate = code{sysLifecycle, "originate", "Originate/Retain Record Lifecycle Event"}
	lcAmend     = code{sysLifecycle, "amend", "Amend (Update) Record Lifecycle Event"}
	lcAccess    = code{sysLifecycle, "access", "Access/View Record Lifecycle Event"}
	lcDisclose  = code{sysLifecycle, "disclose", "Disclose Record Lifecycle Event"}
	lcTransmit  = code{sysLifecycle, "transmit", "Transmit Record Lifecycle Event"}

	roleSource      = code{sysDCM, "110153", "Source Role ID"}
	roleDestination = code{sysDCM, "110152", "Destination Role ID"}
	roleApplication = code{sysDCM, "110150", "Application"}
	roleCustodian   = code{sysParticipation, "CST", "custodian"}
	roleRecipient   = code{sysParticipation, "IRCP", "information recipient"}

	entitySystemObject = code{sysEntityType, "2", "System Object"}
	objectDomain       = code{sysObjectRole, "4", "Domain Resource"}
	objectReport       = code{sysObjectRole, "3", "Report"}

	sourceAppServer = code{sysSourceType, "4", "Application Server"}

	provCustodian = code{sysProvParticipant, "custodian", "Custodian"}
	provAssembler = code{sysProvParticipant, "assembler", "Assembler"}
	provAuthor    = code{sysProvParticipant, "author", "Author"}
	opCreate      = code{sysDataOperation, "CREATE", "create"}
	opUpdate      = code{sysDataOperation, "UPDATE", "revise"}
)

// actionCodes maps a reported action to its ISO 21089 lifecycle event and
// its AuditEvent action (C, R, U, D).
var actionCodes = map[string]struct {
	lifecycle code
	action    string
}{
	"read":      {lcAccess, "R"},
	"write":     {lcAmend, "U"},
	"delete":    {code{sysLifecycle, "destroy", "Destroy/Delete Record Lifecycle Event"}, "D"},
	"duplicate": {code{sysLifecycle, "extract", "Extract Record Lifecycle Event"}, "C"},
	"copy":      {code{sysLifecycle, "extract", "Extract Record Lifecycle Event"}, "C"},
	"move":      {lcTransmit, "U"},
	"decrypted": {code{sysLifecycle, "decrypt", "Decrypt Record Lifecycle Event"}, "R"},
}
