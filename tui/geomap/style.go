package geomap

import (
	"strings"
	"unicode"

	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"
)

// style is how one cell is drawn. Cells in a run with the same style are
// wrapped in one SGR sequence.
type style uint8

const (
	stylePlain      style = iota // markers, labels, the centre, scale, north
	styleDim                     // Dim points and their labels, ordinary arrows
	styleEmergency               // emergency markers and arrows
	styleEmergLabel              // emergency labels
	numStyles
)

// sgr holds each style's opening and closing escape sequences, taken once
// from lipgloss so Render can write long runs without calling it per cell.
var sgr = func() (t [numStyles]struct{ open, close string }) {
	ls := [numStyles]lipgloss.Style{
		stylePlain:      lipgloss.NewStyle(),
		styleDim:        lipgloss.NewStyle().Faint(true),
		styleEmergency:  lipgloss.NewStyle().Reverse(true).Bold(true).Foreground(lipgloss.Color("9")),
		styleEmergLabel: lipgloss.NewStyle().Bold(true).Foreground(lipgloss.Color("9")),
	}
	for i, s := range ls {
		out := s.Render("x")
		if j := strings.IndexByte(out, 'x'); j >= 0 {
			t[i].open, t[i].close = out[:j], out[j+1:]
		}
	}
	return t
}()

// cellRune returns how r is drawn in one map cell: itself if it is
// certainly one cell wide and forms a grapheme on its own, '?' for other
// visible runes (wide, or from scripts whose clusters could change the
// width), and false for runes with no width (controls, marks, format
// characters), which are dropped. Spaces of any kind become ' '.
//
// The whitelist is deliberately narrow (Latin, Greek, Cyrillic, common
// punctuation and symbols): every line must be exactly Width cells, and
// anything that can combine with its neighbour would break that.
func cellRune(r rune) (rune, bool) {
	switch {
	case r >= 0x20 && r < 0x7f:
		return r, true
	case r == '\t' || r == '\n':
		return ' ', true
	case r < 0xa0:
		return 0, false
	case unicode.IsSpace(r) || unicode.Is(unicode.Zs, r):
		return ' ', true
	case !unicode.IsPrint(r) || unicode.Is(unicode.M, r):
		return 0, false
	}
	ok := r <= 0x24f || // Latin-1, Latin Extended-A/B
		(r >= 0x370 && r <= 0x52f) || // Greek, Cyrillic
		(r >= 0x1e00 && r <= 0x1eff) || // Latin Extended Additional
		(r >= 0x2010 && r <= 0x205e) || // punctuation
		(r >= 0x20a0 && r <= 0x20bf) || // currency
		(r >= 0x2190 && r <= 0x21ff) || // arrows
		(r >= 0x2500 && r <= 0x25ff) // box drawing, blocks, shapes
	if !ok || ansi.StringWidth(string(r)) != 1 {
		return '?', true
	}
	return r, true
}

// labelRunes returns the drawable runes of s (see cellRune) without ANSI
// escape sequences or leading and trailing spaces, reusing buf's storage.
func labelRunes(buf []rune, s string) []rune {
	buf = buf[:0]
	if strings.IndexByte(s, 0x1b) >= 0 {
		s = ansi.Strip(s)
	}
	for _, r := range s {
		if c, ok := cellRune(r); ok {
			buf = append(buf, c)
		}
	}
	// Leading and trailing spaces would only push the label away.
	for len(buf) > 0 && buf[len(buf)-1] == ' ' {
		buf = buf[:len(buf)-1]
	}
	i := 0
	for i < len(buf) && buf[i] == ' ' {
		i++
	}
	return buf[i:]
}
