package replicate

import (
	"encoding/json"
	"fmt"

	"github.com/medshare/medshare/chaincode/storage"
	"github.com/medshare/medshare/network/client"
)

// Action is what a Decision asks of kubo.
type Action int

// Actions.
const (
	// Pin keeps the object (an indexed ciphertext).
	Pin Action = iota + 1
	// Unpin lets the object go (a recalled ciphertext); the address is
	// never pinned again by this follower.
	Unpin
)

func (a Action) String() string {
	switch a {
	case Pin:
		return "pin"
	case Unpin:
		return "unpin"
	}
	return fmt.Sprintf("action(%d)", int(a))
}

// Decision is one action on one address.
type Decision struct {
	Action Action
	CID    string
}

// Mapper turns a chaincode event of a followed stream into decisions. It
// must be deterministic and quick; an error skips the event (it is logged
// and counted).
type Mapper func(channel string, ev *client.ChaincodeEvent) ([]Decision, error)

// StoredPins maps the storage chaincode's Stored event to a pin of the
// stored address, and ignores every other event.
func StoredPins(_ string, ev *client.ChaincodeEvent) ([]Decision, error) {
	if ev.ChaincodeName != storage.Name || ev.EventName != storage.EventStored {
		return nil, nil
	}
	var s storage.Summary
	if err := json.Unmarshal(ev.Payload, &s); err != nil {
		return nil, fmt.Errorf("replicate: %s event of tx %s: %w", ev.EventName, ev.TransactionID, err)
	}
	if s.Address == "" {
		return nil, fmt.Errorf("replicate: %s event of tx %s has no address", ev.EventName, ev.TransactionID)
	}
	return []Decision{{Action: Pin, CID: s.Address}}, nil
}

// Maps combines mappers: an event's decisions are all of theirs, in order.
func Maps(ms ...Mapper) Mapper {
	return func(channel string, ev *client.ChaincodeEvent) ([]Decision, error) {
		var all []Decision
		for _, m := range ms {
			ds, err := m(channel, ev)
			if err != nil {
				return nil, err
			}
			all = append(all, ds...)
		}
		return all, nil
	}
}
