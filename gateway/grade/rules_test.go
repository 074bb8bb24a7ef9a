package grade

import (
	"errors"
	"strings"
	"testing"

	"github.com/medshare/medshare/abe/policy"
)

const (
	L = policy.Low
	M = policy.Medium
	H = policy.High
)

// defaultRuleCases holds, for every rule of the default set, an element it
// decides: the resource (or "json"), the document's body, the element's JSON
// path, the level and the rule path expected.
var defaultRuleCases = []struct {
	rt, body, path string
	want           policy.Level
	rule           string
}{
	// Resource-wide structure.
	{"Patient", `"gender":"female"`, "resourceType", L, "*.resourceType"},
	{"Patient", `"id":"p1","gender":"female"`, "id", H, "*.id"},
	{"Patient", `"meta":{"versionId":"1"}`, "meta.versionId", L, "*.meta"},
	{"Patient", `"implicitRules":"http://example.org/rules"`, "implicitRules", L, "*.implicitRules"},
	{"Patient", `"language":"en"`, "language", L, "*.language"},
	{"Patient", `"text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\">Ann Smith</div>"}`, "text.div", H, "*.text"},
	// Datatypes.
	{"Patient", `"name":[{"family":"Smith"}]`, "name[0].family", H, "HumanName"},
	{"Patient", `"telecom":[{"system":"phone","value":"555-1234"}]`, "telecom[0].value", H, "ContactPoint"},
	{"Patient", `"address":[{"line":["1 Main St"]}]`, "address[0].line[0]", H, "Address"},
	{"Patient", `"address":[{"city":"Boston"}]`, "address[0].city", M, "Address.city"},
	{"Patient", `"address":[{"district":"Suffolk"}]`, "address[0].district", M, "Address.district"},
	{"Patient", `"address":[{"state":"MA"}]`, "address[0].state", M, "Address.state"},
	{"Patient", `"address":[{"postalCode":"02101"}]`, "address[0].postalCode", M, "Address.postalCode"},
	{"Patient", `"address":[{"country":"US"}]`, "address[0].country", L, "Address.country"},
	{"Patient", `"address":[{"use":"home"}]`, "address[0].use", L, "Address.use"},
	{"Patient", `"address":[{"type":"both"}]`, "address[0].type", L, "Address.type"},
	{"Patient", `"address":[{"period":{"start":"2001-01-01"}}]`, "address[0].period.start", M, "Address.period"},
	{"Patient", `"identifier":[{"value":"999-99-9999"}]`, "identifier[0].value", H, "Identifier"},
	{"Patient", `"identifier":[{"use":"official"}]`, "identifier[0].use", L, "Identifier.use"},
	{"Patient", `"identifier":[{"type":{"text":"SSN"}}]`, "identifier[0].type.text", L, "Identifier.type"},
	{"Patient", `"identifier":[{"system":"http://hl7.org/fhir/sid/us-ssn"}]`, "identifier[0].system", L, "Identifier.system"},
	{"Patient", `"identifier":[{"period":{"start":"2001-01-01"}}]`, "identifier[0].period.start", M, "Identifier.period"},
	{"Patient", `"generalPractitioner":[{"reference":"Practitioner/1","display":"Dr. Who"}]`, "generalPractitioner[0].display", H, "Reference"},
	{"Patient", `"generalPractitioner":[{"type":"Practitioner"}]`, "generalPractitioner[0].type", L, "Reference.type"},
	{"Patient", `"photo":[{"contentType":"image/png","data":"AAAA"}]`, "photo[0].data", H, "Attachment"},
	{"Composition", `"section":[{"text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\">x</div>"}}]`, "section[0].text.div", H, "Narrative"},
	{"Condition", `"note":[{"text":"seen with his wife Ann"}]`, "note[0].text", H, "Annotation"},
	{"Provenance", `"signature":[{"type":[{"code":"1.2.840.10065.1.12.1.1","system":"urn:iso-astm:E1762-95:2013"}],"when":"2020-01-01T10:00:00Z","who":{"display":"x"}}]`, "signature[0].when", H, "Signature"},
	{"Condition", `"onsetAge":{"value":91,"unit":"a"}`, "onsetAge.value", M, "Age"},
	{"MedicationRequest", `"dosageInstruction":[{"text":"two daily"}]`, "dosageInstruction[0].text", H, "Dosage.text"},
	{"MedicationRequest", `"dosageInstruction":[{"patientInstruction":"call Ann"}]`, "dosageInstruction[0].patientInstruction", H, "Dosage.patientInstruction"},
	{"Patient", `"extension":[{"url":"http://hl7.org/fhir/StructureDefinition/patient-mothersMaidenName","valueString":"Harris"}]`, "extension[0].valueString", H, "Extension"},
	{"Patient", `"extension":[{"url":"http://hl7.org/fhir/StructureDefinition/patient-birthPlace","valueAddress":{"country":"US"}}]`, "extension[0].url", L, "Extension.url"},
	// Bundle.
	{"Bundle", `"type":"batch"`, "type", L, "Bundle"},
	{"Bundle", `"type":"batch","entry":[{"fullUrl":"urn:uuid:c757873d-ec9a-4326-a141-556f43239520"}]`, "entry[0].fullUrl", H, "Bundle.entry.fullUrl"},
	{"Bundle", `"type":"batch","entry":[{"request":{"method":"PUT","url":"Patient/123"}}]`, "entry[0].request.url", H, "Bundle.entry.request.url"},
	{"Bundle", `"type":"batch","entry":[{"request":{"method":"POST","url":"Patient","ifNoneExist":"identifier=123"}}]`, "entry[0].request.ifNoneExist", H, "Bundle.entry.request.ifNoneExist"},
	{"Bundle", `"type":"batch","entry":[{"request":{"method":"PUT","url":"Patient/1","ifMatch":"W/\"1\""}}]`, "entry[0].request.ifMatch", H, "Bundle.entry.request.ifMatch"},
	{"Bundle", `"type":"batch-response","entry":[{"response":{"status":"201","location":"Patient/123/_history/1"}}]`, "entry[0].response.location", H, "Bundle.entry.response.location"},
	{"Bundle", `"type":"searchset","link":[{"relation":"self","url":"http://example.org/Patient?name=Smith"}]`, "link[0].url", H, "Bundle.link"},
	// Patient.
	{"Patient", `"active":true`, "active", L, "Patient.active"},
	{"Patient", `"gender":"female"`, "gender", L, "Patient.gender"},
	{"Patient", `"birthDate":"2009-04-29"`, "birthDate", M, "Patient.birthDate"},
	{"Patient", `"deceasedDateTime":"2020-01-01T10:00:00Z"`, "deceasedDateTime", M, "Patient.deceased[x]"},
	{"Patient", `"multipleBirthInteger":2`, "multipleBirthInteger", M, "Patient.multipleBirth[x]"},
	{"Patient", `"maritalStatus":{"text":"Married"}`, "maritalStatus.text", M, "Patient.maritalStatus"},
	{"Patient", `"communication":[{"language":{"text":"English"}}]`, "communication[0].language.text", M, "Patient.communication"},
	{"Patient", `"contact":[{"relationship":[{"text":"employer"}]}]`, "contact[0].relationship[0].text", H, "Patient.contact"},
	{"Patient", `"link":[{"other":{"type":"Patient"},"type":"seealso"}]`, "link[0].type", H, "Patient.link"},
	// Other people.
	{"RelatedPerson", `"gender":"male"`, "gender", H, "RelatedPerson"},
	{"Person", `"gender":"male"`, "gender", H, "Person"},
	{"Practitioner", `"gender":"male"`, "gender", H, "Practitioner"},
	{"PractitionerRole", `"active":true`, "active", H, "PractitionerRole"},
	{"FamilyMemberHistory", `"sex":{"text":"male"}`, "sex.text", L, "FamilyMemberHistory"},
	{"FamilyMemberHistory", `"name":"Uncle Bob"`, "name", H, "FamilyMemberHistory.name"},
	{"FamilyMemberHistory", `"bornDate":"1950-01-01"`, "bornDate", M, "FamilyMemberHistory.born[x]"},
	{"FamilyMemberHistory", `"ageAge":{"value":70}`, "ageAge.value", M, "FamilyMemberHistory.age[x]"},
	{"FamilyMemberHistory", `"deceasedBoolean":true`, "deceasedBoolean", M, "FamilyMemberHistory.deceased[x]"},
	// Places of care.
	{"Organization", `"name":"General Hospital"`, "name", M, "Organization"},
	{"Organization", `"active":true`, "active", L, "Organization.active"},
	{"Organization", `"type":[{"text":"prov"}]`, "type[0].text", L, "Organization.type"},
	{"Organization", `"telecom":[{"value":"555-0000"}]`, "telecom[0].value", M, "Organization.telecom"},
	{"Organization", `"address":[{"line":["57 E Main St"]}]`, "address[0].line[0]", M, "Organization.address.line"},
	{"Organization", `"identifier":[{"value":"9999"}]`, "identifier[0].value", M, "Organization.identifier.value"},
	{"Location", `"name":"Ward 3"`, "name", M, "Location"},
	{"Location", `"address":{"line":["57 E Main St"]}`, "address.line[0]", M, "Location.address.line"},
	{"Location", `"telecom":[{"value":"555-0000"}]`, "telecom[0].value", M, "Location.telecom"},
	// Clinical content.
	{"Encounter", `"status":"finished"`, "status", L, "Encounter"},
	{"Condition", `"code":{"text":"Cough"}`, "code.text", L, "Condition"},
	{"Observation", `"status":"final"`, "status", L, "Observation"},
	{"Observation", `"valueString":"told by Ann"`, "valueString", H, "Observation.valueString"},
	{"Observation", `"component":[{"code":{"text":"x"},"valueString":"Ann"}]`, "component[0].valueString", H, "Observation.component.valueString"},
	{"DiagnosticReport", `"status":"final"`, "status", L, "DiagnosticReport"},
	{"DiagnosticReport", `"conclusion":"Ann is fine"`, "conclusion", H, "DiagnosticReport.conclusion"},
	{"Procedure", `"status":"completed"`, "status", L, "Procedure"},
	{"Immunization", `"status":"completed"`, "status", L, "Immunization"},
	{"Immunization", `"lotNumber":"A123"`, "lotNumber", H, "Immunization.lotNumber"},
	{"ImmunizationRecommendation", `"date":"2020-01-01T10:00:00Z"`, "date", L, "ImmunizationRecommendation"},
	{"Medication", `"code":{"text":"aspirin"}`, "code.text", L, "Medication"},
	{"MedicationRequest", `"status":"active"`, "status", L, "MedicationRequest"},
	{"MedicationStatement", `"status":"active"`, "status", L, "MedicationStatement"},
	{"MedicationAdministration", `"status":"completed"`, "status", L, "MedicationAdministration"},
	{"MedicationDispense", `"status":"completed"`, "status", L, "MedicationDispense"},
	{"AllergyIntolerance", `"criticality":"low"`, "criticality", L, "AllergyIntolerance"},
	{"CarePlan", `"intent":"plan"`, "intent", L, "CarePlan"},
	{"CarePlan", `"title":"Ann's plan"`, "title", H, "CarePlan.title"},
	{"CarePlan", `"description":"for Ann"`, "description", H, "CarePlan.description"},
	{"CarePlan", `"activity":[{"detail":{"status":"completed","description":"with Ann"}}]`, "activity[0].detail.description", H, "CarePlan.activity.detail.description"},
	{"CareTeam", `"status":"active"`, "status", L, "CareTeam"},
	{"CareTeam", `"name":"Ann's team"`, "name", H, "CareTeam.name"},
	{"Goal", `"lifecycleStatus":"active"`, "lifecycleStatus", L, "Goal"},
	{"ServiceRequest", `"status":"active"`, "status", L, "ServiceRequest"},
	{"ServiceRequest", `"patientInstruction":"ask for Ann"`, "patientInstruction", H, "ServiceRequest.patientInstruction"},
	{"Specimen", `"status":"available"`, "status", L, "Specimen"},
	{"ImagingStudy", `"status":"available"`, "status", L, "ImagingStudy"},
	{"ImagingStudy", `"description":"Ann chest"`, "description", H, "ImagingStudy.description"},
	{"ImagingStudy", `"series":[{"uid":"1.2.3","modality":{"code":"CT"},"description":"Ann"}]`, "series[0].description", H, "ImagingStudy.series.description"},
	{"Device", `"status":"active"`, "status", L, "Device"},
	{"Device", `"udiCarrier":[{"deviceIdentifier":"0001"}]`, "udiCarrier[0].deviceIdentifier", H, "Device.udiCarrier"},
	{"Device", `"distinctIdentifier":"D1"`, "distinctIdentifier", H, "Device.distinctIdentifier"},
	{"Device", `"serialNumber":"S1"`, "serialNumber", H, "Device.serialNumber"},
	{"Device", `"lotNumber":"L1"`, "lotNumber", H, "Device.lotNumber"},
	{"Device", `"deviceName":[{"name":"Ann's pump","type":"user-friendly-name"}]`, "deviceName[0].name", H, "Device.deviceName"},
	{"DocumentReference", `"status":"current"`, "status", L, "DocumentReference"},
	{"DocumentReference", `"description":"letter to Ann"`, "description", H, "DocumentReference.description"},
	// Claims and coverage.
	{"Claim", `"status":"active"`, "status", L, "Claim"},
	{"Claim", `"supportingInfo":[{"sequence":1,"category":{"text":"info"},"valueString":"Ann"}]`, "supportingInfo[0].valueString", H, "Claim.supportingInfo.value[x]"},
	{"ExplanationOfBenefit", `"status":"active"`, "status", L, "ExplanationOfBenefit"},
	{"ExplanationOfBenefit", `"supportingInfo":[{"sequence":1,"category":{"text":"info"},"valueString":"Ann"}]`, "supportingInfo[0].valueString", H, "ExplanationOfBenefit.supportingInfo.value[x]"},
	{"ExplanationOfBenefit", `"processNote":[{"text":"Ann called"}]`, "processNote[0].text", H, "ExplanationOfBenefit.processNote"},
	{"ExplanationOfBenefit", `"disposition":"paid to Ann"`, "disposition", H, "ExplanationOfBenefit.disposition"},
	{"Coverage", `"status":"active"`, "status", L, "Coverage"},
	{"Coverage", `"subscriberId":"S-123"`, "subscriberId", H, "Coverage.subscriberId"},
	{"Coverage", `"dependent":"2"`, "dependent", M, "Coverage.dependent"},
	{"Coverage", `"class":[{"type":{"text":"group"},"value":"G-1"}]`, "class[0].value", H, "Coverage.class.value"},
	{"Coverage", `"class":[{"type":{"text":"group"},"value":"G-1","name":"Acme staff"}]`, "class[0].name", M, "Coverage.class.name"},
	// Plain JSON.
	{"json", `"patient":{"name":"Ann"}`, "patient.name", H, "**.name"},
	{"json", `"firstName":"Ann"`, "firstName", H, "**.firstName"},
	{"json", `"lastName":"Smith"`, "lastName", H, "**.lastName"},
	{"json", `"contact":{"email":"a@example.org"}`, "contact.email", H, "**.email"},
	{"json", `"phone":"555"`, "phone", H, "**.phone"},
	{"json", `"fax":"555"`, "fax", H, "**.fax"},
	{"json", `"address":{"street":"1 Main"}`, "address.street", H, "**.address"},
	{"json", `"ids":[{"ssn":"999"}]`, "ids[0].ssn", H, "**.ssn"},
	{"json", `"mrn":"123"`, "mrn", H, "**.mrn"},
	{"json", `"birthDate":"2000-01-01"`, "birthDate", M, "**.birthDate"},
	{"json", `"dob":"2000-01-01"`, "dob", M, "**.dob"},
	{"json", `"age":91`, "age", M, "**.age"},
	{"json", `"zip":"02101"`, "zip", M, "**.zip"},
	{"json", `"postalCode":"02101"`, "postalCode", M, "**.postalCode"},
	{"json", `"city":"Boston"`, "city", M, "**.city"},
	{"json", `"state":"MA"`, "state", M, "**.state"},
	{"json", `"gender":"female"`, "gender", L, "**.gender"},
	{"json", `"visits":[{"diagnosis":"flu"}]`, "visits[0].diagnosis", L, "**.diagnosis"},
	{"json", `"lab":{"code":"8310-5"}`, "lab.code", L, "**.code"},
}

// TestDefaultRules checks every rule of the default set on an element it
// decides, and that every rule has a case.
func TestDefaultRules(t *testing.T) {
	g := defaultGrader(t)
	rules := DefaultRules()
	covered := map[string]bool{}
	for _, c := range defaultRuleCases {
		t.Run(c.rule+"/"+c.rt+"."+c.path, func(t *testing.T) {
			var doc []byte
			if c.rt == "json" {
				doc = []byte("{" + c.body + "}")
			} else {
				doc = minimalResource(t, c.rt, c.body)
				validateR4(t, doc)
			}
			e, ok := elementsByPath(t, g, doc)[c.path]
			if !ok {
				t.Fatalf("no element %s in %s", c.path, doc)
			}
			list := rules.FHIR
			if c.rt == "json" {
				list = rules.JSON
			}
			got := "(default)"
			if e.Rule >= 0 {
				got = list[e.Rule].Path
			}
			if got != c.rule || e.Level != c.want {
				t.Fatalf("%s: level %s by rule %q, want %s by %q", c.path, e.Level, got, c.want, c.rule)
			}
		})
		if c.rt == "json" {
			covered["json|"+c.rule] = true
		} else {
			covered["fhir|"+c.rule] = true
		}
	}
	for _, r := range rules.FHIR {
		if !covered["fhir|"+r.Path] {
			t.Errorf("default FHIR rule %q has no test case", r.Path)
		}
	}
	for _, r := range rules.JSON {
		if !covered["json|"+r.Path] {
			t.Errorf("default JSON rule %q has no test case", r.Path)
		}
	}
}

func TestDefaultRulesEmbedded(t *testing.T) {
	r, err := ParseRules(defaultRulesYAML)
	if err != nil {
		t.Fatalf("embedded rules.yaml: %v", err)
	}
	if r.Default != policy.High || r.Version == "" || len(r.FHIR) == 0 || len(r.JSON) == 0 {
		t.Fatalf("unexpected default rules: version %q default %s, %d/%d rules", r.Version, r.Default, len(r.FHIR), len(r.JSON))
	}
	if d := DefaultRules(); d.Version != r.Version || len(d.FHIR) != len(r.FHIR) {
		t.Fatal("DefaultRules differs from the embedded file")
	}
}

// TestPrecedence checks the order in which rules win, on a custom set.
func TestPrecedence(t *testing.T) {
	yaml := `
version: t1
default: medium
fhir:
  - {path: Observation, level: low}
  - {path: Observation.code.text, level: high}
  - {path: "*.code.coding", level: high}
  - {path: Observation.code.coding, level: medium}
  - {path: Coding.display, level: low}
  - {path: Coding.code, level: medium}
  - {path: "Observation.code.coding.code", level: low}
  - {path: "Observation.value[x]", level: medium}
  - {path: Observation.valueString, level: high}
  - {path: Quantity.unit, level: high}
  - {path: "Observation.*.unit", level: low}
  - {path: "Patient.**.family", level: low}
json:
  - {path: "a", level: low}
  - {path: "a.*.c", level: high}
  - {path: "**.c", level: medium}
`
	r, err := ParseRules([]byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	g, err := New(r)
	if err != nil {
		t.Fatal(err)
	}
	obs := minimalResource(t, "Observation", `"code":{"text":"t","coding":[{"system":"http://loinc.org","code":"1","display":"d"}]},"valueQuantity":{"value":1,"unit":"kg"}`)
	obs2 := minimalResource(t, "Observation", `"valueString":"s"`)
	obs3 := minimalResource(t, "Observation", `"valueBoolean":true`)
	pat := minimalResource(t, "Patient", `"name":[{"family":"F","given":["G"]}]`)
	js := []byte(`{"a":{"b":{"c":1,"d":2},"x":{"c":3}},"e":{"c":4},"f":5}`)
	cases := []struct {
		doc  []byte
		path string
		want policy.Level
		why  string
	}{
		{obs, "status", L, "resource rule at the root"},
		{obs, "code.text", H, "deeper rule wins"},
		{obs, "code.coding[0].system", M, "resource path beats * path at the same depth (more literals)"},
		{obs, "code.coding[0].display", L, "deeper type rule beats shallower resource path"},
		{obs, "code.coding[0].code", L, "resource path beats type path at the same depth"},
		{obs, "valueQuantity.value", M, "value[x] matches valueQuantity"},
		{obs, "valueQuantity.unit", L, "Observation.*.unit (3 segments) beats Quantity.unit (2)"},
		{obs2, "valueString", H, "the named choice type beats value[x]"},
		{obs3, "valueBoolean", M, "value[x] covers every type"},
		{pat, "name[0].family", L, "** matches any depth"},
		{pat, "name[0].given[0]", M, "no rule: default"},
		{js, "a.b.c", H, "* matches one key; more literals win"},
		{js, "a.b.d", L, "ancestor rule"},
		{js, "a.x.c", H, "wildcard rule"},
		{js, "e.c", M, "** rule"},
		{js, "f", M, "default"},
	}
	for _, c := range cases {
		els := elementsByPath(t, g, c.doc)
		e, ok := els[c.path]
		if !ok {
			t.Fatalf("%s: no element", c.path)
		}
		if e.Level != c.want {
			t.Errorf("%s (%s): got %s, want %s", c.path, c.why, e.Level, c.want)
		}
	}
}

func TestTieGoesToHigherLevel(t *testing.T) {
	r, err := ParseRules([]byte(`
version: t
default: medium
fhir:
  - {path: "Patient.*.family", level: low}
  - {path: "Patient.name.*", level: high}
`))
	if err != nil {
		t.Fatal(err)
	}
	g, _ := New(r)
	e := elementsByPath(t, g, minimalResource(t, "Patient", `"name":[{"family":"F"}]`))["name[0].family"]
	if e.Level != H {
		t.Fatalf("tie: got %s, want high", e.Level)
	}
}

func TestRulesValidate(t *testing.T) {
	cases := []struct{ name, yaml, want string }{
		{"no version", "default: high\n", "version is empty"},
		{"low default", "version: v\ndefault: low\n", "must be medium or high"},
		{"bad level", "version: v\ndefault: high\nfhir:\n  - {path: Patient, level: secret}\n", "invalid level"},
		{"unknown resource", "version: v\ndefault: high\nfhir:\n  - {path: Patiente.name, level: high}\n", "neither a FHIR R4 resource nor a datatype"},
		{"unknown element", "version: v\ndefault: high\nfhir:\n  - {path: Patient.nmae, level: high}\n", `no element "nmae" in Patient`},
		{"unknown type element", "version: v\ndefault: high\nfhir:\n  - {path: HumanName.surname, level: high}\n", `no element "surname"`},
		{"into nested resource", "version: v\ndefault: high\nfhir:\n  - {path: Bundle.entry.resource.id, level: low}\n", "nested resource"},
		{"star alone", "version: v\ndefault: high\nfhir:\n  - {path: \"*\", level: low}\n", "would grade every resource"},
		{"empty segment", "version: v\ndefault: high\nfhir:\n  - {path: Patient..name, level: low}\n", "empty segment"},
		{"late **", "version: v\ndefault: high\nfhir:\n  - {path: Patient.name.**, level: low}\n", "may only come first"},
		{"bad name", "version: v\ndefault: high\nfhir:\n  - {path: \"Patient.na-me\", level: low}\n", "not an element name"},
		{"duplicate", "version: v\ndefault: high\nfhir:\n  - {path: Patient, level: low}\n  - {path: Patient, level: high}\n", "written twice"},
		{"unknown key", "version: v\ndefault: high\nrulez: []\n", "field rulez not found"},
		{"json empty", "version: v\ndefault: high\njson:\n  - {path: \"\", level: low}\n", "empty path"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseRules([]byte(c.yaml))
			if !errors.Is(err, ErrInvalidRules) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want ErrInvalidRules containing %q", err, c.want)
			}
		})
	}
	if _, err := New(&Rules{Version: "v", Default: policy.Low}); !errors.Is(err, ErrInvalidRules) {
		t.Fatalf("New with a low default: %v", err)
	}
	if err := (&Rules{Version: "v", Default: policy.Medium}).Validate(); err != nil {
		t.Fatalf("minimal rules: %v", err)
	}
}
