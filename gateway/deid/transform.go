package deid

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"math"
	"strconv"
	"strings"
	"time"
)

// opKind is what Apply does to one leaf.
type opKind uint8

const (
	opPseudo    opKind = iota // prefix + pseudonym(token) + suffix
	opShift                   // the date moved by the patient's shift
	opBirthYear               // the year, or masked when it implies 90+
	opConst                   // a value fixed in Prepare (year, postal area)
	opMask                    // a data-absent-reason instead of the value
)

type op struct {
	leaf    int32
	res     int32
	patient int32
	kind    opKind
	// pseudonyms
	prefix, token, suffix string
	// dates
	date dateVal
	ok   bool
	// constants
	value string
}

func dateOp(a Action, typ string) opKind {
	switch a {
	case Shift:
		return opShift
	case BirthYear:
		return opBirthYear
	}
	if typ == "instant" {
		return opMask // an instant must be complete: no year-only form
	}
	return opConst
}

func isDateType(t string) bool { return t == "date" || t == "dateTime" || t == "instant" }

// dateVal is a FHIR date, dateTime or instant: the calendar date at its
// precision, and the rest (time and zone) kept verbatim.
type dateVal struct {
	y, m, d int
	prec    int    // 1 year, 2 month, 3 day
	rest    string // "T…" or ""
}

// parseDate parses the date part of a FHIR date, dateTime or instant (the
// grader has checked the value against its type's regex).
func parseDate(s string) (dateVal, bool) {
	var v dateVal
	num := func(p string) (int, bool) {
		n, err := strconv.Atoi(p)
		return n, err == nil && len(p) > 0 && p[0] != '+' && p[0] != '-'
	}
	date, rest := s, ""
	if i := strings.IndexByte(s, 'T'); i >= 0 {
		date, rest = s[:i], s[i:]
	}
	parts := strings.Split(date, "-")
	if len(parts) < 1 || len(parts) > 3 || len(parts[0]) != 4 {
		return v, false
	}
	var ok bool
	if v.y, ok = num(parts[0]); !ok || v.y < 1 {
		return v, false
	}
	v.prec, v.rest = len(parts), rest
	if v.prec >= 2 {
		if v.m, ok = num(parts[1]); !ok || len(parts[1]) != 2 || v.m < 1 || v.m > 12 {
			return v, false
		}
	}
	if v.prec == 3 {
		if v.d, ok = num(parts[2]); !ok || len(parts[2]) != 2 || v.d < 1 || v.d > daysIn(v.y, v.m) {
			return v, false
		}
	}
	if rest != "" && v.prec != 3 {
		return v, false
	}
	return v, true
}

func daysIn(y, m int) int {
	return time.Date(y, time.Month(m)+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

func (v dateVal) year() string { return pad4(v.y) }

func pad4(y int) string {
	s := strconv.Itoa(y)
	for len(s) < 4 {
		s = "0" + s
	}
	return s
}

// shift moves the date by days at its precision: a month-precision date is
// moved from its 15th, a year from its 1 July. It reports false when the
// result leaves years 1..9999.
func (v dateVal) shift(days int) (string, bool) {
	m, d := v.m, v.d
	switch v.prec {
	case 1:
		m, d = 7, 1
	case 2:
		d = 15
	}
	t := time.Date(v.y, time.Month(m), d, 12, 0, 0, 0, time.UTC).AddDate(0, 0, days)
	if t.Year() < 1 || t.Year() > 9999 {
		return "", false
	}
	out := pad4(t.Year())
	if v.prec >= 2 {
		out += "-" + two(int(t.Month()))
	}
	if v.prec == 3 {
		out += "-" + two(t.Day()) + v.rest
	}
	return out, true
}

func two(n int) string {
	if n < 10 {
		return "0" + strconv.Itoa(n)
	}
	return strconv.Itoa(n)
}

// zip3 returns the three-digit area of a postal code ("000" for restricted
// areas), or false when the code does not start with three digits.
func zip3(s string, restricted map[string]bool) (string, bool) {
	s = strings.TrimSpace(s)
	if len(s) < 3 || !allDigits(s[:3]) {
		return "", false
	}
	if restricted[s[:3]] {
		return "000", true
	}
	return s[:3], true
}

// keys derives the package's pseudonym and date-shift keys from its secret.
type keys struct {
	pseudo, shift []byte
}

func deriveKeys(secret []byte) keys {
	mac := func(label string) []byte {
		h := hmac.New(sha256.New, secret)
		h.Write([]byte(label))
		return h.Sum(nil)
	}
	return keys{pseudo: mac("medshare/deid/pseudonym/v1"), shift: mac("medshare/deid/date-shift/v1")}
}

// pseudonym returns the token's pseudonym under key: HMAC-SHA256 truncated
// to 128 bits, formatted as a UUID (version 8, RFC 9562 variant), so that it
// is a valid FHIR id and a valid urn:uuid.
func pseudonym(key []byte, token string) string {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(token))
	var sum [sha256.Size]byte
	b := h.Sum(sum[:0])
	b[6] = b[6]&0x0f | 0x80
	b[8] = b[8]&0x3f | 0x80
	var out [36]byte
	j := 0
	for i := 0; i < 16; i++ {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			out[j] = '-'
			j++
		}
		out[j], out[j+1] = hexDigits[b[i]>>4], hexDigits[b[i]&0xf]
		j += 2
	}
	return string(out[:])
}

// shiftDays returns the date shift of a patient key: ±1..max days.
func shiftDays(key []byte, patient string, max int) int {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(patient))
	b := h.Sum(nil)
	v := binary.BigEndian.Uint64(b[:8])
	days := int(v>>1%uint64(max)) + 1
	if v&1 == 1 {
		return -days
	}
	return days
}

// fullURLTemplate pseudonymises a Bundle entry's fullUrl: urn:uuid:X keeps
// its form, urn:oid:X and absolute URLs become urn:uuid: of a pseudonym (of
// the id for ".../Type/id", so that it matches the resource's pseudonymised
// id).
func fullURLTemplate(s string) (prefix, token, suffix string) {
	switch {
	case strings.HasPrefix(s, "urn:uuid:"):
		return "urn:uuid:", s[len("urn:uuid:"):], ""
	case strings.HasPrefix(s, "urn:oid:"):
		return "urn:uuid:", s, ""
	}
	if _, id, _, ok := splitRelative(lastTypeID(s)); ok {
		return "urn:uuid:", id, ""
	}
	return "urn:uuid:", s, ""
}

// referenceTemplate pseudonymises a Reference.reference, keeping its form
// so that it still resolves inside the package: "#x" → "#P(x)",
// "urn:uuid:x" → "urn:uuid:P(x)", "Type/x" → "Type/P(x)" (the version
// dropped), an absolute or relative reference to an entry whose fullUrl
// becomes a urn:uuid → that urn:uuid, anything else (conditional
// references, logical strings) → "Type/P(s)" or "urn:uuid:P(s)".
func (doc *Document) referenceTemplate(s string) (prefix, token, suffix string) {
	switch {
	case s == "#":
		return "#", "", "" // the container itself: Apply keeps it
	case strings.HasPrefix(s, "#"):
		return "#", s[1:], ""
	case strings.HasPrefix(s, "urn:uuid:"):
		return "urn:uuid:", s[len("urn:uuid:"):], ""
	case strings.HasPrefix(s, "urn:oid:"):
		return "urn:uuid:", s, ""
	}
	if i := strings.IndexByte(s, '?'); i > 0 && !strings.Contains(s[:i], "/") {
		return s[:i] + "/", s, "" // conditional reference "Type?query"
	}
	tail := lastTypeID(s)
	typ, id, _, ok := splitRelative(tail)
	if !ok {
		return "urn:uuid:", s, ""
	}
	absolute := tail != s
	if (absolute || doc.absoluteEntry(typ, id)) && doc.inDocument(typ, id) {
		return "urn:uuid:", id, ""
	}
	return typ + "/", id, ""
}

// absoluteEntry reports whether the document holds resource typ/id in a
// Bundle entry with an absolute (http) fullUrl, which the package rewrites
// to a urn:uuid.
func (doc *Document) absoluteEntry(typ, id string) bool {
	i, ok := doc.byTypeID[typ+"/"+id]
	return ok && doc.res[i].fullURL != "" && !strings.HasPrefix(doc.res[i].fullURL, "urn:")
}

// inDocument reports whether the document holds resource typ/id in a
// Bundle entry.
func (doc *Document) inDocument(typ, id string) bool {
	i, ok := doc.byTypeID[typ+"/"+id]
	return ok && doc.res[i].fullURL != ""
}

// lastTypeID returns the "Type/id[/_history/v]" tail of an absolute
// reference, or s itself.
func lastTypeID(s string) string {
	if !strings.Contains(s, "://") {
		return s
	}
	parts := strings.Split(s, "/")
	n := len(parts)
	if n >= 4 && parts[n-2] == "_history" {
		return strings.Join(parts[n-4:], "/")
	}
	if n >= 2 {
		return strings.Join(parts[n-2:], "/")
	}
	return s
}

// splitRelative splits "Type/id" or "Type/id/_history/v".
func splitRelative(s string) (typ, id, version string, ok bool) {
	parts := strings.Split(s, "/")
	switch {
	case len(parts) == 2:
	case len(parts) == 4 && parts[2] == "_history":
		version = parts[3]
	default:
		return "", "", "", false
	}
	typ, id = parts[0], parts[1]
	if typ == "" || id == "" || typ[0] < 'A' || typ[0] > 'Z' {
		return "", "", "", false
	}
	return typ, id, version, true
}

// ageCap is the planned replacement of an age quantity (or of its Range).
type ageCap struct {
	mode uint8
}

const (
	capAge   uint8 = iota // {value 90, comparator >=, unit a}
	capLow                // a Range's low bound: 90 years
	dropHigh              // a Range's high bound: removed
	maskAll               // the whole Range: a data-absent-reason
)

// ageUnits converts UCUM time units to years.
var ageUnits = map[string]float64{
	"a": 1, "yr": 1, "year": 1, "years": 1, "y": 1,
	"mo": 1.0 / 12, "month": 1.0 / 12, "months": 1.0 / 12,
	"wk": 7 / 365.25, "week": 7 / 365.25, "weeks": 7 / 365.25,
	"d": 1 / 365.25, "day": 1 / 365.25, "days": 1 / 365.25,
	"h": 1 / 8766.0, "min": 1 / 525960.0,
}

// ageYears reads a quantity object as years; a quantity with no known time
// unit counts as years (fail closed).
func ageYears(q *node) (float64, bool) {
	v := q.get("value")
	if v == nil || v.kind != kNumber {
		return 0, false
	}
	f, err := strconv.ParseFloat(v.str, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, false
	}
	for _, k := range []string{"code", "unit"} {
		if u := q.get(k); u != nil && u.kind == kString {
			if y, ok := ageUnits[u.str]; ok {
				return f * y, true
			}
		}
	}
	return f, true
}

// planAge caps an age quantity of 90 years or more.
func (doc *Document) planAge(q *node) {
	if q == nil || q.age != nil || q.kind != kObject {
		return
	}
	years, ok := ageYears(q)
	if !ok || years < 90 {
		return
	}
	up := doc.nodeUp[q]
	res := int32(-1)
	if l := q.get("value"); l != nil && l.leaf >= 0 {
		res = doc.leaves[l.leaf].res
	}
	doc.flag(res, fAbstr)
	target, mode := q, capAge
	switch up.key {
	case "low":
		mode = capLow
	case "high":
		mode = dropHigh
		if up.parent.get("low") == nil {
			target, mode = up.parent, maskAll
			doc.flag(res, fRedact)
		}
	}
	if target.age == nil {
		target.age = &ageCap{mode: mode}
		doc.ages = append(doc.ages, target)
	}
}
