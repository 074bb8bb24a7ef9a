package gateway

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strings"
	"sync"
)

// readBody reads a request body of one of the accepted media types, within
// the body limit the server set with http.MaxBytesReader. It returns the
// media type found.
func readBody(r *http.Request, accept ...string) ([]byte, string, error) {
	ct := r.Header.Get("Content-Type")
	mt, _, err := mime.ParseMediaType(ct)
	if ct == "" || err != nil {
		return nil, "", problem(http.StatusUnsupportedMediaType, ProblemMediaType, "Unsupported media type",
			fmt.Sprintf("Content-Type must be one of %s", strings.Join(accept, ", ")))
	}
	ok := false
	for _, a := range accept {
		ok = ok || mt == a
	}
	if !ok {
		return nil, "", problem(http.StatusUnsupportedMediaType, ProblemMediaType, "Unsupported media type",
			fmt.Sprintf("Content-Type %s is not accepted here; use %s", mt, strings.Join(accept, ", ")))
	}
	b, err := io.ReadAll(r.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, "", problem(http.StatusRequestEntityTooLarge, ProblemTooLarge, "Request too large",
				fmt.Sprintf("the body exceeds the gateway's limit of %d bytes", mbe.Limit))
		}
		return nil, "", badRequest("", "reading the body: %v", err)
	}
	return b, mt, nil
}

// decodeStrict decodes one JSON value into v, refusing unknown fields,
// trailing data and null/empty bodies, with the offending field named.
func decodeStrict(b []byte, v any) error {
	t := bytes.TrimSpace(b)
	if len(t) == 0 {
		return badRequest("", "the body is empty; a JSON object is required")
	}
	if t[0] != '{' {
		// null would decode as an empty request: a recall of nobody, an
		// epoch rotation. Only an object is a request.
		return badRequest("", "the body must be a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonProblem(err)
	}
	if dec.More() {
		return badRequest("", "trailing data after the JSON object")
	}
	if _, err := dec.Token(); err != io.EOF {
		return badRequest("", "trailing data after the JSON object")
	}
	return strictKeys(b, reflect.TypeOf(v))
}

var (
	rawMessageType  = reflect.TypeFor[json.RawMessage]()
	unmarshalerType = reflect.TypeFor[json.Unmarshaler]()
)

// strictKeys refuses what encoding/json lets through silently: a key given
// twice in one object (the last one would win, and another parser may read
// the first) and a key whose case differs from its field's (encoding/json
// matches names case-insensitively), so that a body has exactly one
// reading. b has already been decoded into a value of type t, so it is
// valid JSON of t's shape, nested at most 10,000 deep; values decoded by
// their own parser (json.RawMessage such as an upload's document, times)
// are skipped: the grader refuses duplicate keys in documents itself.
func strictKeys(b []byte, t reflect.Type) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	return walkKeys(dec, t, "")
}

func fieldPath(parent, key string) string {
	if parent == "" {
		return key
	}
	return parent + "." + key
}

// fieldsCache holds jsonFields' answers by type (request types are few).
var fieldsCache sync.Map

// jsonFields maps a struct's JSON field names (exact case) to their types.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	if v, ok := fieldsCache.Load(t); ok {
		return v.(map[string]reflect.Type)
	}
	out := map[string]reflect.Type{}
	defer fieldsCache.Store(t, out)
	for f := range t.Fields() {
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if f.Anonymous && name == "" {
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				for k, v := range jsonFields(ft) {
					if _, ok := out[k]; !ok {
						out[k] = v
					}
				}
				continue
			}
		}
		if name == "" {
			name = f.Name
		}
		out[name] = f.Type
	}
	return out
}

func walkKeys(dec *json.Decoder, t reflect.Type, path string) error {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t != nil && (t == rawMessageType || reflect.PointerTo(t).Implements(unmarshalerType)) {
		var skip json.RawMessage
		return dec.Decode(&skip)
	}
	tok, err := dec.Token()
	if err != nil {
		return jsonProblem(err)
	}
	switch tok {
	case json.Delim('{'):
		var fields map[string]reflect.Type
		if t != nil && t.Kind() == reflect.Struct {
			fields = jsonFields(t)
		}
		seen := map[string]bool{}
		for dec.More() {
			kt, err := dec.Token()
			if err != nil {
				return jsonProblem(err)
			}
			key, _ := kt.(string)
			f := fieldPath(path, key)
			if seen[key] {
				return badRequest(f, "the key %q is given twice", key)
			}
			seen[key] = true
			var next reflect.Type
			switch {
			case fields != nil:
				ft, ok := fields[key]
				if !ok {
					for name := range fields {
						if strings.EqualFold(name, key) {
							return badRequest(f, "unknown field %q: field names are case-sensitive (%q)", key, name)
						}
					}
					return badRequest(f, "unknown field %q", key)
				}
				next = ft
			case t != nil && t.Kind() == reflect.Map:
				next = t.Elem()
			}
			if err := walkKeys(dec, next, f); err != nil {
				return err
			}
		}
	case json.Delim('['):
		var elem reflect.Type
		if t != nil && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) {
			elem = t.Elem()
		}
		for i := 0; dec.More(); i++ {
			if err := walkKeys(dec, elem, fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
	default:
		return nil
	}
	if _, err := dec.Token(); err != nil { // the closing delimiter
		return jsonProblem(err)
	}
	return nil
}

// jsonProblem turns a decoding error into a 400 naming the field.
func jsonProblem(err error) *Problem {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return badRequest("", "malformed JSON at byte %d: %v", se.Offset, se)
	case errors.As(err, &te):
		field := te.Field
		return badRequest(field, "%s must be %s, not a JSON %s", orBody(field), jsonKind(te.Type.String()), te.Value)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		f := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return badRequest(f, "unknown field %q", f)
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return badRequest("", "truncated JSON")
	}
	return badRequest("", "invalid JSON: %v", err)
}

func orBody(field string) string {
	if field == "" {
		return "the body"
	}
	return field
}

func jsonKind(goType string) string {
	switch {
	case strings.HasPrefix(goType, "[]uint8"):
		return "a base64 string"
	case strings.HasPrefix(goType, "[]"):
		return "an array"
	case strings.HasPrefix(goType, "map"), strings.Contains(goType, "."):
		return "an object or string of the documented shape"
	case strings.HasPrefix(goType, "int"), strings.HasPrefix(goType, "uint"), strings.HasPrefix(goType, "float"):
		return "a number"
	}
	return "a " + goType
}
