package gateway

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
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
	if len(bytes.TrimSpace(b)) == 0 {
		return badRequest("", "the body is empty; a JSON object is required")
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
