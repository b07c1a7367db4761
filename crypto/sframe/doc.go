// Package sframe implements SFrame (RFC 9605), the end-to-end encryption of
// Varta's voice frames, with the AES-GCM cipher suites
// AES_256_GCM_SHA512_128 (0x0005, the one Varta uses) and
// AES_128_GCM_SHA256_128 (0x0004, kept so that more of the RFC's test
// vectors can be checked).
//
// Flow:
//
//  1. Key management (package groupkey in Varta) hands each sender a base
//     key and a key ID (KID). The sender makes a [Sender] with [NewSender];
//     every receiver registers the same base key under the same KID, either
//     in a [Receiver] table with [Receiver.AddKey] or as a single
//     [ReceiverKey] from [NewReceiverKey]. A base key is used for sealing by
//     one sender only, and a Sender's key is never used to open.
//  2. Both sides derive the AEAD key and salt from the base key with HKDF
//     (RFC 9605 section 4.4.2).
//  3. [Sender.Seal] writes the SFrame header (KID and the next counter,
//     section 4.3) and the AES-GCM ciphertext with its 16-byte tag. The
//     nonce is the salt XOR the counter; the associated data is the SFrame
//     header followed by the caller's metadata (Varta passes the 6-byte
//     clear voice header, so the relay cannot alter it).
//  4. [Receiver.Open] parses the header, picks the key by KID, checks the
//     counter against the key's replay window ([ReplayWindow] counters),
//     opens the ciphertext and only then marks the counter as seen.
//
// Open fails with [ErrUnknownKey] when no key has the frame's KID, with
// [ErrReplay] when the counter was already accepted or has fallen behind the
// window, and with the opaque [ErrDecrypt] for everything else: a malformed
// header, a short frame, a wrong tag, wrong metadata. It never says which of
// those it was.
//
// Sender, ReceiverKey and Receiver are safe for concurrent use. Seal and
// Open do not allocate when dst has room for the result.
package sframe
