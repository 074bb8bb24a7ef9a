package deid

import (
	"fmt"
	"time"

	"github.com/medshare/medshare/gateway/grade"
)

// The code systems of the security labels (meta.security) a package's
// resources carry.
const (
	// ObservationValueSystem holds what was done to the data: PSEUDED,
	// MASKED, ABSTRED, REDACTED.
	ObservationValueSystem = grade.SecuritySystem
	// ConfidentialitySystem holds the resource's confidentiality (N for
	// treatment, L for de-identified data).
	ConfidentialitySystem = "http://terminology.hl7.org/CodeSystem/v3-Confidentiality"
)

// The HL7 v3 ObservationValue codes the de-identifier labels resources with.
const (
	LabelPseudonymized = "PSEUDED"  // ids and references replaced by pseudonyms
	LabelMasked        = "MASKED"   // dates moved by a secret per-patient shift
	LabelAbstracted    = "ABSTRED"  // values generalised: year, postal area, age 90+
	LabelRedacted      = "REDACTED" // elements or values removed
)

var labelDisplay = map[string]string{
	LabelPseudonymized: "pseudonymized", LabelMasked: "masked",
	LabelAbstracted: "abstracted", LabelRedacted: "redacted",
}

// Secret sizes Apply accepts.
const (
	MinSecret = 32
	MaxSecret = 64
)

// Apply produces the package's copy of the document: pseudonyms and date
// shifts keyed by secret (the same secret for every document of a package
// keeps links and intervals across them; another secret gives unlinkable
// pseudonyms), ages computed at now.
func (doc *Document) Apply(secret []byte, now time.Time) (*Result, error) {
	if len(secret) < MinSecret || len(secret) > MaxSecret {
		return nil, fmt.Errorf("%w: the package secret must be %d..%d bytes", ErrInvalidRequest, MinSecret, MaxSecret)
	}
	if now.IsZero() {
		return nil, fmt.Errorf("%w: no package time", ErrInvalidRequest)
	}
	a := &applier{
		doc:    doc,
		keys:   deriveKeys(secret),
		vals:   make([]string, len(doc.ops)),
		masked: make([]bool, len(doc.ops)),
		flags:  make([]uint8, len(doc.res)),
		shifts: make(map[int32]int, len(doc.patients)+1),
		pseudo: make(map[string]string, 64),
	}
	for i := range doc.res {
		a.flags[i] = doc.res[i].flags
	}
	res := &Result{
		Purpose: doc.purpose, Profile: doc.pr.name,
		RulesVersion: doc.d.rules.Version, GradingVersion: doc.d.grading,
		Level: doc.level,
	}
	a.compute(now.UTC().Year(), &res.Stats)
	a.labels = make([][]label, len(doc.res))
	for i := range doc.res {
		a.labels[i] = a.labelsFor(int32(i))
	}
	a.buf = make([]byte, 0, 1<<16)
	a.value(doc.root)
	res.FHIR = a.buf
	res.Stats.Resources = len(doc.res)
	return res, nil
}

type applier struct {
	doc    *Document
	keys   keys
	vals   []string
	masked []bool
	flags  []uint8
	shifts map[int32]int
	pseudo map[string]string
	labels [][]label
	buf    []byte
}

type label struct{ system, code, display string }

// compute works out every operation's value.
func (a *applier) compute(year int, st *Stats) {
	for i := range a.doc.ops {
		o := &a.doc.ops[i]
		switch o.kind {
		case opPseudo:
			if o.token == "" {
				a.vals[i] = o.prefix + o.suffix
				continue
			}
			a.vals[i] = o.prefix + a.pseudonym(o.token) + o.suffix
			st.Pseudonymized++
		case opShift:
			v, ok := o.date.shift(a.shift(o.patient))
			if !ok {
				a.mask(i, o)
				st.Masked++
				continue
			}
			a.vals[i] = v
			st.Shifted++
		case opBirthYear:
			if year-o.date.y >= 90 {
				a.mask(i, o)
				st.Masked++
				continue
			}
			a.vals[i] = o.date.year()
			st.Generalized++
		case opConst:
			a.vals[i] = o.value
			st.Generalized++
		case opMask:
			a.masked[i] = true
			st.Masked++
		}
	}
	for _, n := range a.doc.ages {
		if n.age.mode == maskAll {
			st.Masked++
		} else {
			st.Generalized++
		}
	}
}

func (a *applier) mask(i int, o *op) {
	a.masked[i] = true
	if o.res >= 0 {
		a.flags[o.res] |= fRedact
	}
}

func (a *applier) pseudonym(token string) string {
	if p, ok := a.pseudo[token]; ok {
		return p
	}
	p := pseudonym(a.keys.pseudo, token)
	a.pseudo[token] = p
	return p
}

func (a *applier) shift(patient int32) int {
	if d, ok := a.shifts[patient]; ok {
		return d
	}
	key := "\x00document"
	if patient >= 0 {
		key = a.doc.patients[patient]
	}
	d := shiftDays(a.keys.shift, key, a.doc.pr.p.DateShiftDays)
	a.shifts[patient] = d
	return d
}

// labelsFor lists the labels resource r gains: the purpose of use, a
// confidentiality code unless it has one, and what was done to it.
func (a *applier) labelsFor(r int32) []label {
	ri := &a.doc.res[r]
	var out []label
	add := func(l label) {
		if !ri.present[l.system+"|"+l.code] {
			out = append(out, l)
		}
	}
	add(label{system: PurposeOfUseSystem, code: a.doc.purpose})
	if !ri.hasConf {
		c := a.doc.pr.p.Confidentiality
		add(label{system: ConfidentialitySystem, code: c, display: confidentialityCodes[c]})
	}
	for _, f := range []struct {
		bit  uint8
		code string
	}{{fPseudo, LabelPseudonymized}, {fMasked, LabelMasked}, {fAbstr, LabelAbstracted}, {fRedact, LabelRedacted}} {
		if a.flags[r]&f.bit != 0 {
			add(label{system: ObservationValueSystem, code: f.code, display: labelDisplay[f.code]})
		}
	}
	return out
}

func (a *applier) value(n *node) {
	switch {
	case n.isLeaf():
		a.leaf(n)
	case n.kind == kArray:
		a.buf = append(a.buf, '[')
		for i, v := range n.vals {
			if i > 0 {
				a.buf = append(a.buf, ',')
			}
			a.value(v)
		}
		a.buf = append(a.buf, ']')
	default:
		a.object(n)
	}
}

func (a *applier) leaf(n *node) {
	if n.leaf >= 0 {
		if o := a.doc.leaves[n.leaf].op; o >= 0 {
			if a.masked[o] {
				a.buf = append(a.buf, "null"...) // only inside arrays: see object
				return
			}
			a.buf = appendString(a.buf, a.vals[o])
			return
		}
	}
	a.buf = appendValue(a.buf, n)
}

// isMasked reports whether leaf n is replaced by a data-absent-reason.
func (a *applier) isMasked(n *node) bool {
	if n == nil || !n.isLeaf() || n.leaf < 0 {
		return false
	}
	o := a.doc.leaves[n.leaf].op
	return o >= 0 && a.masked[o]
}

// maskedIn reports whether value v (a leaf or an array of leaves) has a
// masked leaf, and whether all of it is masked.
func (a *applier) maskedIn(v *node) (any, all bool) {
	if v == nil {
		return false, false
	}
	if v.isLeaf() {
		m := a.isMasked(v)
		return m, m
	}
	if v.kind != kArray || len(v.vals) == 0 {
		return false, false
	}
	all = true
	for _, e := range v.vals {
		if a.isMasked(e) {
			any = true
		} else {
			all = false
		}
	}
	return any, any && all
}

type objWriter struct {
	a     *applier
	first bool
}

func (w *objWriter) key(k string) {
	if !w.first {
		w.a.buf = append(w.a.buf, ',')
	}
	w.first = false
	w.a.buf = appendString(w.a.buf, k)
	w.a.buf = append(w.a.buf, ':')
}

func (a *applier) object(n *node) {
	if n.age != nil {
		a.age(n)
		return
	}
	var labels []label
	bundle, entry := false, n.res == -2
	metaAfter := -1
	if n.res >= 0 {
		labels = a.labels[n.res]
		bundle = a.doc.res[n.res].role == roleBundle
		if len(labels) > 0 && n.get("meta") == nil {
			for i, k := range n.keys {
				if k == "resourceType" || k == "id" {
					metaAfter = i
				}
			}
		}
	}
	w := &objWriter{a: a, first: true}
	a.buf = append(a.buf, '{')
	for i, k := range n.keys {
		v := n.vals[i]
		switch {
		case bundle && (k == "total" || k == "signature"):
			// A package is a collection: no search total; a signature over
			// the original cannot verify.
		case bundle && k == "type":
			w.key(k)
			a.buf = appendString(a.buf, "collection")
		case bundle && k == "entry":
			a.entries(w, v)
		case entry && (k == "request" || k == "response" || k == "search"):
			// transport of the upload, not part of the record
		case k == "meta" && len(labels) > 0:
			w.key(k)
			a.meta(v, labels)
		case v.age != nil && v.age.mode == dropHigh:
		case n.mayMask:
			a.maskable(w, n, k, v)
		default:
			w.key(k)
			a.value(v)
		}
		if i == metaAfter {
			w.key("meta")
			a.buf = append(a.buf, `{"security":[`...)
			a.writeLabels(0, labels)
			a.buf = append(a.buf, "]}"...)
		}
	}
	a.buf = append(a.buf, '}')
}

// entries writes a Bundle's entries that still hold a resource (a
// collection's entries must).
func (a *applier) entries(w *objWriter, v *node) {
	if v.kind != kArray {
		return
	}
	kept := 0
	for _, e := range v.vals {
		if e.get("resource") != nil {
			kept++
		}
	}
	if kept == 0 {
		return
	}
	w.key("entry")
	a.buf = append(a.buf, '[')
	j := 0
	for _, e := range v.vals {
		if e.get("resource") == nil {
			continue
		}
		if j > 0 {
			a.buf = append(a.buf, ',')
		}
		j++
		a.value(e)
	}
	a.buf = append(a.buf, ']')
}

// maskable writes key k of object n, replacing masked primitives by
// data-absent-reason extensions in "_k" (FHIR JSON's place for a
// primitive's extensions), merged with an existing "_k".
func (a *applier) maskable(w *objWriter, n *node, k string, v *node) {
	if len(k) > 1 && k[0] == '_' {
		if base := n.get(k[1:]); base != nil {
			if any, _ := a.maskedIn(base); any {
				w.key(k)
				a.primExt(v, base)
				return
			}
		}
		w.key(k)
		a.value(v)
		return
	}
	any, all := a.maskedIn(v)
	if !any {
		w.key(k)
		a.value(v)
		return
	}
	ext := n.get("_" + k)
	if v.isLeaf() || all {
		if ext == nil {
			w.key("_" + k)
			a.primExt(nil, v)
		}
		return // the value goes; its mask is written with "_k"
	}
	w.key(k)
	a.value(v) // masked elements are written as null
	if ext == nil {
		w.key("_" + k)
		a.primExt(nil, v)
	}
}

// primExt writes the "_k" value of primitive k (a leaf or an array of
// leaves): ext (nil when k had none) with a data-absent-reason added where k
// is masked.
func (a *applier) primExt(ext, base *node) {
	if base.isLeaf() {
		a.withMask(ext)
		return
	}
	a.buf = append(a.buf, '[')
	for j, b := range base.vals {
		if j > 0 {
			a.buf = append(a.buf, ',')
		}
		var e *node
		if ext != nil && ext.kind == kArray && j < len(ext.vals) {
			e = ext.vals[j]
		}
		switch {
		case a.isMasked(b):
			a.withMask(e)
		case e == nil:
			a.buf = append(a.buf, "null"...)
		default:
			a.value(e)
		}
	}
	a.buf = append(a.buf, ']')
}

const darExtension = `{"url":"` + grade.DataAbsentReasonURL + `","valueCode":"` + grade.DataAbsentMasked + `"}`

// withMask writes object e (or a new one for nil or null) with the
// data-absent-reason extension appended.
func (a *applier) withMask(e *node) {
	if e == nil || e.kind != kObject {
		a.buf = append(a.buf, `{"extension":[`+darExtension+`]}`...)
		return
	}
	a.appended(e, "extension", func(n int) {
		if n > 0 {
			a.buf = append(a.buf, ',')
		}
		a.buf = append(a.buf, darExtension...)
	})
}

// meta writes a resource's meta with labels added to meta.security.
func (a *applier) meta(m *node, labels []label) {
	if m.kind != kObject {
		a.value(m)
		return
	}
	a.appended(m, "security", func(n int) { a.writeLabels(n, labels) })
}

// appended writes object o with more elements at the end of its array key
// (written by extra, given the number of elements already there), adding
// the key at the end when o has none.
func (a *applier) appended(o *node, key string, extra func(n int)) {
	w := &objWriter{a: a, first: true}
	a.buf = append(a.buf, '{')
	done := false
	for i, k := range o.keys {
		w.key(k)
		v := o.vals[i]
		if k != key || v.kind != kArray {
			a.value(v)
			continue
		}
		a.buf = append(a.buf, '[')
		for j, x := range v.vals {
			if j > 0 {
				a.buf = append(a.buf, ',')
			}
			a.value(x)
		}
		extra(len(v.vals))
		a.buf = append(a.buf, ']')
		done = true
	}
	if !done {
		w.key(key)
		a.buf = append(a.buf, '[')
		extra(0)
		a.buf = append(a.buf, ']')
	}
	a.buf = append(a.buf, '}')
}

// writeLabels writes the label codings, after n elements already written.
func (a *applier) writeLabels(n int, labels []label) {
	for _, l := range labels {
		if n > 0 {
			a.buf = append(a.buf, ',')
		}
		n++
		a.buf = append(a.buf, `{"system":`...)
		a.buf = appendString(a.buf, l.system)
		a.buf = append(a.buf, `,"code":`...)
		a.buf = appendString(a.buf, l.code)
		if l.display != "" {
			a.buf = append(a.buf, `,"display":`...)
			a.buf = appendString(a.buf, l.display)
		}
		a.buf = append(a.buf, '}')
	}
}

// UCUM is the system of the units of a capped age.
const UCUM = "http://unitsofmeasure.org"

func (a *applier) age(n *node) {
	switch n.age.mode {
	case maskAll:
		a.buf = append(a.buf, `{"extension":[`+darExtension+`]}`...)
	case capAge:
		a.buf = append(a.buf, `{"value":90,"comparator":">=","unit":"a","system":"`+UCUM+`","code":"a"}`...)
	case capLow:
		a.buf = append(a.buf, `{"value":90,"unit":"a","system":"`+UCUM+`","code":"a"}`...)
	}
}
