package credential_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"fmt"
	"time"

	"github.com/medshare/medshare/abe/credential"
	"github.com/medshare/medshare/abe/tag"
)

// The AA certifies a user's tags; the user discloses only what a policy
// needs; the ledger verifies the disclosure.
func Example() {
	aa, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	user, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	subject, _ := x509.MarshalPKIXPublicKey(&user.PublicKey)

	var k tag.Key // the AA's tag key
	tags := k.Tags([]string{"role=doctor", "trust>=1", "trust>=2", "specialty=cardiology", tag.Epoch(7)})
	from := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	wallet, err := credential.Issue(rand.Reader, aa, subject, 7, from, from.AddDate(0, 1, 0), tags)
	if err != nil {
		panic(err)
	}

	// The policy needs "trust>=2" and the epoch: disclose those two only.
	d, _ := wallet.Disclose([]tag.Tag{k.Tag("trust>=2"), k.Tag(tag.Epoch(7))})
	wire, _ := d.MarshalBinary()

	// On the ledger:
	got, _ := credential.UnmarshalDisclosure(wire)
	verified, err := got.Verify(&aa.PublicKey, from.Add(time.Hour))
	fmt.Println(len(verified), err, got.Credential.Epoch)
	_, err = got.Verify(&aa.PublicKey, from.AddDate(0, 2, 0))
	fmt.Println(errors.Is(err, credential.ErrExpired))
	// Output:
	// 2 <nil> 7
	// true
}
