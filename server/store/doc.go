// Package store keeps the relay's roster and live state in two BuntDB files
// behind a domain API.
//
// Flow:
//
//   - Open locks Dir/LOCK (flock, held until Close), then checks each file
//     before BuntDB loads it (logfile.go): the file must parse record by
//     record, the roster's commit groups must match their checksums
//     (commit.go), and every value must decode and obey the roster's rules.
//     A damaged file is refused with a *DamagedError that says how to restore
//     it; Open never empties or truncates it. The one exception is a
//     transaction that a crash left half-written at the end of a file, which
//     was never acknowledged: Open copies the file to FILE.torn-TIME, cuts
//     that transaction off, and logs a warning (see checkRoster).
//   - roster.db holds talkgroups, units and each talkgroup's end-to-end key
//     state with the KMF's sealed member keys (keys.go). BuntDB syncs it on
//     every commit (SyncPolicy Always) and the Store fsyncs again to see the
//     error, so a roster method returns only once its change is on disk.
//     Each change is one transaction with a commit marker (commit.go); a
//     change to who may hold a talkgroup's key marks the key stale, and
//     deletes the key of a unit that may no longer hold it, in that same
//     transaction. PutKeys stores a new epoch; MemberKey hands out one
//     member's key.
//   - roster.db also holds the audit log (audit.go): Audit appends an entry
//     in its own commit, durable like a roster change; the entries form a
//     hash chain that VerifyAudit walks, independently of Open's checks.
//   - live.db holds presence, synced about once a second (SyncPolicy
//     EverySecond); records expire after Config.PresenceTTL. It also holds
//     each unit's position (expiring after Config.PositionTTL) and status
//     for dispatch (dispatch.go); a spatial index over the positions
//     answers Nearest and Within (nearest.go).
//   - Snapshot writes a consistent copy of roster.db to SnapshotDir, which
//     can be copied over roster.db to restore; RunSnapshots calls it
//     periodically.
//
// Values are JSON objects carrying a schema version "v" (1 or 2; this
// version writes 2 to roster.db); see records.go for the key layout.
package store
