// Package page runs the paginated listing queries of the medshare
// chaincodes. Page sizes are bounded (1..MaxSize) and bookmarks are opaque
// base64url strings: the key at which the next page starts, as the ledger's
// stub returns it, "" on the last page.
package page

import (
	"encoding/base64"
	"strings"

	"github.com/medshare/medshare/chaincode/ccerr"
	"github.com/medshare/medshare/network/chaincode"
)

// MaxSize is the largest page any listing returns.
const MaxSize = 100

// Page is one page of a listing.
type Page[T any] struct {
	// Items are the page's entries, in key order.
	Items []T `json:"items"`
	// Bookmark continues the listing; empty on the last page.
	Bookmark string `json:"bookmark"`
}

// CheckSize refuses page sizes outside 1..MaxSize.
func CheckSize(size int32) error {
	if size < 1 || size > MaxSize {
		return ccerr.Invalid("pageSize", "must be 1..%d, got %d", MaxSize, size)
	}
	return nil
}

// decodeBookmark turns a client bookmark back into a key and checks that it
// lies in [start, end) (end "" is open).
func decodeBookmark(bookmark, start, end string) (string, error) {
	if bookmark == "" {
		return "", nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(bookmark)
	key := string(raw)
	if err != nil || key < start || (end != "" && key >= end) {
		return "", ccerr.Invalid("bookmark", "is not a bookmark of this listing; pass the bookmark the previous page returned, or \"\" to start")
	}
	return key, nil
}

// Decoder turns one stored entry into a listing item; the key is given in
// full, with the attributes of composite keys split out.
type Decoder[T any] func(key string, attrs []string, value []byte) (T, error)

// Composite lists the composite keys of objectType whose leading attributes
// are attrs.
func Composite[T any](stub chaincode.Stub, objectType string, attrs []string, size int32, bookmark string, decode Decoder[T]) (*Page[T], error) {
	if err := CheckSize(size); err != nil {
		return nil, err
	}
	prefix, err := stub.CreateCompositeKey(objectType, attrs)
	if err != nil {
		return nil, ccerr.Invalid("query", "%v", err)
	}
	bm, err := decodeBookmark(bookmark, prefix, "")
	if err != nil {
		return nil, err
	}
	if bm != "" && !strings.HasPrefix(bm, prefix) {
		return nil, ccerr.Invalid("bookmark", "is not a bookmark of this listing; pass the bookmark the previous page returned, or \"\" to start")
	}
	it, meta, err := stub.GetStateByPartialCompositeKeyWithPagination(objectType, attrs, size, bm)
	if err != nil {
		return nil, err
	}
	return collect(stub, it, meta, decode, true)
}

// Range lists the simple keys in [start, end).
func Range[T any](stub chaincode.Stub, start, end string, size int32, bookmark string, decode Decoder[T]) (*Page[T], error) {
	if err := CheckSize(size); err != nil {
		return nil, err
	}
	bm, err := decodeBookmark(bookmark, start, end)
	if err != nil {
		return nil, err
	}
	it, meta, err := stub.GetStateByRangeWithPagination(start, end, size, bm)
	if err != nil {
		return nil, err
	}
	return collect(stub, it, meta, decode, false)
}

func collect[T any](stub chaincode.Stub, it chaincode.StateQueryIterator, meta *chaincode.QueryResponseMetadata, decode Decoder[T], composite bool) (*Page[T], error) {
	defer it.Close()
	p := &Page[T]{Items: []T{}}
	for it.HasNext() {
		kv, err := it.Next()
		if err != nil {
			return nil, err
		}
		var attrs []string
		if composite {
			if _, attrs, err = stub.SplitCompositeKey(kv.Key); err != nil {
				return nil, err
			}
		}
		item, err := decode(kv.Key, attrs, kv.Value)
		if err != nil {
			return nil, err
		}
		p.Items = append(p.Items, item)
	}
	if meta.Bookmark != "" {
		p.Bookmark = base64.RawURLEncoding.EncodeToString([]byte(meta.Bookmark))
	}
	return p, nil
}
