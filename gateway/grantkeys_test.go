package gateway

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"testing"
)

func hashOf(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func TestGrantKeys(t *testing.T) {
	g := newGrantKeys(100)
	k := grantKey{channel: "side-low", recordID: "r1", version: 2}
	m := bytes.Repeat([]byte{1}, 40)
	if _, ok := g.get(k, hashOf(m)); ok {
		t.Fatal("an empty cache answered")
	}
	g.put(k, m)
	if got, ok := g.get(k, hashOf(m)); !ok || !bytes.Equal(got, m) {
		t.Fatal("a held m was not answered")
	}
	// Another H(m) than the decision's: the ledger granted other keys.
	if _, ok := g.get(k, hashOf([]byte("other"))); ok {
		t.Fatal("m answered for another hash")
	}
	// Another version is another entry.
	if _, ok := g.get(grantKey{channel: "side-low", recordID: "r1", version: 3}, hashOf(m)); ok {
		t.Fatal("m answered for another version")
	}
	// Bounded in bytes: 40 + 40 + 40 > 100 drops one.
	g.put(grantKey{recordID: "r2"}, bytes.Repeat([]byte{2}, 40))
	g.put(grantKey{recordID: "r3"}, bytes.Repeat([]byte{3}, 40))
	if g.bytes > 100 || len(g.m) != 2 {
		t.Fatalf("%d bytes in %d entries, bound 100", g.bytes, len(g.m))
	}
	// Replacing an entry counts its bytes once.
	g.put(grantKey{recordID: "r3"}, bytes.Repeat([]byte{3}, 10))
	sum := 0
	for _, v := range g.m {
		sum += len(v)
	}
	if sum != g.bytes {
		t.Fatalf("counted %d bytes, holds %d", g.bytes, sum)
	}
	// Empty and oversized m are not kept.
	g.put(grantKey{recordID: "r4"}, nil)
	g.put(grantKey{recordID: "r5"}, make([]byte, 101))
	if _, ok := g.m[grantKey{recordID: "r5"}]; ok {
		t.Fatal("an m larger than the bound was kept")
	}
}
