package wire

import (
	"errors"
	"testing"
)

func TestReader(t *testing.T) {
	b := AppendU16(nil, 0x0102)
	b = AppendU32(b, 3)
	b = AppendU64(b, 4)
	b = AppendVarBytes16(b, []byte("ab"))
	b = AppendVarBytes32(b, []byte("cde"))
	b = append(b, 9)
	r := NewReader(b)
	if r.U16() != 0x0102 || r.U32() != 3 || r.U64() != 4 || string(r.VarBytes16(2)) != "ab" || string(r.VarBytes32(3)) != "cde" || r.U8() != 9 {
		t.Fatal("values")
	}
	if err := r.Done(); err != nil || r.Offset() != len(b) || r.Remaining() != 0 {
		t.Fatalf("Done: %v", err)
	}

	r = NewReader(b[:3])
	r.U16()
	if r.U32() != 0 || !errors.Is(r.Err(), ErrTruncated) || r.U8() != 0 || r.Bytes(1) != nil {
		t.Fatal("truncation not sticky")
	}
	if !errors.Is(r.Done(), ErrTruncated) {
		t.Fatal("Done after truncation")
	}

	r = NewReader(b)
	r.U16()
	if !errors.Is(r.Done(), ErrTrailing) {
		t.Fatal("trailing bytes not reported")
	}

	r = NewReader(AppendVarBytes16(nil, []byte("abc")))
	if r.VarBytes16(2) != nil || r.Err() == nil {
		t.Fatal("limit not enforced")
	}
	r = NewReader(AppendU32(nil, 1<<31))
	if r.VarBytes32(10) != nil || r.Err() == nil {
		t.Fatal("32-bit limit not enforced")
	}
	r = NewReader(nil)
	if r.Bytes(-1) != nil || r.Err() == nil {
		t.Fatal("negative length")
	}
}
