package enc

import (
	"bytes"
	"crypto/sha256"
	"testing"
	"time"
)

func TestLayout(t *testing.T) {
	got := New("d").String("ab").Bytes([]byte{9}).Uint64(1).Uint32(2).Time(time.Unix(0, 3)).Strings([]string{"x"}).Fixed([]byte{7}).Encoded()
	want := []byte{
		0, 0, 0, 1, 'd',
		0, 0, 0, 2, 'a', 'b',
		0, 0, 0, 1, 9,
		0, 0, 0, 0, 0, 0, 0, 1,
		0, 0, 0, 2,
		0, 0, 0, 0, 0, 0, 0, 3,
		0, 0, 0, 1, 0, 0, 0, 1, 'x',
		7,
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("encoding = %v\n      want %v", got, want)
	}
	if New("d").Sum256() != sha256.Sum256([]byte{0, 0, 0, 1, 'd'}) {
		t.Fatal("Sum256 is not SHA-256 of the encoding")
	}
}

func TestLengthsSeparateFields(t *testing.T) {
	if New("d").String("ab").String("c").Sum256() == New("d").String("a").String("bc").Sum256() {
		t.Fatal("field boundaries are ambiguous")
	}
}
