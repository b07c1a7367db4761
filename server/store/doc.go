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
//   - roster.db holds talkgroups and units. BuntDB syncs it on every commit
//     (SyncPolicy Always) and the Store fsyncs again to see the error, so a
//     roster method returns only once its change is on disk. Each change is
//     one transaction with a commit marker (commit.go).
//   - live.db holds presence, synced about once a second (SyncPolicy
//     EverySecond); records expire after Config.PresenceTTL.
//   - Snapshot writes a consistent copy of roster.db to SnapshotDir, which
//     can be copied over roster.db to restore; RunSnapshots calls it
//     periodically.
//
// Values are JSON objects carrying a schema version "v"; see records.go for
// the key layout.
package store
