package credential_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"flag"
	"fmt"
	mrand "math/rand/v2"
	"os"
	"strings"
	"testing"

	"github.com/medshare/medshare/abe/credential"
	"github.com/medshare/medshare/abe/tag"
)

var update = flag.Bool("update", false, "rewrite testdata/golden-v1.txt")

const goldenPath = "testdata/golden-v1.txt"

// TestGolden checks that a disclosure produced by an earlier build (version 1
// format) still decodes, re-encodes to the same bytes and verifies. Run with
// -update to regenerate it (only when the format version changes).
func TestGolden(t *testing.T) {
	if *update {
		writeGolden(t)
	}
	raw, err := os.ReadFile(goldenPath)
	if err != nil {
		t.Fatal(err)
	}
	fields := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
		k, v, _ := strings.Cut(line, " ")
		fields[k] = v
	}
	aaDER, _ := hex.DecodeString(fields["aa"])
	pub, err := x509.ParsePKIXPublicKey(aaDER)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := hex.DecodeString(fields["disclosure"])
	d, err := credential.UnmarshalDisclosure(b)
	if err != nil {
		t.Fatal(err)
	}
	if out, _ := d.MarshalBinary(); hex.EncodeToString(out) != fields["disclosure"] {
		t.Fatal("re-encoding differs from the golden bytes")
	}
	tags, err := d.Verify(pub.(*ecdsa.PublicKey), t0)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, tg := range tags {
		got = append(got, tg.String())
	}
	if strings.Join(got, ",") != fields["tags"] {
		t.Fatalf("tags %v, want %s", got, fields["tags"])
	}
}

func writeGolden(t *testing.T) {
	aa, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	user, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	aaDER, _ := x509.MarshalPKIXPublicKey(&aa.PublicKey)
	subj, _ := x509.MarshalPKIXPublicKey(&user.PublicKey)
	var k tag.Key
	tags := k.Tags([]string{"role=doctor", "trust>=1", "trust>=2", "specialty=cardiology", tag.Epoch(7)})
	w, err := credential.Issue(mrand.NewChaCha8([32]byte{42}), aa, subj, 7, t0, t1, tags)
	if err != nil {
		t.Fatal(err)
	}
	d, _ := w.Disclose([]tag.Tag{tags[2], tags[0]})
	b, _ := d.MarshalBinary()
	out := fmt.Sprintf("aa %x\ndisclosure %x\ntags %s,%s\n", aaDER, b, tags[2], tags[0])
	if err := os.WriteFile(goldenPath, []byte(out), 0o644); err != nil {
		t.Fatal(err)
	}
}
