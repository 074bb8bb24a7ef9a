package txbuild_test

import (
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"time"

	"github.com/medshare/medshare/abe/tag"
	"github.com/medshare/medshare/chaincode/txbuild"
)

// A data owner's gateway stores one level of a record (Tx_sto) and sets the
// level's hidden policy; a data user's access is then a proof, which the
// owner submits with its stamp T_stemp. Each Call is submitted with the
// client library: gw.GetNetwork(call.Channel).GetContract(call.Chaincode).
// SubmitTransaction(call.Fn, call.Args...).
func Example() {
	owner, _ := txbuild.NewKey(nil)                                                                     // in a gateway: its certificate's *identity.Signer
	ownerID := "x509::CN=gateway.hospital1,OU=client,O=Hospital1MSP::CN=ca.Hospital1MSP,O=Hospital1MSP" // its Identity().ID()
	recordID := txbuild.RecordID(ownerID, "rec-1")                                                      // ids belong to their owner
	ciphertext := []byte("the level's MSC-CP-ABE and AES-GCM ciphertext")
	store, _ := txbuild.Store(owner, "side-high", txbuild.StoreInput{
		RecordID: recordID, Version: 1, Address: txbuild.RawCID(ciphertext),
		Keys: []byte("wrapped keys m"), CheckCode: sha256.Sum256(ciphertext),
	})
	fmt.Println(store, len(store.Args), "arguments")

	tk, _ := tag.NewKey(rand.Reader) // the system's tag key, held by the attribute authority
	hidden, _ := txbuild.HidePolicy(tk, "role=doctor and trust>=2")
	fmt.Println(len(hidden) > 0)

	aa, _ := txbuild.NewKey(nil) // the attribute authority's key
	now := time.Now()
	// The AA enrols the doctor's key under the user id of the doctor's
	// enrolled identity (the certificate the doctor authenticated with).
	doctorID := "x509::CN=dr-alice,OU=client,O=Hospital1MSP::CN=ca.Hospital1MSP,O=Hospital1MSP"
	doctor, _ := txbuild.IssueUser(nil, aa.Private, tk, doctorID, 1, now.Add(-time.Hour), now.Add(time.Hour), "role=doctor", "trust>=2")
	fmt.Println(doctor.ID() == txbuild.UserID(doctorID))
	proof, _ := doctor.Proof(nil, txbuild.ProofInput{Channel: "side-high", RecordID: recordID, PolicyVersion: 1,
		Address: txbuild.RawCID(ciphertext), Time: now, Disclose: doctor.Wallet.Tags()})
	access, _ := txbuild.Access("side-high", proof, now)
	fmt.Println(access, len(access.Args), "arguments")
	// Output:
	// side-high/storage:Store 6 arguments
	// true
	// true
	// side-high/ptl:Access 2 arguments
}
