package gateway

import (
	"github.com/medshare/medshare/chaincode/provenance"
	"github.com/medshare/medshare/gateway/api"
)

// medshareRoutes are the MeDShare and audit routes (docs/medshare.md,
// docs/api.md).
func (s *Server) medshareRoutes() []Route {
	p := api.Prefix
	owner := Access{Roles: []Role{RoleOwner}, OwnOrg: true}
	readers := Access{Roles: []Role{RoleOwner, RoleUser, RoleAuditor}}
	user := Access{Roles: []Role{RoleUser}}
	return []Route{
		{"POST", p + "/medshare/requests", "requestPackage", user, s.medshareRequest},
		{"GET", p + "/medshare/requests", "listRequests", owner, s.medshareRequests},
		{"GET", p + "/medshare/requests/:requestID", "getRequest", readers, s.medshareRequestView},
		{"POST", p + "/medshare/requests/:requestID/regrant", "regrantRequest", owner, s.medshareDecide(provenance.KindRegrant)},
		{"POST", p + "/medshare/requests/:requestID/recall", "recallRequest", owner, s.medshareDecide(provenance.KindRecall)},
		{"GET", p + "/medshare/packages/:requestID", "getPackage", user, s.medsharePackage},
		{"POST", p + "/medshare/reports", "reportActions", user, s.medshareReport},
		{"GET", p + "/audit/trail", "auditTrail", readers, s.auditTrail},
		{"GET", p + "/audit/verify", "auditVerify", readers, s.auditVerify},
	}
}
