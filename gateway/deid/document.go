package deid

import (
	"fmt"
	"strings"

	"github.com/medshare/medshare/abe/policy"
	"github.com/medshare/medshare/gateway/grade"
)

// Document is a prepared document: filtered for a purpose and level, with
// every transformation planned. Apply turns it into a package's payload.
// It is immutable and safe for concurrent use.
type Document struct {
	d       *Deidentifier
	pr      *profile
	purpose string
	level   policy.Level
	root    *node

	leaves   []leafInfo
	res      []resInfo
	ops      []op
	patients []string // patient keys (original identity); shift per key
	nodeUp   map[*node]upLink
	byTypeID map[string]int32 // "Type/id" → resource
	ages     []*node          // quantities (or Ranges) replaced by age caps
}

// upLink is where an object sits: its parent object and key.
type upLink struct {
	parent *node
	key    string
}

// leafInfo is one primitive of the filtered document, in the order the
// grader walks it (a resource's resourceType first, then keys in order).
type leafInfo struct {
	n      *node
	parent *node  // the object holding the key
	key    string // the key (of the array, for an array element)
	idx    int32  // index in the array, -1 for a single value
	res    int32  // innermost resource
	typ    string // FHIR type ("date", "dateTime", "string", …)
	rule   int32  // the profile rule that applies, -1 for none
	op     int32  // index in ops, -1 for none
}

// Resource roles that change the output's structure.
const (
	roleNone uint8 = iota
	roleBundle
	roleEntry
)

type resInfo struct {
	n       *node
	typ     string
	id      string
	parent  int32
	fullURL string
	patient int32 // index in patients, -1 for the document's key
	flags   uint8 // transformations planned in Prepare
	present map[string]bool
	hasConf bool // meta.security already has a confidentiality code
	role    uint8
}

// Resource flags: which labels a resource earns.
const (
	fPseudo uint8 = 1 << iota // PSEUDED
	fMasked                   // MASKED (shifted dates)
	fAbstr                    // ABSTRED (generalised)
	fRedact                   // REDACTED (values removed here)
)

// index walks the tree in the grader's order, numbering leaves and
// resources.
func (doc *Document) index() {
	doc.nodeUp = map[*node]upLink{}
	doc.walk(doc.root, nil, "", -1, -1)
	doc.resolvePatients()
}

func (doc *Document) walk(n, parent *node, key string, idx int32, res int32) {
	switch {
	case n.isLeaf():
		n.leaf = int32(len(doc.leaves))
		doc.leaves = append(doc.leaves, leafInfo{n: n, parent: parent, key: key, idx: idx, res: res, rule: -1, op: -1})
		return
	case n.kind == kArray:
		for i, v := range n.vals {
			doc.walk(v, parent, key, int32(i), res)
		}
		return
	}
	if parent != nil {
		doc.nodeUp[n] = upLink{parent: parent, key: key}
	}
	rt := n.get("resourceType")
	if rt != nil && rt.kind == kString {
		r := resInfo{n: n, typ: rt.str, parent: res, patient: -1}
		if id := n.get("id"); id != nil && id.kind == kString {
			r.id = id.str
		}
		if key == "resource" && parent != nil {
			if fu := parent.get("fullUrl"); fu != nil && fu.kind == kString {
				r.fullURL = fu.str
			}
		}
		if rt.str == "Bundle" {
			r.role = roleBundle
		}
		r.present, r.hasConf = existingLabels(n)
		res = int32(len(doc.res))
		n.res = res
		doc.res = append(doc.res, r)
		doc.walk(rt, n, "resourceType", -1, res)
	}
	for i, k := range n.keys {
		if k == "resourceType" && rt != nil && rt.kind == kString {
			continue
		}
		v := n.vals[i]
		if k == "entry" && n.res >= 0 && doc.res[n.res].role == roleBundle && v.kind == kArray {
			for _, e := range v.vals {
				if e.kind == kObject {
					e.res = -2 // marks a Bundle entry (not a resource)
				}
			}
		}
		doc.walk(v, n, k, -1, res)
	}
}

// existingLabels lists the security labels a resource already carries.
func existingLabels(n *node) (map[string]bool, bool) {
	present := map[string]bool{}
	conf := false
	meta := n.get("meta")
	sec := meta.get("security")
	if sec == nil || sec.kind != kArray {
		return present, false
	}
	for _, c := range sec.vals {
		sys, code := c.get("system"), c.get("code")
		if sys == nil || code == nil || sys.kind != kString || code.kind != kString {
			continue
		}
		present[sys.str+"|"+code.str] = true
		if sys.str == ConfidentialitySystem {
			conf = true
		}
	}
	return present, conf
}

// resolvePatients finds the patient each resource is about: a Patient
// itself; else the Patient its subject, patient or beneficiary reference
// names; else its container's; else the document's only Patient. Dates of
// resources about no patient share one document-wide shift.
func (doc *Document) resolvePatients() {
	byURL := map[string]int32{}
	byTypeID := map[string]int32{}
	doc.byTypeID = byTypeID
	var patientRes []int32
	for i := range doc.res {
		r := &doc.res[i]
		if r.fullURL != "" {
			byURL[r.fullURL] = int32(i)
		}
		if r.id != "" {
			byTypeID[r.typ+"/"+r.id] = int32(i)
		}
		if r.typ == "Patient" {
			patientRes = append(patientRes, int32(i))
		}
	}
	keyIndex := map[string]int32{}
	patientOf := func(key string) int32 {
		if i, ok := keyIndex[key]; ok {
			return i
		}
		i := int32(len(doc.patients))
		doc.patients = append(doc.patients, key)
		keyIndex[key] = i
		return i
	}
	for _, i := range patientRes {
		r := &doc.res[i]
		switch {
		case r.id != "":
			r.patient = patientOf("Patient/" + r.id)
		case r.fullURL != "":
			r.patient = patientOf(r.fullURL)
		default:
			r.patient = patientOf(fmt.Sprintf("Patient#%d", i))
		}
	}
	for i := range doc.res {
		r := &doc.res[i]
		if r.typ == "Patient" {
			continue
		}
		for _, k := range []string{"subject", "patient", "beneficiary"} {
			ref := r.n.get(k).get("reference")
			if ref == nil || ref.kind != kString {
				continue
			}
			s := ref.str
			if t, ok := byURL[s]; ok && doc.res[t].typ == "Patient" {
				r.patient = doc.res[t].patient
				break
			}
			typ, id, _, ok := splitRelative(lastTypeID(s))
			if ok && typ == "Patient" {
				if t, ok := byTypeID["Patient/"+id]; ok {
					r.patient = doc.res[t].patient
				} else {
					r.patient = patientOf("Patient/" + id)
				}
				break
			}
		}
		if r.patient < 0 && r.parent >= 0 {
			r.patient = doc.res[r.parent].patient
		}
		if r.patient < 0 && len(patientRes) == 1 {
			r.patient = doc.res[patientRes[0]].patient
		}
	}
}

// match finds, with the grader, the type of every leaf and the profile rule
// that applies to it.
func (doc *Document) match(filtered []byte) error {
	i := 0
	err := doc.pr.match.Walk(filtered, func(e grade.Element) error {
		if i >= len(doc.leaves) {
			return errMismatch
		}
		l := &doc.leaves[i]
		if last := e.RulePath[strings.LastIndexByte(e.RulePath, '.')+1:]; last != l.key {
			return errMismatch
		}
		l.typ, l.rule = e.Type, int32(e.Rule)
		i++
		return nil
	})
	if err != nil {
		return fmt.Errorf("deid: typing the filtered document: %w", err)
	}
	if i != len(doc.leaves) {
		return fmt.Errorf("deid: typing the filtered document: %w", errMismatch)
	}
	return nil
}

var errMismatch = fmt.Errorf("the grader's elements do not match the document")

// plan turns every ruled leaf into an operation.
func (doc *Document) plan() {
	rules := doc.pr.p.Rules
	for i := range doc.leaves {
		l := &doc.leaves[i]
		if l.rule < 0 || int(l.rule) >= len(rules) {
			continue
		}
		o := op{leaf: int32(i), res: l.res}
		switch rules[l.rule].Action {
		case Pseudonymize:
			if l.n.kind != kString {
				continue
			}
			o.kind = opPseudo
			o.prefix, o.token, o.suffix = doc.pseudoTemplate(l)
			doc.flag(l.res, fPseudo)
		case Shift, Year, BirthYear:
			if !isDateType(l.typ) || l.n.kind != kString {
				continue
			}
			o.date, o.ok = parseDate(l.n.str)
			o.kind = dateOp(rules[l.rule].Action, l.typ)
			switch {
			case !o.ok:
				o.kind = opMask
			case o.kind == opConst:
				o.value = o.date.year()
			}
		case Zip3:
			if l.n.kind != kString {
				continue
			}
			if v, ok := zip3(l.n.str, doc.pr.zip); ok {
				o.kind, o.value = opConst, v
			} else {
				o.kind = opMask
			}
		case Age90:
			doc.planAge(l.parent)
			continue
		case Redact:
			o.kind = opMask // not reached: the filter drops redacted paths
		default:
			continue
		}
		switch o.kind {
		case opConst:
			doc.flag(l.res, fAbstr)
		case opMask:
			doc.flag(l.res, fRedact)
		case opShift:
			doc.flag(l.res, fMasked)
		case opBirthYear:
			doc.flag(l.res, fAbstr)
		}
		if o.kind == opMask || o.kind == opShift || o.kind == opBirthYear {
			l.parent.mayMask = true
		}
		if l.res >= 0 {
			o.patient = doc.res[l.res].patient
		} else {
			o.patient = -1
		}
		l.op = int32(len(doc.ops))
		doc.ops = append(doc.ops, o)
	}
}

func (doc *Document) flag(res int32, f uint8) {
	if res >= 0 {
		doc.res[res].flags |= f
	}
}

// pseudoTemplate splits a value into prefix, token and suffix: Apply
// replaces the token by its pseudonym.
func (doc *Document) pseudoTemplate(l *leafInfo) (prefix, token, suffix string) {
	s := l.n.str
	switch {
	case l.key == "id" && l.parent != nil && l.parent.res >= 0:
		return "", s, "" // a resource's logical id
	case l.key == "fullUrl":
		return fullURLTemplate(s)
	case l.key == "reference":
		return doc.referenceTemplate(s)
	}
	return "", s, ""
}
