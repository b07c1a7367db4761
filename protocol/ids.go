package protocol

import "fmt"

// ID ranges follow P25: unit IDs are 24-bit, talkgroup IDs 16-bit, and 0 is
// never a valid ID of either.
const (
	MaxUnitID      = 1<<24 - 1 // 16,777,215
	MaxTalkgroupID = 1<<16 - 1 // 65,535
)

// ValidUnitID reports whether id is a usable unit ID.
func ValidUnitID(id uint32) bool { return id >= 1 && id <= MaxUnitID }

// ValidTalkgroupID reports whether id is a usable talkgroup ID.
func ValidTalkgroupID(id uint32) bool { return id >= 1 && id <= MaxTalkgroupID }

// CheckUnitID returns an error naming id when it is out of range.
func CheckUnitID(id uint32) error {
	if !ValidUnitID(id) {
		return fmt.Errorf("unit ID %d must be between 1 and %d: %w", id, MaxUnitID, ErrBadID)
	}
	return nil
}

// CheckTalkgroupID returns an error naming id when it is out of range.
func CheckTalkgroupID(id uint32) error {
	if !ValidTalkgroupID(id) {
		return fmt.Errorf("talkgroup ID %d must be between 1 and %d: %w", id, MaxTalkgroupID, ErrBadID)
	}
	return nil
}
