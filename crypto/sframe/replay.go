package sframe

// ReplayWindow is how many counters behind the highest accepted counter a
// frame may be and still be accepted (if not seen before). Frames that
// arrive out of order within the window are accepted once each.
const ReplayWindow = 1024

// windowWords is the bitmap size in 64-bit words. One word more than the
// window needs lets the bitmap slide a whole word at a time (the RFC 6479
// technique): the ReplayWindow counters up to the highest always lie in
// distinct words.
const windowWords = ReplayWindow/64 + 1

// replayWindow tracks which counters of one KID have been accepted. Bit
// ctr%64 of word (ctr/64)%windowWords is set once ctr is accepted.
type replayWindow struct {
	top  uint64 // highest accepted counter, valid if any
	any  bool   // a counter has been accepted
	bits [windowWords]uint64
}

// check reports whether ctr may be accepted: it is new and not too old. It
// does not change the window.
func (w *replayWindow) check(ctr uint64) bool {
	if !w.any || ctr > w.top {
		return true
	}
	if w.top-ctr >= ReplayWindow {
		return false
	}
	return w.bits[(ctr/64)%windowWords]&(1<<(ctr%64)) == 0
}

// accept records ctr, which check has allowed, sliding the window forward
// if ctr is the new highest.
func (w *replayWindow) accept(ctr uint64) {
	switch {
	case !w.any:
		w.bits = [windowWords]uint64{}
		w.any, w.top = true, ctr
	case ctr > w.top:
		oldWord, newWord := w.top/64, ctr/64
		if newWord-oldWord >= windowWords {
			w.bits = [windowWords]uint64{}
		} else {
			for i := oldWord + 1; i <= newWord; i++ {
				w.bits[i%windowWords] = 0
			}
		}
		w.top = ctr
	}
	w.bits[(ctr/64)%windowWords] |= 1 << (ctr % 64)
}
