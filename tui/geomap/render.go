package geomap

import (
	"math"
	"strings"
)

// Point is one thing to draw.
type Point struct {
	Lat, Lon float64 // degrees; NaN, infinite or |Lat| > 90 is not drawn
	// Label is shown beside the marker when there is room, e.g. the alias
	// "Alpha-1"; it may be cut to fit ("Alph…") or left out. Characters
	// that could upset the cell grid (wide, combining, control) are
	// replaced by '?' or dropped.
	Label string
	// Mark is the marker drawn at the position, e.g. 'A' available, 'B'
	// busy. 0 means '*', or '!' for an emergency; a rune that is not one
	// cell wide (see Label) also becomes '*'.
	Mark rune
	// Emergency points are drawn red, bold and reversed, win any cell they
	// share, get their labels placed first, and when outside the window
	// are shown as a red arrow on the border labelled with their distance.
	Emergency bool
	// Dim points (stale, out of service) are drawn faint and labelled last.
	Dim bool
}

// View is the window onto the map.
type View struct {
	Lat, Lon float64 // centre, degrees
	// MetresPerCell is the horizontal size of one character cell. A cell
	// is about twice as tall as wide, so one row is 2*MetresPerCell.
	// Fit, ZoomIn and ZoomOut give round values; zero, negative or NaN
	// draws the frame without points or scale.
	MetresPerCell float64
	Width, Height int // in cells
}

// maxSize bounds Width and Height: a larger view is not a terminal.
const maxSize = 1 << 12

// minCut is the fewest label runes shown when a label has to be cut (the
// cut is marked with '…').
const minCut = 3

// Render draws pts into a v.Width×v.Height block and returns it as Height
// lines, each exactly Width cells wide (ansi.StringWidth), with ANSI SGR
// styles; stripped of those the text still reads as a map. It returns nil
// if Width or Height is not in 1..4096. The caller owns the result.
//
// The block shows, most important first:
//   - points: their Mark at the projected cell; several in one cell show
//     the count '2'…'9' or '#' for ten or more, unless an emergency is
//     among them, which takes the cell (several emergencies show their
//     count, styled as an emergency);
//   - points outside the window: an arrow (→ ↗ ↑ ↖ ← ↙ ↓ ↘) on the border
//     where the line from the centre to the point leaves the window,
//     faint, or red over anything else for emergencies;
//   - '+' at the centre (cell Width/2, row Height/2), "N↑" in the top-right
//     corner and a scale bar such as "├────┤ 500 m" in the bottom-left
//     corner when the window has room (markers cover them);
//   - labels, one blank cell to the right of a marker, or to its left if
//     there is no room, never touching another marker or label: a label
//     that does not fit whole is cut ("Alph…"), and dropped if fewer than
//     three of its runes would show. Emergencies are labelled first, then ordinary points, then
//     dim ones, each in the order of pts. Cells holding a count have no
//     label.
//
// Render keeps nothing and may be called from any goroutine.
func Render(v View, pts []Point) []string {
	w, h := v.Width, v.Height
	if w < 1 || h < 1 || w > maxSize || h > maxSize {
		return nil
	}
	m := &canvas{w: w, h: h, cx: w / 2, cy: h / 2, cells: make([]cell, w*h)}
	mpc := v.MetresPerCell
	scaled := mpc > 0 && !math.IsInf(mpc, 1)

	m.put(m.cx, m.cy, '+', stylePlain)
	if h >= 2 && w >= 4 {
		m.put(w-2, 0, 'N', stylePlain)
		m.put(w-1, 0, '↑', stylePlain)
	}
	if scaled && h >= 3 {
		m.drawScale(mpc)
	}

	proj, ok := newProjection(v.Lat, v.Lon)
	if ok && scaled {
		m.spots = make([]spot, 0, min(len(pts), w*h)+8)
		m.drawPoints(proj, mpc, pts)
		m.drawLabels(v, pts)
	}
	return m.lines()
}

// cellKind says what a cell holds, for label placement.
type cellKind uint8

const (
	kindFree  cellKind = iota
	kindGap            // blank kept beside a label; other labels may share it
	kindLabel          // part of a label
	kindBlock          // marker, arrow, centre, north sign or scale
)

// Cell priorities, lowest first: an emergency's arrow replaces anything
// below priEmergArrow; an ordinary arrow only takes a free cell.
const (
	priNone = iota // blank, decoration, label
	priArrow
	priMarker
	priEmergArrow
	priEmergMarker
)

type cell struct {
	r    rune  // 0 is blank
	spot int32 // 1 + index into canvas.spots of what is drawn here, 0 none
	st   style
	kind cellKind
	pri  uint8
}

// spot is one drawn marker or arrow that may get a label.
type spot struct {
	idx      int32 // cell index
	pt       int32 // point whose label goes here, -1 for none
	n        int32 // points in the cell
	emerg    int32 // emergencies among them
	lit      int32 // points that are not Dim
	firstEm  int32 // first emergency, -1 for none
	arrow    bool
	emergent bool // labelled as an emergency
}

type canvas struct {
	w, h, cx, cy int
	cells        []cell
	spots        []spot
	off          []int32 // points outside the window
	x, y         []float64
	buf          []rune
}

func (m *canvas) put(col, row int, r rune, st style) {
	c := &m.cells[row*m.w+col]
	c.r, c.st, c.kind = r, st, kindBlock
}

// drawScale writes the longest round scale bar of at most ten cells that
// fits in the bottom-left corner, e.g. "├────┤ 500 m".
func (m *canvas) drawScale(mpc float64) {
	n, label := 0, ""
	for d := 1.0; d <= 1e7; d *= 10 {
		for _, k := range [3]float64{1, 2, 5} {
			c := math.Round(k * d / mpc)
			if c < 2 {
				continue
			}
			l := FormatDistance(k * d)
			if c > 10 || int(c)+2+len(l) > m.w-2 {
				goto done
			}
			n, label = int(c), l
		}
	}
done:
	if n == 0 {
		return
	}
	row := m.h - 1
	m.put(0, row, '├', stylePlain)
	for col := 1; col < n; col++ {
		m.put(col, row, '─', stylePlain)
	}
	m.put(n, row, '┤', stylePlain)
	m.put(n+1, row, ' ', stylePlain)
	for i, r := range []byte(label) {
		m.put(n+2+i, row, rune(r), stylePlain)
	}
}

// drawPoints projects pts, gathers those in the window by cell, draws
// their markers and then the border arrows for the rest.
func (m *canvas) drawPoints(proj projection, mpc float64, pts []Point) {
	w, h := float64(m.w), float64(m.h)
	for i := range pts {
		p := &pts[i]
		x, y, ok := proj.xy(p.Lat, p.Lon)
		if !ok {
			continue
		}
		col := float64(m.cx) + math.Round(x/mpc)
		row := float64(m.cy) - math.Round(y/(2*mpc))
		if !(col >= 0 && col < w && row >= 0 && row < h) {
			m.off = append(m.off, int32(i))
			m.x, m.y = append(m.x, x), append(m.y, y)
			continue
		}
		idx := int(row)*m.w + int(col)
		c := &m.cells[idx]
		if c.spot == 0 {
			m.spots = append(m.spots, spot{idx: int32(idx), pt: -1, firstEm: -1})
			c.spot = int32(len(m.spots))
		}
		s := &m.spots[c.spot-1]
		if s.n == 0 {
			s.pt = int32(i)
		}
		s.n++
		if !p.Dim {
			s.lit++
		}
		if p.Emergency {
			if s.emerg == 0 {
				s.firstEm = int32(i)
			}
			s.emerg++
		}
	}

	for i := range m.spots {
		s := &m.spots[i]
		c := &m.cells[s.idx]
		c.kind = kindBlock
		switch {
		case s.emerg > 0:
			c.r, c.st, c.pri = countRune(s.emerg), styleEmergency, priEmergMarker
			s.pt, s.emergent = -1, true
			if s.emerg == 1 {
				s.pt = s.firstEm
				c.r = markRune(&pts[s.pt])
			}
		case s.n == 1:
			c.r, c.st, c.pri = markRune(&pts[s.pt]), stylePlain, priMarker
		default:
			c.r, c.st, c.pri = countRune(s.n), stylePlain, priMarker
			s.pt = -1
		}
		if s.lit == 0 && s.emerg == 0 {
			c.st = styleDim
		}
	}

	for j, i := range m.off {
		m.drawArrow(int(i), pts[i].Emergency, m.x[j], m.y[j], mpc)
	}
}

// drawArrow marks point i, at x, y metres from the centre and outside the
// window, on the border cell where the line from the centre leaves the
// window. An ordinary arrow only takes a free cell; an emergency's takes
// any cell but an emergency's marker or an earlier emergency's arrow.
func (m *canvas) drawArrow(i int, emergency bool, x, y, mpc float64) {
	dx, dy := x/mpc, y/(2*mpc) // cells right, rows up
	if math.IsInf(dx, 0) || math.IsInf(dy, 0) {
		dx, dy = x, y/2
	}
	if k := math.Max(math.Abs(dx), math.Abs(dy)); k > 0 {
		dx, dy = dx/k, dy/k
	}
	t := math.Inf(1)
	switch {
	case dx > 0:
		t = float64(m.w-1-m.cx) / dx
	case dx < 0:
		t = float64(m.cx) / -dx
	}
	switch {
	case dy > 0:
		t = math.Min(t, float64(m.cy)/dy)
	case dy < 0:
		t = math.Min(t, float64(m.h-1-m.cy)/-dy)
	}
	if math.IsInf(t, 1) {
		t = 0
	}
	col := min(max(m.cx+int(math.Round(dx*t)), 0), m.w-1)
	row := min(max(m.cy-int(math.Round(dy*t)), 0), m.h-1)
	c := &m.cells[row*m.w+col]
	if emergency {
		if c.pri >= priEmergArrow {
			return
		}
		c.st, c.pri = styleEmergency, priEmergArrow
		m.spots = append(m.spots, spot{idx: int32(row*m.w + col), pt: int32(i), arrow: true, emergent: true})
		c.spot = int32(len(m.spots))
	} else {
		if c.kind != kindFree {
			return
		}
		c.st, c.pri, c.spot = styleDim, priArrow, 0
	}
	c.r, c.kind = arrowRune(x, y), kindBlock
}

// drawLabels places labels: emergencies, then ordinary points, then dim
// ones, each in the order they were drawn.
func (m *canvas) drawLabels(v View, pts []Point) {
	for pass := 0; pass < 3; pass++ {
		for i := range m.spots {
			s := &m.spots[i]
			if s.pt < 0 || m.cells[s.idx].spot != int32(i+1) {
				continue // no label, or drawn over by an emergency's arrow
			}
			p := &pts[s.pt]
			class := 1
			switch {
			case s.emergent:
				class = 0
			case p.Dim:
				class = 2
			}
			if class != pass {
				continue
			}
			m.buf = labelRunes(m.buf, p.Label)
			if s.arrow {
				d := FormatDistance(Distance(v.Lat, v.Lon, p.Lat, p.Lon))
				if len(m.buf) > 0 {
					m.buf = append(m.buf, ' ')
				}
				m.buf = append(m.buf, []rune(d)...)
			}
			if len(m.buf) == 0 {
				continue
			}
			st := stylePlain
			switch class {
			case 0:
				st = styleEmergLabel
			case 2:
				st = styleDim
			}
			m.placeLabel(int(s.idx), m.buf, st)
		}
	}
}

// placeLabel writes text beside the marker at cell idx: right of it after
// one blank cell, else left of it, keeping a blank cell between the label
// and any other marker or label. If the whole label fits on neither side
// it is cut to the longer room, and dropped if fewer than minCut runes fit.
func (m *canvas) placeLabel(idx int, text []rune, st style) {
	row, col := idx/m.w, idx%m.w
	line := m.cells[row*m.w : (row+1)*m.w]
	open := func(k cellKind) bool { return k == kindFree || k == kindGap }

	// room counts free cells, up to limit, from one past gap in direction
	// step, keeping one blank before whatever stops the run (unless it is
	// already a gap, or the edge).
	room := func(gap, step, limit int) int {
		if gap < 0 || gap >= m.w || !open(line[gap].kind) {
			return 0
		}
		n, i := 0, gap+step
		for n < limit && i >= 0 && i < m.w && line[i].kind == kindFree {
			n++
			i += step
		}
		if n > 0 && i >= 0 && i < m.w && !open(line[i].kind) {
			n--
		}
		return n
	}
	right, left := room(col+1, 1, len(text)), room(col-1, -1, len(text))

	n, cut := len(text), false
	step := 1
	switch {
	case right >= n:
	case left >= n:
		step = -1
	default:
		if right < left {
			step = -1
			right = left
		}
		if right < minCut+1 {
			return
		}
		n, cut = right, true
	}

	start := col + 2*step
	if step < 0 {
		start = col - 1 - n
	}
	for i := 0; i < n; i++ {
		c := &line[start+i]
		c.r, c.st, c.kind = text[i], st, kindLabel
		if cut && i == n-1 {
			c.r = '…'
		}
	}
	for _, g := range [2]int{start - 1, start + n} {
		if g >= 0 && g < m.w && line[g].kind == kindFree {
			line[g].kind = kindGap
		}
	}
}

// lines renders the cells, wrapping each run of one style in its SGR
// sequence.
func (m *canvas) lines() []string {
	out := make([]string, m.h)
	var b strings.Builder
	for row := range out {
		b.Reset()
		b.Grow(m.w + 64)
		cur := stylePlain
		for _, c := range m.cells[row*m.w : (row+1)*m.w] {
			if c.st != cur {
				b.WriteString(sgr[cur].close)
				b.WriteString(sgr[c.st].open)
				cur = c.st
			}
			if c.r == 0 {
				b.WriteByte(' ')
			} else if c.r < 0x80 {
				b.WriteByte(byte(c.r))
			} else {
				b.WriteRune(c.r)
			}
		}
		b.WriteString(sgr[cur].close)
		out[row] = b.String()
	}
	return out
}

// markRune is the marker drawn for p alone in its cell.
func markRune(p *Point) rune {
	if p.Mark != 0 {
		if r, ok := cellRune(p.Mark); ok && r == p.Mark && r != ' ' {
			return r
		}
		return '*'
	}
	if p.Emergency {
		return '!'
	}
	return '*'
}

// countRune is the marker for n points sharing a cell.
func countRune(n int32) rune {
	if n > 9 {
		return '#'
	}
	return '0' + n
}

// arrowRune points toward x metres east, y metres north.
func arrowRune(x, y float64) rune {
	arrows := [8]rune{'→', '↗', '↑', '↖', '←', '↙', '↓', '↘'}
	return arrows[int(math.Round(math.Atan2(y, x)/(math.Pi/4)))&7]
}
