package main

import (
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestDemo runs `medshare demo` on a real system started as make run
// starts it, and checks every step's outcome, in order: the upload; the
// cardiologist opening all three levels, the nurse refused the high one,
// the researcher refused high and medium; what each sees of the patient;
// the owner's view of the refusals; the recall revoking the nurse while the
// cardiologist reads the new version; the re-grant. Then MeDShare: the
// study's record stored; the research package delivered and checked
// against its parent block; opened and read, each reported; what the
// research rules left of the patient (no name, street or city, the birth
// year, a 3-digit postal code, no trace of the patient's id); the allowed
// copy reported; the forbidden move reported as a violation that revokes;
// the researcher's next access refused as revoked; the owner's view, its
// re-grant, the access granted again, the recall; the auditor's trail,
// every MeDShare step in order, as many AuditEvents as steps and the
// package's Provenance; the verification on the three nodes.
func TestDemo(t *testing.T) {
	sys := startSystem(t, filepath.Join(t.TempDir(), "run"))
	var out strings.Builder
	data := filepath.Join(repoRoot, "..", "shared", "data", "fhir", "synthea")
	file := filepath.Join(data, "Roland928_Nienow652_13b1a0f2-dceb-37a2-f32b-f0ca6e3b9925.json")
	study := filepath.Join(data, "Cris921_Rath779_d4519c92-d241-b2b2-7360-291d60be699e.json")
	if err := runDemo([]string{"--dir", sys.dir, "--file", file, "--study", study}, &out); err != nil {
		t.Fatalf("demo: %v\n%s", err, out.String())
	}
	want := []string{
		`record [0-9a-f]{32}:Bundle\.[0-9a-f]{20}: graded 663 high, 25 medium, 2301 low elements; 3 levels stored on the side chains, indexed=true`,
		`cardiologist high opened, medium opened, low opened`,
		`nurse +high refused \(policy_not_met\), medium opened, low opened`,
		`researcher +high refused \(policy_not_met\), medium refused \(policy_not_met\), low opened`,
		`cardiologist name Nienow652, street 328 Kirlin Ramp Apt 74, city Templeton, born 2009-08-06`,
		`nurse +name \(withheld\), street \(withheld\), city Templeton, born 2009-08-06`,
		`researcher +name \(withheld\), street \(withheld\), city \(withheld\), born \(withheld\)`,
		`high +policy_not_met by the nurse, blamed on the user`,
		`version 2, 3 old objects unpinned, the nurse blocked on 3 levels`,
		`nurse +high refused \(revoked\), medium refused \(revoked\), low refused \(revoked\)`,
		`cardiologist high opened, medium opened, low opened`,
		`blocks lifted on 3 levels`,
		`nurse +high refused \(policy_not_met\), medium opened, low opened`,
		// MeDShare
		`record [0-9a-f]{32}:Bundle\.[0-9a-f]{20}: 3 levels stored, indexed=true`,
		`request [0-9a-f]{32}:demo-\d+: package pkg\.[0-9a-f]{20} \(.+\) on side-medium, profile research, rules medshare-deid-2026\.1, allowed read, copy; its hash is the parent block's \(tx [0-9a-f]{64}\)`,
		`opened: 1 record\(s\), purpose HRESCH, sensitivity medium; decrypted: reported, side-block \S+ \(tx [0-9a-f]{64}\)\n`,
		`read: reported, side-block \S+ \(tx [0-9a-f]{64}\)\n`,
		`the patient in the package: name \(withheld\), street \(withheld\), city \(withheld\), born 2006, postal code 021\n`,
		`\(in the record: born 2006-02-22, postal code 02141\); the patient's id d4519c92-d241-b2b2-7360-291d60be699e occurs [1-9]\d* times in the bundle, 0 times in the package`,
		`copy \(allowed\): reported, side-block \S+ \(tx [0-9a-f]{64}\)\n`,
		`move \(forbidden\): reported, side-block \S+ \(tx [0-9a-f]{64}\); violation move, the researcher revoked on [1-9]\d* block\(s\)\n`,
		`researcher +medium refused \(revoked\)\n`,
		`medium forbidden_action by the researcher, blamed on the user`,
		`medium revoked by the researcher, blamed on the user`,
		`re-granted: side-block \S+ \(tx [0-9a-f]{64}\)`,
		`researcher +medium opened\n`,
		`recalled: side-block \S+ \(tx [0-9a-f]{64}\)`,
		// The auditor's view of the researcher's trail: its MeDShare steps in order.
		`request +success`,
		`delivery +success`,
		`report +success +decrypted`,
		`report +success +read`,
		`report +success +copy`,
		`report +success +move`,
		`violation +failed +forbidden_action`,
		`revocation +success +forbidden_action`,
		`access +refused +revoked`,
		`violation +refused +revoked`,
		`regrant +success`,
		`access +success`,
		`recall +success`,
		`\d+ steps; as FHIR R4: \d+ AuditEvent, 1 Provenance`,
		`verified on 3 nodes: ok=true, 7 MeDShare blocks re-walked, 0 problems`,
	}
	rest := out.String()
	for _, w := range want {
		loc := regexp.MustCompile(w).FindStringIndex(rest)
		if loc == nil {
			t.Fatalf("demo output lacks %q after the earlier steps:\n%s", w, out.String())
		}
		rest = rest[loc[1]:]
	}
	for _, w := range []string{`high +policy_not_met by the researcher`, `medium policy_not_met by the researcher`} {
		if !regexp.MustCompile(w).MatchString(out.String()) {
			t.Fatalf("demo output lacks %q:\n%s", w, out.String())
		}
	}
	// One AuditEvent per step of the trail.
	m := regexp.MustCompile(`(\d+) steps; as FHIR R4: (\d+) AuditEvent`).FindStringSubmatch(out.String())
	steps, _ := strconv.Atoi(m[1])
	events, _ := strconv.Atoi(m[2])
	if steps < 13 || events != steps {
		t.Fatalf("the trail has %d steps and %d AuditEvents; want at least the 13 MeDShare steps, one AuditEvent each:\n%s", steps, events, out.String())
	}
	if testing.Verbose() {
		t.Log(out.String())
	}
}
