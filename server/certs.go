package server

import (
	"errors"
	"fmt"

	"google.golang.org/protobuf/proto"

	"github.com/varta-ptt/varta/protocol/pb"
	"github.com/varta-ptt/varta/server/store"
)

// Unit certificates. A receiver checks a voice burst's signature with the
// sender's Ed25519 key, which it takes from the sender's certificate. Any
// unit may ask the relay for the enrolled certificates of other units: they
// are not secret, and the relay is not trusted for them either, since the
// receiver checks each against the agency CA. The request is read-only and
// is not written to the audit log (as QueryUnits is not).

// maxCertUnits caps the units of one UnitCertificatesRequest: a unit
// certificate is about 2 KB, and the reply must fit in one control message.
const maxCertUnits = 16

// unitCertificates answers a UnitCertificatesRequest with the certificates
// of the units asked for, in the order asked, each unit once. Units that
// are unknown or have no certificate are left out. Called only from
// readControl.
func (sess *session) unitCertificates(id uint64, req *pb.UnitCertificatesRequest) {
	units := req.GetUnits()
	if len(units) > maxCertUnits {
		sess.replyError(id, pb.ErrorCode_ERROR_BAD_REQUEST, fmt.Sprintf(
			"%d units asked for; ask for the certificates of at most %d units at once", len(units), maxCertUnits))
		return
	}
	out := &pb.UnitCertificates{}
	seen := make(map[uint32]bool, len(units))
	for _, unit := range units {
		if seen[unit] {
			continue
		}
		seen[unit] = true
		u, err := sess.srv.store.Unit(unit)
		if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrInvalid) {
			continue
		}
		if err != nil {
			sess.replyResult(id, err, nil)
			return
		}
		if len(u.Cert) == 0 {
			continue
		}
		out.Certificates = append(out.Certificates, &pb.Member{Unit: u.ID, Certificate: u.Cert})
	}
	// A certificate may be up to store.MaxCertLen bytes, so 16 large ones
	// could exceed the control message cap, and an oversize reply would
	// never be sent. Say so instead; the client then asks for fewer.
	env := &pb.Envelope{Id: id, Body: &pb.Envelope_UnitCertificates{UnitCertificates: out}}
	if size := proto.Size(env); size > sess.limit {
		sess.replyError(id, pb.ErrorCode_ERROR_BAD_REQUEST, fmt.Sprintf(
			"the certificates of these %d units take %d bytes, more than one reply may carry (%d); ask for fewer units at once",
			len(out.Certificates), size, sess.limit))
		return
	}
	sess.reply(id, env)
}
