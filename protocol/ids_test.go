package protocol_test

import (
	"errors"
	"strconv"
	"testing"

	"github.com/varta-ptt/varta/protocol"
)

func TestIDRanges(t *testing.T) {
	if protocol.MaxUnitID != 16777215 {
		t.Errorf("MaxUnitID = %d, want 16777215 (24 bits)", protocol.MaxUnitID)
	}
	if protocol.MaxTalkgroupID != 65535 {
		t.Errorf("MaxTalkgroupID = %d, want 65535 (16 bits)", protocol.MaxTalkgroupID)
	}
}

func TestUnitID(t *testing.T) {
	cases := []struct {
		id    uint32
		valid bool
	}{
		{0, false},
		{1, true},
		{1042, true},
		{protocol.MaxTalkgroupID + 1, true},
		{protocol.MaxUnitID - 1, true},
		{protocol.MaxUnitID, true},
		{protocol.MaxUnitID + 1, false},
		{1 << 31, false},
		{1<<32 - 1, false},
	}
	for _, tc := range cases {
		t.Run(strconv.FormatUint(uint64(tc.id), 10), func(t *testing.T) {
			if got := protocol.ValidUnitID(tc.id); got != tc.valid {
				t.Errorf("ValidUnitID(%d) = %v, want %v", tc.id, got, tc.valid)
			}
			err := protocol.CheckUnitID(tc.id)
			if tc.valid {
				if err != nil {
					t.Errorf("CheckUnitID(%d) = %v, want nil", tc.id, err)
				}
				return
			}
			if !errors.Is(err, protocol.ErrBadID) {
				t.Fatalf("CheckUnitID(%d) = %v, want ErrBadID", tc.id, err)
			}
			want := "unit ID " + strconv.FormatUint(uint64(tc.id), 10) + " must be between 1 and 16777215"
			if got := err.Error(); len(got) < len(want) || got[:len(want)] != want {
				t.Errorf("CheckUnitID(%d) = %q, want it to start %q", tc.id, got, want)
			}
		})
	}
}

func TestTalkgroupID(t *testing.T) {
	cases := []struct {
		id    uint32
		valid bool
	}{
		{0, false},
		{1, true},
		{200, true},
		{protocol.MaxTalkgroupID - 1, true},
		{protocol.MaxTalkgroupID, true},
		{protocol.MaxTalkgroupID + 1, false},
		{protocol.MaxUnitID, false},
		{1<<32 - 1, false},
	}
	for _, tc := range cases {
		t.Run(strconv.FormatUint(uint64(tc.id), 10), func(t *testing.T) {
			if got := protocol.ValidTalkgroupID(tc.id); got != tc.valid {
				t.Errorf("ValidTalkgroupID(%d) = %v, want %v", tc.id, got, tc.valid)
			}
			err := protocol.CheckTalkgroupID(tc.id)
			if tc.valid {
				if err != nil {
					t.Errorf("CheckTalkgroupID(%d) = %v, want nil", tc.id, err)
				}
				return
			}
			if !errors.Is(err, protocol.ErrBadID) {
				t.Fatalf("CheckTalkgroupID(%d) = %v, want ErrBadID", tc.id, err)
			}
			want := "talkgroup ID " + strconv.FormatUint(uint64(tc.id), 10) + " must be between 1 and 65535"
			if got := err.Error(); len(got) < len(want) || got[:len(want)] != want {
				t.Errorf("CheckTalkgroupID(%d) = %q, want it to start %q", tc.id, got, want)
			}
		})
	}
}

// Every ID a voice header can carry other than 0 is in range, so the header's
// field widths and the ID ranges agree.
func TestVoiceHeaderIDWidths(t *testing.T) {
	h := protocol.VoiceHeader{Kind: protocol.KindGroupVoice, Talkgroup: 1<<16 - 1, Sender: 1<<24 - 1}
	if !protocol.ValidTalkgroupID(uint32(h.Talkgroup)) || !protocol.ValidUnitID(h.Sender) {
		t.Errorf("the largest IDs a voice header carries (%v) are out of range", h)
	}
}
