// Package groupkey is Varta's talkgroup key schedule: the epoch keys the KMF
// creates, their wrap to each member with HPKE, the signed key bundle that
// carries them, the per-sender SFrame keys derived from them, the Keyring
// that seals and opens a unit's voice frames, and the burst signatures that
// tell a receiver which member spoke.
//
// Flow:
//
//  1. The KMF makes a random epoch key for a (talkgroup, epoch) with
//     [NewEpochKey], seals it to each member's HPKE public key (from the
//     member's certificate) with [SealEpochKey], collects the blobs in a
//     [Bundle] and signs it with its Ed25519 key: the whole bundle
//     ([Bundle.Sign]) or one bundle per member ([Bundle.SignPerMember]),
//     so that each member needs only its own. It hands the encodings
//     ([Bundle.Append]) to the relay, which stores and forwards them
//     without being able to read them.
//  2. A unit parses the bundle ([ParseBundle]) and gives it to
//     [Keyring.InstallBundle], which checks the KMF's signature, picks the
//     unit's own blob, opens it ([OpenEpochKey]) and installs the epoch key.
//     A newer epoch replaces the current one at once; the previous epoch
//     still opens frames for Config.Overlap (10 s by default), then is
//     wiped. An older epoch is refused, so a replayed bundle cannot roll the
//     keys back.
//  3. Each sender's SFrame base key is derived from the epoch key and its
//     unit ID ([SenderKey]), so no two senders share a key, and its SFrame
//     key ID names both epoch and sender ([MakeKID]). [Keyring.Sealer]
//     seals the unit's frames under the current epoch; [Keyring.Open]
//     opens any other member's frame by its KID, with a replay window per
//     sender, and counts rejections ([Keyring.Stats]).
//  4. While transmitting, the sender folds every sealed frame into a
//     [BurstSigner] and sends its signature at the end of the burst; each
//     receiver folds the frames it opened into a [BurstVerifier] and marks
//     the burst verified or unverified.
//  5. [Keyring.Zeroize] wipes every key (stun, lost radio).
//
// The group keys only prove that a frame came from some member of the
// talkgroup; the burst signature proves which member. All randomness
// except HPKE's comes from an io.Reader argument and all time from an
// injected clock; see SealEpochKey for HPKE.
package groupkey
