package protocol

// Application error codes the relay gives when it closes a QUIC connection.
// The close reason that travels with the code is a sentence for a person.
const (
	CloseNormal       uint64 = 0x0  // the client said goodbye, or the session ended normally
	CloseRefused      uint64 = 0x10 // the unit may not connect (not enrolled, stunned, role, replaced identity)
	CloseShutdown     uint64 = 0x11 // the relay is shutting down; reconnect later
	CloseReplaced     uint64 = 0x12 // the same unit connected again from elsewhere
	CloseProtocol     uint64 = 0x13 // the peer broke the protocol (bad first message, malformed stream)
	CloseFlood        uint64 = 0x14 // the peer sent far more control messages than allowed
	CloseNotReading   uint64 = 0x15 // the peer stopped reading its control stream
	CloseRosterChange uint64 = 0x16 // an administrator removed or changed the unit
)

// CloseCodeName names an application close code for logs.
func CloseCodeName(code uint64) string {
	switch code {
	case CloseNormal:
		return "normal"
	case CloseRefused:
		return "refused"
	case CloseShutdown:
		return "shutdown"
	case CloseReplaced:
		return "replaced"
	case CloseProtocol:
		return "protocol-error"
	case CloseFlood:
		return "flood"
	case CloseNotReading:
		return "not-reading"
	case CloseRosterChange:
		return "roster-change"
	}
	return "unknown"
}
