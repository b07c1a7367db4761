// Package protocol is Varta's wire format, shared by the relay and the
// clients. It does no I/O of its own.
//
// Protocol flow:
//
//  1. The client dials the relay over QUIC v1 with ALPN "varta/1" and mutual
//     TLS against the agency CA; the unit ID is in the client certificate.
//  2. The client opens one bidirectional stream, the control stream, and
//     sends Hello. The relay answers Welcome. Every control message is a
//     pb.Envelope preceded by its length as a varint (see Reader and
//     AppendMessage); requests carry a non-zero ID and get exactly one reply.
//  3. The client affiliates to talkgroups and requests the floor; the relay
//     pushes floor events (taken, idle, granted, revoked, ...).
//  4. Voice travels in QUIC DATAGRAM frames, one Opus frame each, sealed
//     end to end with SFrame. The relay reads only the clear VoiceHeader in
//     front of the sealed frame (see ParseVoiceHeader).
package protocol
