package ledger

import (
	"context"
	"encoding/base64"
	"strconv"

	"github.com/medshare/medshare/chaincode/index"
	"github.com/medshare/medshare/chaincode/provenance"
	"github.com/medshare/medshare/chaincode/ptl"
	"github.com/medshare/medshare/chaincode/storage"
	"github.com/medshare/medshare/chaincode/txbuild"
)

// The MeDShare and audit calls. Reads of audit data take a warrant: ""
// reads as the gateway's own identity (a data owner reading its own
// records and requests); a signed read warrant (txbuild.SignWarrant) reads
// as the caller who signed it, through the contracts' ReadAs, so that the
// contracts — not the gateway — scope what an auditor or a user sees.

// readCall is call as the gateway (warrant "") or through ReadAs.
func readCall(channel, chaincode, warrant, fn string, args ...string) (txbuild.Call, error) {
	if warrant == "" {
		return txbuild.Call{Channel: channel, Chaincode: chaincode, Fn: fn, Args: args}, nil
	}
	return txbuild.ReadAs(channel, chaincode, warrant, fn, args...)
}

func read[T any](ctx context.Context, l Ledger, channel, chaincode, warrant, fn string, args ...string) (*T, error) {
	call, err := readCall(channel, chaincode, warrant, fn, args...)
	if err != nil {
		return nil, err
	}
	return evaluate[T](ctx, l, call)
}

// SubmitRequest submits a provenance Request call (txbuild.RecordRequest):
// the parent block of a MeDShare package.
func (c *Chain) SubmitRequest(ctx context.Context, call txbuild.Call) (*provenance.View, string, error) {
	return submit[provenance.View](ctx, c.L, call)
}

// ForwardReport countersigns a requestor's signed report and submits it
// to provenance Report on channel; packageHash is the package's hash the
// report is bound to.
func (c *Chain) ForwardReport(ctx context.Context, channel string, packageHash [32]byte, r *provenance.ReportInput) (*provenance.ReportResult, string, error) {
	call, err := txbuild.ForwardReport(c.Signer, channel, packageHash, r)
	if err != nil {
		return nil, "", err
	}
	return submit[provenance.ReportResult](ctx, c.L, call)
}

// RegrantRequest records the owner's re-grant of a MeDShare request.
func (c *Chain) RegrantRequest(ctx context.Context, channel, requestID, reason string) (*provenance.SideBlock, string, error) {
	call, err := txbuild.Regrant(c.Signer, channel, requestID, reason)
	if err != nil {
		return nil, "", err
	}
	return submit[provenance.SideBlock](ctx, c.L, call)
}

// RecallRequest records the owner's recall of a MeDShare package.
func (c *Chain) RecallRequest(ctx context.Context, channel, requestID, reason string) (*provenance.SideBlock, string, error) {
	call, err := txbuild.Recall(c.Signer, channel, requestID, reason)
	if err != nil {
		return nil, "", err
	}
	return submit[provenance.SideBlock](ctx, c.L, call)
}

// CheckEnrolment asks P-TL whether the attribute authority bound key (PKIX
// DER) to user with signature.
func (c *Chain) CheckEnrolment(ctx context.Context, channel string, key []byte, user string, signature []byte) error {
	_, err := evaluate[ptl.Enrolled](ctx, c.L, txbuild.Call{Channel: channel, Chaincode: ptl.Name, Fn: "CheckEnrolment",
		Args: []string{b64(key), user, b64(signature)}})
	return err
}

// UserStatus reads a user's blocks on one of the gateway's records.
func (c *Chain) UserStatus(ctx context.Context, channel, user, recordID string) (*ptl.Status, error) {
	return evaluate[ptl.Status](ctx, c.L, txbuild.Call{Channel: channel, Chaincode: ptl.Name, Fn: "Status", Args: []string{user, recordID}})
}

// GetRequest reads a MeDShare request's parent block and state.
func (c *Chain) GetRequest(ctx context.Context, channel, warrant, requestID string) (*provenance.View, error) {
	return read[provenance.View](ctx, c.L, channel, provenance.Name, warrant, "GetRequest", requestID)
}

// SideBlocks lists a request's side-blocks.
func (c *Chain) SideBlocks(ctx context.Context, channel, warrant, requestID string, pageSize int, bookmark string) (*Page[provenance.SideBlock], error) {
	return read[Page[provenance.SideBlock]](ctx, c.L, channel, provenance.Name, warrant, "ListSideBlocks", requestID, strconv.Itoa(pageSize), bookmark)
}

// Thread lists a requestor's parent blocks (a user id) in thread order.
func (c *Chain) Thread(ctx context.Context, channel, warrant, user string, pageSize int, bookmark string) (*Page[provenance.ParentBlock], error) {
	return read[Page[provenance.ParentBlock]](ctx, c.L, channel, provenance.Name, warrant, "ListThread", user, strconv.Itoa(pageSize), bookmark)
}

// OwnRequests lists the requests the gateway recorded as their owner.
func (c *Chain) OwnRequests(ctx context.Context, channel string, pageSize int, bookmark string) (*Page[provenance.Summary], error) {
	return evaluate[Page[provenance.Summary]](ctx, c.L, txbuild.Call{Channel: channel, Chaincode: provenance.Name, Fn: "ListByOwner",
		Args: []string{strconv.Itoa(pageSize), bookmark}})
}

// VerifyThread re-walks a requestor's thread from cursor, at most limit
// blocks.
func (c *Chain) VerifyThread(ctx context.Context, channel, warrant, user, cursor string, limit int) (*provenance.Verification, error) {
	return read[provenance.Verification](ctx, c.L, channel, provenance.Name, warrant, "VerifyThread", user, cursor, strconv.Itoa(limit))
}

// VerifyRequest re-walks one request's parent block and side-blocks.
func (c *Chain) VerifyRequest(ctx context.Context, channel, warrant, requestID string) (*provenance.Verification, error) {
	return read[provenance.Verification](ctx, c.L, channel, provenance.Name, warrant, "VerifyRequest", requestID)
}

// UserLog lists a user's authenticated access attempts on channel.
func (c *Chain) UserLog(ctx context.Context, channel, warrant, user string, pageSize int, bookmark string) (*Page[ptl.LogEntry], error) {
	return read[Page[ptl.LogEntry]](ctx, c.L, channel, ptl.Name, warrant, "ListUserLog", user, strconv.Itoa(pageSize), bookmark)
}

// AccessLog lists a record's access attempts on channel.
func (c *Chain) AccessLog(ctx context.Context, channel, warrant, recordID string, pageSize int, bookmark string) (*Page[ptl.LogEntry], error) {
	return read[Page[ptl.LogEntry]](ctx, c.L, channel, ptl.Name, warrant, "ListAccessLog", recordID, strconv.Itoa(pageSize), bookmark)
}

// RecordViolations lists one record's violations on channel.
func (c *Chain) RecordViolations(ctx context.Context, channel, warrant, recordID string, pageSize int, bookmark string) (*Page[ptl.Violation], error) {
	return read[Page[ptl.Violation]](ctx, c.L, channel, ptl.Name, warrant, "ListViolations", recordID, strconv.Itoa(pageSize), bookmark)
}

// History lists a record's versions on channel, newest first.
func (c *Chain) History(ctx context.Context, channel, warrant, recordID string, pageSize int, bookmark string) (*Page[storage.Record], error) {
	return read[Page[storage.Record]](ctx, c.L, channel, storage.Name, warrant, "History", recordID, strconv.Itoa(pageSize), bookmark)
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

// Registry returns the side-chain registry of the index's configuration
// on main: each side chain's channel, level and nodes (name, organisation,
// address).
func (c *Chain) Registry(ctx context.Context) ([]index.SideChain, error) {
	cfg, err := evaluate[index.Config](ctx, c.L, txbuild.Call{Channel: c.main(), Chaincode: index.Name, Fn: "GetConfig"})
	if err != nil {
		return nil, err
	}
	return cfg.SideChains, nil
}

// OwnRecords lists the current versions of the gateway's own records on
// channel (storage ListByOwner).
func (c *Chain) OwnRecords(ctx context.Context, channel string, pageSize int, bookmark string) (*Page[storage.Summary], error) {
	return evaluate[Page[storage.Summary]](ctx, c.L, txbuild.Call{Channel: channel, Chaincode: storage.Name, Fn: "ListByOwner",
		Args: []string{"", strconv.Itoa(pageSize), bookmark}})
}
