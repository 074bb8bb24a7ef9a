package jsoncache_test

import (
	"testing"

	"github.com/medshare/medshare/chaincode/internal/jsoncache"
)

type rec struct {
	ID string `json:"id"`
	N  int    `json:"n"`
}

func TestDecodeIsAPureFunctionOfTheBytes(t *testing.T) {
	c, err := jsoncache.New[rec](2)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		in      string
		want    rec
		wantErr string
	}{
		{in: `{"id":"a","n":1}`, want: rec{"a", 1}},
		{in: `{"id":"b","n":2}`, want: rec{"b", 2}},
		{in: `{"id":"a","n":1}`, want: rec{"a", 1}},
		{in: `{"id":"c","n":3}`, want: rec{"c", 3}}, // evicts the least recently used
		{in: `{"id":"b","n":2}`, want: rec{"b", 2}},
		{in: `{"id":`, wantErr: "unexpected end of JSON input"},
		{in: `{"id":`, wantErr: "unexpected end of JSON input"}, // failures are not cached
	}
	for _, tc := range tests {
		got, err := c.Decode([]byte(tc.in))
		if tc.wantErr != "" {
			if err == nil || err.Error() != tc.wantErr {
				t.Errorf("Decode(%s) = %v, %v; want error %q", tc.in, got, err, tc.wantErr)
			}
			continue
		}
		if err != nil || *got != tc.want {
			t.Errorf("Decode(%s) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
	a1, _ := c.Decode([]byte(`{"id":"a","n":1}`))
	a2, _ := c.Decode([]byte(`{"id":"a","n":1}`))
	if a1 != a2 {
		t.Error("a repeated decoding must return the cached value")
	}
}

func TestNewRefusesNoRoom(t *testing.T) {
	if _, err := jsoncache.New[rec](0); err == nil {
		t.Fatal("New(0) = nil error, want a refusal")
	}
}
