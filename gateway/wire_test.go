package gateway

import (
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/medshare/medshare/chaincode/storage"
	"github.com/medshare/medshare/gateway/replicate"
	nclient "github.com/medshare/medshare/network/client"
)

func stored(t *testing.T, id string, version uint64, addr string) *nclient.ChaincodeEvent {
	b, err := json.Marshal(storage.Summary{RecordID: id, Version: version, Address: addr})
	if err != nil {
		t.Fatal(err)
	}
	return &nclient.ChaincodeEvent{ChaincodeName: storage.Name, EventName: storage.EventStored, Payload: b}
}

// The follower pins every Stored address and, when a newer version of a
// record's level is stored, unpins the replaced one; the map survives a
// restart.
func TestSupersedeUnpinsReplacedVersions(t *testing.T) {
	path := filepath.Join(t.TempDir(), "replicas.json")
	s, err := newSupersede(path)
	if err != nil {
		t.Fatal(err)
	}
	ds, err := s.Map("side-low", stored(t, "r1", 1, "cidA"))
	if err != nil || len(ds) != 1 || ds[0] != (replicate.Decision{Action: replicate.Pin, CID: "cidA"}) {
		t.Fatalf("v1: %v, %v", ds, err)
	}
	if ds, _ := s.Map("side-high", stored(t, "r1", 1, "cidH")); len(ds) != 1 {
		t.Fatalf("another channel's level: %v", ds)
	}
	if err := s.save(); err != nil {
		t.Fatal(err)
	}
	s, err = newSupersede(path)
	if err != nil {
		t.Fatal(err)
	}
	ds, _ = s.Map("side-low", stored(t, "r1", 2, "cidB"))
	want := []replicate.Decision{{Action: replicate.Pin, CID: "cidB"}, {Action: replicate.Unpin, CID: "cidA"}}
	if len(ds) != 2 || ds[0] != want[0] || ds[1] != want[1] {
		t.Fatalf("v2 = %v, want %v", ds, want)
	}
	if ds, _ := s.Map("side-low", stored(t, "r2", 1, "cidC")); len(ds) != 1 {
		t.Fatalf("another record: %v", ds)
	}
	if ds, _ := s.Map("side-low", &nclient.ChaincodeEvent{ChaincodeName: "ptl", EventName: "PolicySet", Payload: []byte(`{}`)}); len(ds) != 0 {
		t.Fatalf("other events: %v", ds)
	}
}
