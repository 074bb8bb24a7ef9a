package arg

import (
	"errors"
	"strings"
	"testing"

	"github.com/medshare/medshare/chaincode/ccerr"
)

func TestValidators(t *testing.T) {
	v1 := "b" + strings.Repeat("a", 58)
	tests := []struct {
		name string
		err  error
		ok   bool
	}{
		{"id", ID("x", "rec-1.a_b:c"), true},
		{"id space", ID("x", "rec 1"), false},
		{"id star", ID("x", "*"), false},
		{"name", Name("x", "side-high"), true},
		{"name upper", Name("x", "Side"), false},
		{"cid v0", CID("x", "Qm"+strings.Repeat("a", 44)), true},
		{"cid v0 l", CID("x", "Qm"+strings.Repeat("l", 44)), false},
		{"cid v1", CID("x", v1), true},
		{"cid v1 short", CID("x", v1[:58]), false},
		{"cid v1 digit 8", CID("x", v1[:58]+"8"), false},
		{"text control", Text("x", "a\nb", 0, 10), false},
		{"text", Text("x", "héllo", 1, 10), true},
		{"level", Level("x", "medium"), true},
		{"level", Level("x", "secret"), false},
	}
	for _, tt := range tests {
		if (tt.err == nil) != tt.ok {
			t.Errorf("%s: err = %v", tt.name, tt.err)
		}
		if tt.err != nil && !errors.Is(tt.err, ccerr.ErrInvalidArgument) {
			t.Errorf("%s: %v is not ErrInvalidArgument", tt.name, tt.err)
		}
	}
	if _, err := Hash("h", strings.Repeat("A", 64)); err == nil {
		t.Error("uppercase hash accepted")
	}
	if _, err := Time("t", "1969-12-31T23:59:59Z"); err == nil {
		t.Error("time before 1970 accepted")
	}
	if tm, err := Time("t", "2026-01-01T01:00:00+01:00"); err != nil || tm.Location().String() != "UTC" || tm.Hour() != 0 {
		t.Errorf("time with offset = %v, %v", tm, err)
	}
	if _, err := Base64("b", "AAA", 0, 10); err == nil {
		t.Error("unpadded base64 accepted")
	}
}
