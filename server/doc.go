// Package server is the Varta relay: it accepts QUIC connections from units,
// authenticates them against the agency CA and the roster, tracks their
// affiliations and presence, arbitrates the floor of every talkgroup and fans
// voice datagrams out from the talker to the listeners.
//
// Flow through the package:
//
//	Serve -> accept QUIC conn -> authenticate (certificate + roster)
//	      -> session: control stream (Hello/Welcome, requests, events)
//	                  datagram reader -> forward (hot path, fanout.go)
//	                  voice writer    <- bounded drop-oldest voiceQueue
//	talkgroup (floor.go): members snapshot, floor holder, queue, timers
//	Roster operations (roster.go) change the store first, then live state.
//
// The relay never opens a voice frame: it reads the clear header that the
// protocol package parses and forwards the datagram unchanged. It does not
// import the codec or the voice crypto.
package server
