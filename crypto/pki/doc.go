// Package pki is Varta's agency public-key infrastructure: the agency CA,
// the relay's server identity, and the identity bundles that units (radios,
// consoles, the KMF, recorders) carry.
//
// Flow:
//
//  1. The administrator creates the agency CA once with [NewCA] and keeps it
//     with [CA.Save] (ca.crt 0644, ca.key 0600).
//  2. The relay's identity comes from [IssueServer]; [SaveServer] and
//     [LoadServer] keep it in the relay's data directory.
//  3. Each unit gets an identity from [IssueUnit]: a TLS key (ECDSA P-256),
//     an HPKE key pair (MLKEM768-X25519, for the end-to-end key wrap) and an
//     Ed25519 signing key (for burst signatures). The unit certificate carries
//     the unit ID, the role, and both public keys, so the CA's signature binds
//     them to the unit and a relay cannot substitute keys.
//     [WriteIdentityFile] stores the bundle as one PEM file that the radio
//     loads with [LoadIdentityFile].
//  4. Both ends of a QUIC connection build their TLS configuration with
//     [ServerTLSConfig] and [ClientTLSConfig]: TLS 1.3 only, mutual
//     certificates from the agency CA, ALPN [ALPN], and Go's default hybrid
//     post-quantum key exchange (X25519MLKEM768).
//  5. When a handshake fails, [ExplainHandshakeError] turns the error into a
//     sentence for the person holding the radio.
//
// Other packages read what a peer's certificate says with [UnitIDFromCert],
// [RoleFromCert], [HPKEPublicKeyFromCert], [SigningPublicKeyFromCert],
// [IsServerCert] and [Fingerprint].
//
// Randomness and time are always passed in. Note that since Go 1.26 the
// standard library ignores the io.Reader given to ECDSA key generation and
// signing and always uses a secure source; the reader passed to this package
// still drives serial numbers, the HPKE key and the Ed25519 key. Tests that
// need fully deterministic keys use testing/cryptotest.SetGlobalRandom.
package pki
