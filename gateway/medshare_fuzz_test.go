package gateway

import (
	"testing"
	"time"

	"github.com/medshare/medshare/gateway/api"
)

// FuzzPackageRequestBody: a request body is decoded strictly and its
// signed request checked without panicking; every refusal is a 4xx
// problem.
func FuzzPackageRequestBody(f *testing.F) {
	f.Add([]byte(`{"channel":"side-medium","request":{"requestID":"93e9b92560c04d2f1430b2c49bed8f98:study","requestorKey":"AA==","requestor":"93e9b92560c04d2f1430b2c49bed8f98","enrolment":"AAAA","recordIDs":["r1"],"purpose":"HRESCH","requestTime":"2026-01-01T00:00:00Z","reportKey":"AA==","requestSignature":"AAAA"},"packageKey":"AQAg","keyBinding":"AA=="}`))
	f.Add([]byte(`{"channel":"side-x","request":null}`))
	f.Add([]byte(`{"request":{"recordIDs":[],"requestTime":"x"}}`))
	now := time.Date(2026, 1, 1, 0, 1, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, b []byte) {
		var req api.PackageRequest
		if err := decodeStrict(b, &req); err != nil {
			decoded(t, err)
			return
		}
		_, err := checkSignedRequest(req.Channel, req.Request, now)
		decoded(t, err)
	})
}

// FuzzReportBody: a report body is decoded strictly and validated without
// panicking; every refusal is a 4xx problem.
func FuzzReportBody(f *testing.F) {
	f.Add([]byte(`{"channel":"side-medium","packageHash":"150907e8838ad244e889bec4b8f0bc4e0ec7b1892c85eefd84fb7ae68fc6404b","report":{"requestID":"u:r","seq":1,"actions":[{"action":"read","at":"2026-01-01T00:00:00Z"}],"signature":"AAAA"}}`))
	f.Add([]byte(`{"channel":"side-low","packageHash":"zz","report":{"seq":0,"actions":[{"action":"x"}]}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var req api.ReportRequest
		if err := decodeStrict(b, &req); err != nil {
			decoded(t, err)
			return
		}
		_, _, err := parseReport(&req)
		decoded(t, err)
	})
}
