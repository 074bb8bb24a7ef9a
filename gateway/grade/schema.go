package grade

import (
	"fmt"
	"regexp"
	"strings"
	"sync"

	apb "github.com/google/fhir/go/proto/google/fhir/proto/annotations_go_proto"
	bcrpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/bundle_and_contained_resource_go_proto"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// The FHIR R4 schema used to type and check documents comes from the
// StructureDefinitions compiled into github.com/google/fhir/go's R4 protos
// and their annotations (structure definition URL, choice types, required
// fields, primitive value regexes, code enums). No FHIR model is written by
// hand here: this file only reads those descriptors.

// tkind is what a FHIR type is in JSON.
type tkind uint8

const (
	tPrimitive   tkind = iota // a JSON string, number or boolean
	tComplex                  // a JSON object of a datatype or backbone element
	tResource                 // a JSON object with a matching resourceType
	tAnyResource              // a JSON object holding any resource (Bundle.entry.resource, contained)
)

// numKind tells how a numeric primitive is checked.
type numKind uint8

const (
	numNone numKind = iota
	numDecimal
	numInteger
	numPositive
	numUnsigned
)

// ftype is one FHIR type (datatype, primitive, backbone element or
// resource). It is immutable once its fields are built (lazily, once).
type ftype struct {
	s    *schema
	name string // FHIR type name ("Patient", "HumanName", "date"); "" for backbone elements
	kind tkind
	desc protoreflect.MessageDescriptor

	// primitives
	json kind           // JSON kind of the value
	num  numKind        // numeric check
	re   *regexp.Regexp // value regex (anchored), nil when none
	enum map[string]bool

	once     sync.Once
	fields   map[string]*field // by JSON key, including "_x" and choice variants
	required []*field          // one per required element (for a choice: its first variant)
	elem     *ftype            // for a primitive: the type of its "_x" object (id, extension)
}

// field is one JSON key of a complex type.
type field struct {
	key      string // JSON key ("valueQuantity", "_birthDate")
	name     string // element name ("value", "birthDate")
	typ      *ftype
	repeated bool
	primExt  bool // key is "_x": the id/extensions of primitive x
	choice   bool
	required bool
}

// schema holds the R4 types reachable from the resources.
type schema struct {
	mu        sync.Mutex
	byDesc    map[protoreflect.FullName]*ftype
	resources map[string]*ftype // resource types by name
	datatypes map[string]*ftype // datatypes and primitives by FHIR name, filled as met
	anyRes    *ftype
}

var (
	r4Once   sync.Once
	r4Schema *schema
)

// r4 returns the R4 schema, built once from the library's descriptors. It is
// immutable apart from its lazily built, lock-protected caches.
func r4() *schema {
	r4Once.Do(func() {
		s := &schema{
			byDesc:    map[protoreflect.FullName]*ftype{},
			resources: map[string]*ftype{},
			datatypes: map[string]*ftype{},
		}
		s.anyRes = &ftype{kind: tAnyResource}
		cr := (&bcrpb.ContainedResource{}).ProtoReflect().Descriptor()
		oneof := cr.Oneofs().ByName("oneof_resource")
		for i := 0; i < oneof.Fields().Len(); i++ {
			m := oneof.Fields().Get(i).Message()
			t := s.typeOf(m)
			s.resources[t.name] = t
		}
		// Walk every type reachable from the resources so that type rules can
		// be validated against the complete list of datatypes.
		seen := map[protoreflect.FullName]bool{}
		var visit func(t *ftype)
		visit = func(t *ftype) {
			if t == nil || t.desc == nil || seen[t.desc.FullName()] {
				return
			}
			seen[t.desc.FullName()] = true
			if t.kind == tPrimitive {
				return
			}
			for _, f := range t.fieldMap() {
				visit(f.typ)
			}
		}
		for _, t := range s.resources {
			visit(t)
		}
		r4Schema = s
	})
	return r4Schema
}

// typeOf returns the ftype of a message descriptor, creating it once.
func (s *schema) typeOf(m protoreflect.MessageDescriptor) *ftype {
	if m.FullName() == "google.protobuf.Any" || m.FullName() == "google.fhir.r4.core.ContainedResource" {
		return s.anyRes
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if t, ok := s.byDesc[m.FullName()]; ok {
		return t
	}
	t := &ftype{s: s, desc: m}
	opts := m.Options()
	sdKind := proto.GetExtension(opts, apb.E_StructureDefinitionKind).(apb.StructureDefinitionKindValue)
	url := proto.GetExtension(opts, apb.E_FhirStructureDefinitionUrl).(string)
	if i := strings.LastIndexByte(url, '/'); i >= 0 {
		t.name = url[i+1:]
	}
	switch t.name {
	case "SimpleQuantity", "MoneyQuantity":
		t.name = "Quantity" // profiles of Quantity: same JSON, same rules
	}
	switch sdKind {
	case apb.StructureDefinitionKindValue_KIND_PRIMITIVE_TYPE:
		t.kind = tPrimitive
		if t.name == "" {
			t.name = "code" // code enums carry no URL of their own
		}
		t.json = kString
		switch t.name {
		case "boolean":
			t.json = kBool
		case "decimal":
			t.json, t.num = kNumber, numDecimal
		case "integer":
			t.json, t.num = kNumber, numInteger
		case "positiveInt":
			t.json, t.num = kNumber, numPositive
		case "unsignedInt":
			t.json, t.num = kNumber, numUnsigned
		}
		if re := proto.GetExtension(opts, apb.E_ValueRegex).(string); re != "" {
			// RE2 may refuse an exotic regex; the value is then only kind-checked.
			if c, err := regexp.Compile(`^(?:` + re + `)$`); err == nil {
				t.re = c
			}
		}
		if v := m.Fields().ByName("value"); v != nil && v.Kind() == protoreflect.EnumKind {
			t.enum = map[string]bool{}
			vals := v.Enum().Values()
			for i := 0; i < vals.Len(); i++ {
				ev := vals.Get(i)
				if ev.Number() == 0 {
					continue // INVALID_UNINITIALIZED
				}
				code := proto.GetExtension(ev.Options(), apb.E_FhirOriginalCode).(string)
				if code == "" {
					code = strings.ReplaceAll(strings.ToLower(string(ev.Name())), "_", "-")
				}
				t.enum[code] = true
			}
		}
	case apb.StructureDefinitionKindValue_KIND_RESOURCE:
		t.kind = tResource
		t.name = string(m.Name())
	default:
		t.kind = tComplex
	}
	s.byDesc[m.FullName()] = t
	if t.name != "" && t.kind != tResource {
		if _, ok := s.datatypes[t.name]; !ok {
			s.datatypes[t.name] = t
		}
	}
	return t
}

// fieldMap returns the JSON keys of a complex type or resource.
func (t *ftype) fieldMap() map[string]*field {
	t.once.Do(t.build)
	return t.fields
}

// requiredFields returns the required elements of t.
func (t *ftype) requiredFields() []*field {
	t.once.Do(t.build)
	return t.required
}

// elemType returns the type of a primitive's "_x" object.
func (t *ftype) elemType() *ftype {
	t.once.Do(t.build)
	return t.elem
}

func (t *ftype) build() {
	if t.desc == nil {
		return
	}
	s := t.s
	fs := t.desc.Fields()
	if t.kind == tPrimitive {
		// "_x": the primitive's id and extensions.
		e := &ftype{s: s, name: t.name, kind: tComplex, fields: map[string]*field{}}
		e.once.Do(func() {})
		for i := 0; i < fs.Len(); i++ {
			f := fs.Get(i)
			if f.Name() == "value" || f.Message() == nil {
				continue
			}
			e.fields[f.JSONName()] = &field{key: f.JSONName(), name: f.JSONName(), typ: s.typeOf(f.Message()), repeated: f.IsList()}
		}
		t.elem = e
		return
	}
	t.fields = map[string]*field{}
	isRef := t.name == "Reference"
	for i := 0; i < fs.Len(); i++ {
		f := fs.Get(i)
		if f.Message() == nil {
			continue
		}
		if isRef && f.ContainingOneof() != nil {
			// The library splits Reference.reference by target type; in JSON
			// it is one string.
			if f.Name() == "uri" {
				rt := s.typeOf(f.Message())
				t.fields["reference"] = &field{key: "reference", name: "reference", typ: rt}
				t.fields["_reference"] = &field{key: "_reference", name: "reference", typ: rt, primExt: true}
			}
			continue
		}
		required := proto.GetExtension(f.Options(), apb.E_ValidationRequirement).(apb.Requirement) == apb.Requirement_REQUIRED_BY_FHIR
		if proto.HasExtension(f.Message().Options(), apb.E_IsChoiceType) {
			vs := f.Message().Fields()
			var first *field
			for j := 0; j < vs.Len(); j++ {
				v := vs.Get(j)
				if v.Message() == nil {
					continue
				}
				vt := s.typeOf(v.Message())
				key := f.JSONName() + upperFirst(v.JSONName())
				fd := &field{key: key, name: f.JSONName(), typ: vt, choice: true, required: required}
				t.fields[key] = fd
				if vt.kind == tPrimitive {
					t.fields["_"+key] = &field{key: "_" + key, name: f.JSONName(), typ: vt, choice: true, primExt: true}
				}
				if first == nil {
					first = fd
				}
			}
			if required && first != nil {
				t.required = append(t.required, first)
			}
			continue
		}
		ft := s.typeOf(f.Message())
		fd := &field{key: f.JSONName(), name: f.JSONName(), typ: ft, repeated: f.IsList(), required: required}
		t.fields[fd.key] = fd
		if ft.kind == tPrimitive {
			t.fields["_"+fd.key] = &field{key: "_" + fd.key, name: fd.name, typ: ft, repeated: fd.repeated, primExt: true}
		}
		if required {
			t.required = append(t.required, fd)
		}
	}
}

func upperFirst(s string) string {
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		return s
	}
	return string(s[0]-'a'+'A') + s[1:]
}

// checkPrimitive checks a primitive value against its type; it returns a
// reason, or "" when the value is valid.
func (t *ftype) checkPrimitive(n *node) string {
	if n.kind != t.json {
		return fmt.Sprintf("expected a JSON %s for a FHIR %s, found %s", t.json, t.name, n.kind)
	}
	switch n.kind {
	case kBool:
		return ""
	case kNumber:
		if t.num != numDecimal {
			v, ok := parseInt32(n.str)
			if !ok {
				return fmt.Sprintf("%s is not a FHIR %s (32-bit integer)", n.str, t.name)
			}
			if (t.num == numPositive && v < 1) || (t.num == numUnsigned && v < 0) {
				return fmt.Sprintf("%s is out of range for a FHIR %s", n.str, t.name)
			}
			return ""
		}
	}
	if t.enum != nil {
		if !t.enum[n.str] {
			return fmt.Sprintf("%q is not a valid code here", truncate(n.str, 40))
		}
		return ""
	}
	if t.re != nil && !t.re.MatchString(n.str) {
		return fmt.Sprintf("value is not a valid FHIR %s", t.name)
	}
	return ""
}

// parseInt32 parses a JSON integer literal (no fraction, no exponent) that
// fits in 32 bits.
func parseInt32(s string) (int64, bool) {
	neg := false
	if s != "" && s[0] == '-' {
		neg, s = true, s[1:]
	}
	if s == "" || len(s) > 10 {
		return 0, false
	}
	var v int64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int64(c-'0')
	}
	if neg {
		v = -v
	}
	if v < -1<<31 || v > 1<<31-1 {
		return 0, false
	}
	return v, true
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
