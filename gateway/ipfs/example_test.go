package ipfs_test

import (
	"fmt"

	"github.com/medshare/medshare/gateway/ipfs"
)

// A small object's address is known before kubo sees it: what Add returns
// for these bytes.
func ExampleRawCID() {
	cid, ok := ipfs.RawCID([]byte("hello world"))
	fmt.Println(cid, ok)
	_, ok = ipfs.RawCID(make([]byte, ipfs.ChunkSize+1))
	fmt.Println(ok)
	// Output:
	// bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e true
	// false
}
