package deid

// The HL7 v3 PurposeOfUse codes: the concepts under PurposeOfUse in the
// code system http://terminology.hl7.org/CodeSystem/v3-ActReason, as the
// FHIR R4 (4.0.1) value set v3-PurposeOfUse (OID 2.16.840.1.113883.1.11.20448)
// expands them, each with its parent in the code system's is-a hierarchy
// ("" for the top-level purposes). A request names one of these codes; the
// rule set maps a code, or the nearest ancestor it lists, to a profile.

// PurposeOfUseSystem is the code system of purpose-of-use codes, in requests,
// security labels and AuditEvent.purposeOfEvent.
const PurposeOfUseSystem = "http://terminology.hl7.org/CodeSystem/v3-ActReason"

// purposeParent maps every PurposeOfUse code to its parent.
var purposeParent = map[string]string{
	"HMARKT": "",

	"HOPERAT": "", "CAREMGT": "HOPERAT", "DONAT": "HOPERAT", "FRAUD": "HOPERAT", "GOV": "HOPERAT",
	"HACCRED": "HOPERAT", "HCOMPL": "HOPERAT", "HDECD": "HOPERAT", "HDIRECT": "HOPERAT", "HDM": "HOPERAT",
	"HLEGAL": "HOPERAT", "HOUTCOMS": "HOPERAT", "HPRGRP": "HOPERAT", "HQUALIMP": "HOPERAT",
	"HSYSADMIN": "HOPERAT", "LABELING": "HOPERAT", "METAMGT": "HOPERAT", "MEMADMIN": "HOPERAT",
	"MILCDM": "HOPERAT", "PATADMIN": "HOPERAT", "PATSFTY": "HOPERAT", "PERFMSR": "HOPERAT",
	"RECORDMGT": "HOPERAT", "SYSDEV": "HOPERAT", "HTEST": "HOPERAT", "TRAIN": "HOPERAT",

	"HPAYMT": "", "CLMATTCH": "HPAYMT", "COVAUTH": "HPAYMT", "COVERAGE": "HPAYMT", "ELIGDTRM": "HPAYMT",
	"ELIGVER": "HPAYMT", "ENROLLM": "HPAYMT", "MILDCRG": "HPAYMT", "REMITADV": "HPAYMT",

	"HRESCH": "", "BIORCH": "HRESCH", "CLINTRCH": "HRESCH", "CLINTRCHNPC": "CLINTRCH",
	"CLINTRCHPC": "CLINTRCH", "PRECLINTRCH": "HRESCH", "DSRCH": "HRESCH", "POARCH": "HRESCH",
	"TRANSRCH": "HRESCH",

	"PATRQT": "", "FAMRQT": "PATRQT", "PWATRNY": "PATRQT", "SUPNWK": "PATRQT",

	"PUBHLTH": "", "DISASTER": "PUBHLTH", "THREAT": "PUBHLTH",

	"TREAT": "", "CLINTRL": "TREAT", "COC": "TREAT", "ETREAT": "TREAT", "BTG": "ETREAT",
	"ERTREAT": "ETREAT", "POPHLTH": "TREAT",
}

// KnownPurpose reports whether code is an HL7 v3 PurposeOfUse code.
func KnownPurpose(code string) bool {
	_, ok := purposeParent[code]
	return ok
}

// purposeChain returns code and its ancestors, nearest first; nil for an
// unknown code.
func purposeChain(code string) []string {
	if !KnownPurpose(code) {
		return nil
	}
	var out []string
	for c := code; c != ""; c = purposeParent[c] {
		out = append(out, c)
		if len(out) > len(purposeParent) { // a cycle would be a table defect
			return nil
		}
	}
	return out
}
