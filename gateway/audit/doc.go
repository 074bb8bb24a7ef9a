// Package audit presents the medshare trail — uploads, access attempts,
// MeDShare requests and packages, action reports, violations, revocations,
// re-grants and recalls, as the contracts record them — as FHIR R4
// resources an auditor's tools read: an AuditEvent per step following the
// IHE Basic Audit Log Patterns (BALP), a Provenance for each upload and
// each package, and a Bundle of them.
//
// The input is a small model of trail entries (Entry) that the gateway
// fills from the contracts' query results, each with its transaction id,
// block number, time, channel and parties. The resources are built with
// google/fhir's R4 models and marshalled by its JSON marshaller; ids are
// derived from the transaction, so the same trail always gives the same
// resources. No patient is named: the ledger holds records, packages and
// users' keys, not patients, so the BALP patterns are followed without the
// Patient* profiles' patient entity (docs/medshare.md has the mapping).
package audit
