package geomap

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/charmbracelet/x/ansi"
)

// Kyiv, Maidan Nezalezhnosti.
const lat0, lon0 = 50.4501, 30.5234

// at returns the point east and north metres from (lat, lon) in the map's
// own projection, so it lands on an exact cell.
func at(lat, lon, east, north float64) (float64, float64) {
	return lat + north/earthRadius/degToRad,
		lon + east/(earthRadius*math.Cos(lat*degToRad))/degToRad
}

func pt(east, north float64, label string, mark rune) Point {
	la, lo := at(lat0, lon0, east, north)
	return Point{Lat: la, Lon: lo, Label: label, Mark: mark}
}

func view(w, h int, mpc float64) View {
	return View{Lat: lat0, Lon: lon0, MetresPerCell: mpc, Width: w, Height: h}
}

// render renders and checks the size invariants, returning the raw lines
// and the lines as runes with ANSI stripped.
func render(t testing.TB, v View, pts []Point) (raw []string, plain [][]rune) {
	t.Helper()
	raw = Render(v, pts)
	checkSize(t, v, raw)
	for _, l := range raw {
		plain = append(plain, []rune(ansi.Strip(l)))
	}
	return raw, plain
}

func checkSize(t testing.TB, v View, lines []string) {
	t.Helper()
	if v.Width < 1 || v.Height < 1 || v.Width > maxSize || v.Height > maxSize {
		if len(lines) != 0 {
			t.Fatalf("%dx%d: got %d lines, want none", v.Width, v.Height, len(lines))
		}
		return
	}
	if len(lines) != v.Height {
		t.Fatalf("%dx%d: got %d lines", v.Width, v.Height, len(lines))
	}
	for i, l := range lines {
		if w := ansi.StringWidth(l); w != v.Width {
			t.Fatalf("%dx%d: line %d is %d cells wide: %q", v.Width, v.Height, i, w, l)
		}
		if n := utf8.RuneCountInString(ansi.Strip(l)); n != v.Width {
			t.Fatalf("%dx%d: line %d has %d runes: %q", v.Width, v.Height, i, n, l)
		}
	}
}

func dump(plain [][]rune) string {
	var b strings.Builder
	for _, l := range plain {
		b.WriteString("|" + string(l) + "|\n")
	}
	return b.String()
}

// styledAt returns the SGR parameters in force at display column col of a
// raw line ("" when unstyled).
func styledAt(raw string, col int) string {
	cur, c := "", 0
	for i := 0; i < len(raw); {
		if raw[i] == 0x1b && i+1 < len(raw) && raw[i+1] == '[' {
			j := i + 2
			for j < len(raw) && (raw[j] < 0x40 || raw[j] > 0x7e) {
				j++
			}
			if j < len(raw) && raw[j] == 'm' {
				cur = raw[i+2 : j]
				if cur == "0" {
					cur = ""
				}
			}
			i = j + 1
			continue
		}
		_, n := utf8.DecodeRuneInString(raw[i:])
		if c == col {
			return cur
		}
		c++
		i += n
	}
	return ""
}

func isEmergencyStyle(params string) bool {
	p := ";" + params + ";"
	return strings.Contains(p, ";1;") && strings.Contains(p, ";7;") &&
		(strings.Contains(p, ";91;") || strings.Contains(p, ";31;") || strings.Contains(p, "38;5;9"))
}

func TestRenderFrame(t *testing.T) {
	_, plain := render(t, view(61, 21, 100), nil)
	if plain[10][30] != '+' {
		t.Errorf("centre is %q, want '+'\n%s", plain[10][30], dump(plain))
	}
	if got := string(plain[0][59:]); got != "N↑" {
		t.Errorf("top-right is %q, want N↑", got)
	}
	if got := strings.TrimRight(string(plain[20]), " "); got != "├─────────┤ 1 km" {
		t.Errorf("scale is %q", got)
	}
	_, plain = render(t, view(61, 21, 50), nil)
	if got := strings.TrimRight(string(plain[20]), " "); got != "├─────────┤ 500 m" {
		t.Errorf("scale at 50 m/cell is %q", got)
	}
}

func TestRenderPosition(t *testing.T) {
	const w, h = 61, 21 // centre (30, 10)
	for _, tc := range []struct {
		name        string
		east, north float64
		mpc         float64
		col, row    int
	}{
		{"1 km east", 1000, 0, 100, 40, 10},
		{"1 km north", 0, 1000, 100, 30, 5},
		{"500 m west", -500, 0, 100, 25, 10},
		{"2 km south", 0, -2000, 100, 30, 20},
		{"north-east 10 km scale", 20000, 20000, 1000, 50, 0},
		{"at the centre", 0, 0, 100, 30, 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, plain := render(t, view(w, h, tc.mpc), []Point{pt(tc.east, tc.north, "", 'A')})
			if plain[tc.row][tc.col] != 'A' {
				t.Fatalf("no marker at (%d,%d)\n%s", tc.col, tc.row, dump(plain))
			}
			if n := strings.Count(dump(plain), "A"); n != 1 {
				t.Fatalf("%d markers drawn, want 1\n%s", n, dump(plain))
			}
		})
	}
}

func TestRenderLabels(t *testing.T) {
	t.Run("right of the marker", func(t *testing.T) {
		_, plain := render(t, view(61, 21, 100), []Point{pt(1000, 0, "Alpha-1", 'A')})
		if got := string(plain[10][40:49]); got != "A Alpha-1" {
			t.Fatalf("got %q\n%s", got, dump(plain))
		}
	})
	t.Run("left when the right is taken", func(t *testing.T) {
		// A at col 10, B at col 14 on row 5: A's label cannot fit between.
		_, plain := render(t, view(41, 21, 100), []Point{
			pt(-1000, 1000, "Alpha-1", 'A'),
			pt(-600, 1000, "Bravo-2", 'B'),
		})
		if got := string(plain[5][2:22]); got != "Alpha-1 A   B Bravo-" && got != "Alpha-1 A   B Bravo-2"[:20] {
			t.Fatalf("got %q\n%s", got, dump(plain))
		}
	})
	t.Run("left at the right edge", func(t *testing.T) {
		_, plain := render(t, view(41, 21, 100), []Point{pt(2000, 0, "Echo", 'E')})
		if got := string(plain[10][35:]); got != "Echo E" {
			t.Fatalf("got %q\n%s", got, dump(plain))
		}
	})
	t.Run("cut to fit", func(t *testing.T) {
		// Markers at cols 10 and 20: between them room for "Alpha…" only,
		// and the left side is too narrow for any of it.
		_, plain := render(t, view(41, 21, 100), []Point{
			pt(-1900+100*0, 1000, "X", 'X'),    // col 1
			pt(-1000, 1000, "Alpha-1234", 'A'), // col 10
			pt(0, 1000, "", 'B'),               // col 20
		})
		if got := string(plain[5][10:20]); got != "A Alpha-… " {
			t.Fatalf("got %q\n%s", got, dump(plain))
		}
	})
	t.Run("dropped rather than overlap", func(t *testing.T) {
		_, plain := render(t, view(41, 21, 100), []Point{
			pt(-1000, 1000, "Alpha", 'A'),
			pt(-900, 1000, "Bravo", 'B'),
			pt(-800, 1000, "Charlie", 'C'),
		})
		row := string(plain[5])
		if !strings.Contains(row, "Alpha AB") && !strings.Contains(row, "AB") {
			t.Fatalf("markers not adjacent: %q", row)
		}
		if !strings.Contains(row, "ABC Charlie") || strings.Contains(row, "Bravo") {
			t.Fatalf("got %q\n%s", row, dump(plain))
		}
	})
	t.Run("never overlap, markers never covered", func(t *testing.T) {
		rng := rand.New(rand.NewPCG(1, 2))
		var pts []Point
		labels := map[string]bool{}
		for i := range 300 {
			l := fmt.Sprintf("U%d", i)
			labels[l] = true
			pts = append(pts, pt(rng.Float64()*8000-4000, rng.Float64()*4000-2000, l, 'a'+rune(i%26)))
		}
		v := view(81, 41, 100)
		_, plain := render(t, v, pts)
		// Every point alone in its cell still shows its marker.
		cellOf := func(p Point) (int, int) {
			x, y, _ := mustProj(t, v).xy(p.Lat, p.Lon)
			return 40 + int(math.Round(x/100)), 20 - int(math.Round(y/200))
		}
		count := map[[2]int]int{}
		for _, p := range pts {
			c, r := cellOf(p)
			count[[2]int{c, r}]++
		}
		for _, p := range pts {
			c, r := cellOf(p)
			if c < 0 || c > 80 || r < 0 || r > 40 {
				continue
			}
			want := p.Mark
			if n := count[[2]int{c, r}]; n > 1 {
				want = countRune(int32(n))
			}
			if plain[r][c] != want {
				t.Fatalf("cell (%d,%d) shows %q, want %q\n%s", c, r, plain[r][c], want, dump(plain))
			}
		}
		for _, p := range pts {
			if c, r := cellOf(p); c >= 0 && c <= 80 && r >= 0 && r <= 40 {
				plain[r][c] = ' '
			}
		}
		// Every word on the map is a marker, a whole label, a cut label or
		// part of the frame; overlapping labels would make other words.
		seen := map[string]bool{}
		placed := 0
		for r, line := range plain {
			for _, f := range strings.Fields(string(line)) {
				switch {
				case f == "+", f == "N↑", r == 40:
				case labels[f]:
					if seen[f] {
						t.Fatalf("label %q twice", f)
					}
					seen[f] = true
					placed++
				case strings.HasSuffix(f, "…") && utf8.RuneCountInString(f) > minCut:
					placed++
				default:
					t.Fatalf("stray word %q on row %d\n%s", f, r, dump(plain))
				}
			}
		}
		if placed < 20 {
			t.Fatalf("only %d labels placed\n%s", placed, dump(plain))
		}
	})
}

func mustProj(t testing.TB, v View) projection {
	p, ok := newProjection(v.Lat, v.Lon)
	if !ok {
		t.Fatal("bad centre")
	}
	return p
}

func TestRenderCollision(t *testing.T) {
	for _, tc := range []struct {
		n    int
		want rune
	}{{2, '2'}, {3, '3'}, {9, '9'}, {10, '#'}, {40, '#'}} {
		var pts []Point
		for i := range tc.n {
			pts = append(pts, pt(1000+float64(i%5)*10, 0, fmt.Sprint("Unit", i), 'A'))
		}
		raw, plain := render(t, view(61, 21, 100), pts)
		if plain[10][40] != tc.want {
			t.Errorf("%d points: cell shows %q, want %q\n%s", tc.n, plain[10][40], tc.want, dump(plain))
		}
		if strings.Contains(dump(plain), "Unit") {
			t.Errorf("%d points: a shared cell got a label\n%s", tc.n, dump(plain))
		}
		if s := styledAt(raw[10], 40); s != "" {
			t.Errorf("%d ordinary points styled %q", tc.n, s)
		}
	}
}

func TestRenderEmergency(t *testing.T) {
	t.Run("ordinary marker is not styled", func(t *testing.T) {
		raw, plain := render(t, view(61, 21, 100), []Point{pt(1000, 0, "Alpha-1", 'A')})
		if plain[10][40] != 'A' {
			t.Fatalf("no marker\n%s", dump(plain))
		}
		if s := styledAt(raw[10], 40); s != "" {
			t.Fatalf("ordinary marker styled %q: %q", s, raw[10])
		}
		if strings.Contains(raw[10], "\x1b[") {
			t.Fatalf("ordinary row has escapes: %q", raw[10])
		}
	})
	t.Run("wins a shared cell", func(t *testing.T) {
		e := pt(1000, 0, "Alpha-1", 'E')
		e.Emergency = true
		pts := []Point{pt(1000, 0, "Bravo", 'B'), e, pt(1010, 0, "Charlie", 'C')}
		raw, plain := render(t, view(61, 21, 100), pts)
		if plain[10][40] != 'E' {
			t.Fatalf("cell shows %q, want E\n%s", plain[10][40], dump(plain))
		}
		if s := styledAt(raw[10], 40); !isEmergencyStyle(s) {
			t.Fatalf("emergency marker styled %q, want bold reverse red: %q", s, raw[10])
		}
		if got := string(plain[10][40:49]); got != "E Alpha-1" {
			t.Fatalf("emergency label: got %q\n%s", got, dump(plain))
		}
		if s := styledAt(raw[10], 42); s == "" {
			t.Fatalf("emergency label unstyled: %q", raw[10])
		}
		if s := styledAt(raw[10], 39); s != "" {
			t.Fatalf("style leaks left of the marker: %q", raw[10])
		}
	})
	t.Run("default mark", func(t *testing.T) {
		e := pt(1000, 0, "", 0)
		e.Emergency = true
		_, plain := render(t, view(61, 21, 100), []Point{e, pt(-1000, 0, "", 0)})
		if plain[10][40] != '!' || plain[10][20] != '*' {
			t.Fatalf("got %q and %q\n%s", plain[10][40], plain[10][20], dump(plain))
		}
	})
	t.Run("two emergencies show their count", func(t *testing.T) {
		e := pt(1000, 0, "E1", 'E')
		e.Emergency = true
		e2 := e
		e2.Label = "E2"
		raw, plain := render(t, view(61, 21, 100), []Point{e, pt(1000, 0, "", 'A'), e2})
		if plain[10][40] != '2' || !isEmergencyStyle(styledAt(raw[10], 40)) {
			t.Fatalf("got %q styled %q\n%s", plain[10][40], styledAt(raw[10], 40), dump(plain))
		}
	})
	t.Run("label placed before others", func(t *testing.T) {
		// A at col 1 and E at col 18 both want the room between them (the
		// centre blocks E's right). E comes last in pts but is labelled
		// first, so it is whole and A's is cut.
		a := pt(-1900, 0, "Alpha-1", 'A')
		e := pt(-200, 0, "Echo-99", 'E')
		e.Emergency = true
		_, plain := render(t, view(41, 21, 100), []Point{a, e})
		if got := string(plain[10][:21]); got != " A Alpha… Echo-99 E +" {
			t.Fatalf("got %q", got)
		}
	})
	t.Run("dim is faint", func(t *testing.T) {
		d := pt(1000, 0, "Old", 'A')
		d.Dim = true
		raw, _ := render(t, view(61, 21, 100), []Point{d})
		if s := styledAt(raw[10], 40); s != "2" {
			t.Fatalf("dim marker styled %q, want faint", s)
		}
	})
}

func TestRenderOffWindow(t *testing.T) {
	const w, h = 61, 21 // centre (30, 10)
	for _, tc := range []struct {
		name        string
		east, north float64
		col, row    int
		arrow       rune
	}{
		{"north", 0, 50000, 30, 0, '↑'},
		{"south", 0, -50000, 30, 20, '↓'},
		{"east", 50000, 0, 60, 10, '→'},
		{"west", -50000, 0, 0, 10, '←'},
		{"north-east, leaves by the top", 30000, 60000, 40, 0, '↗'},
		{"south-east, leaves by the bottom", 30000, -30000, 50, 20, '↘'},
		{"north-west, leaves by the side", -60000, 32000, 0, 2, '↖'},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := pt(tc.east, tc.north, "Alpha-1", 'A')
			e.Emergency = true
			raw, plain := render(t, view(w, h, 100), []Point{e})
			if plain[tc.row][tc.col] != tc.arrow {
				t.Fatalf("(%d,%d) is %q, want %q\n%s", tc.col, tc.row, plain[tc.row][tc.col], tc.arrow, dump(plain))
			}
			if !isEmergencyStyle(styledAt(raw[tc.row], tc.col)) {
				t.Fatalf("arrow styled %q", styledAt(raw[tc.row], tc.col))
			}
			want := "Alpha-1 " + FormatDistance(math.Hypot(tc.east, tc.north))
			if !strings.Contains(string(plain[tc.row]), want) {
				t.Fatalf("no %q on row %d\n%s", want, tc.row, dump(plain))
			}
		})
	}
	t.Run("ordinary points get a faint arrow", func(t *testing.T) {
		raw, plain := render(t, view(w, h, 100), []Point{pt(50000, 0, "Bravo", 'B')})
		if plain[10][60] != '→' || styledAt(raw[10], 60) != "2" {
			t.Fatalf("got %q styled %q\n%s", plain[10][60], styledAt(raw[10], 60), dump(plain))
		}
		if strings.Contains(dump(plain), "Bravo") {
			t.Fatalf("ordinary arrow labelled\n%s", dump(plain))
		}
	})
	t.Run("emergency arrow wins the border cell", func(t *testing.T) {
		e := pt(0, 90000, "Echo", 'E')
		e.Emergency = true
		raw, plain := render(t, view(w, h, 100), []Point{pt(0, 50000, "", 'B'), e, pt(0, 2000, "", 'C')})
		if plain[0][30] != '↑' || !isEmergencyStyle(styledAt(raw[0], 30)) {
			t.Fatalf("got %q styled %q\n%s", plain[0][30], styledAt(raw[0], 30), dump(plain))
		}
	})
}

func TestRenderAntimeridian(t *testing.T) {
	for _, tc := range []struct {
		name             string
		centreLon, ptLon float64
		col              int
	}{
		{"east across", 179.99, -179.995, 30 + 17}, // 0.015° at the equator ≈ 1668 m
		{"west across", -179.99, 179.995, 30 - 17},
		{"same side", 179.99, 179.975, 30 - 17},
		{"far lon", 179.99, -179.995 + 720, 30 + 17},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := View{Lat: 0, Lon: tc.centreLon, MetresPerCell: 100, Width: 61, Height: 21}
			_, plain := render(t, v, []Point{{Lat: 0, Lon: tc.ptLon, Mark: 'A'}})
			if plain[10][tc.col] != 'A' {
				t.Fatalf("marker not at col %d\n%s", tc.col, dump(plain))
			}
		})
	}
	if d := Distance(0, 179.99, 0, -179.99); math.Abs(d-2224) > 2 {
		t.Errorf("Distance across the antimeridian = %.0f m, want ≈ 2224", d)
	}
}

func TestFit(t *testing.T) {
	v := view(61, 21, 100)
	if got := Fit(v, []Point{pt(1000, 0, "", 'A')}); got != 50 {
		t.Errorf("1 km east in 61 columns: Fit = %v, want 50", got) // 1000/28 ≈ 36
	}
	if got := Fit(v, []Point{pt(0, 0, "", 'A')}); got != 10 {
		t.Errorf("point at the centre: Fit = %v, want 10", got)
	}
	if got := Fit(v, nil); got != 100 {
		t.Errorf("no points: Fit = %v, want the current 100", got)
	}
	if got := Fit(view(61, 21, 130), nil); got != 100 {
		t.Errorf("no points at 130: Fit = %v, want 100 (snapped)", got)
	}
	if got := Fit(v, []Point{{Lat: -lat0, Lon: lon0 + 180}}); got != 100000 {
		t.Errorf("antipode: Fit = %v, want 100000", got)
	}

	rng := rand.New(rand.NewPCG(3, 4))
	for _, spread := range []float64{300, 3000, 30000, 300000} {
		var pts []Point
		for i := range 40 {
			pts = append(pts, pt((rng.Float64()*2-1)*spread, (rng.Float64()*2-1)*spread, "", 'a'+rune(i%26)))
		}
		pts = append(pts, Point{Lat: math.NaN(), Lon: 0, Mark: 'Z'}) // ignored
		mpc := Fit(v, pts)
		onLadder := false
		for _, l := range ladder {
			onLadder = onLadder || l == mpc
		}
		if !onLadder {
			t.Fatalf("spread %v: Fit = %v, not on the ladder", spread, mpc)
		}
		v := v
		v.MetresPerCell = mpc
		_, plain := render(t, v, pts[:40])
		for _, r := range "→↗↑↖←↙↓↘" {
			if strings.ContainsRune(strings.ReplaceAll(dump(plain), "N↑", ""), r) {
				t.Fatalf("spread %v at %v m/cell: a point is off the window\n%s", spread, mpc, dump(plain))
			}
		}
		// One step closer, something leaves the window or its margin.
		if in := ZoomIn(mpc); in != mpc {
			proj := mustProj(t, v)
			outside := false
			for _, p := range pts[:40] {
				x, y, _ := proj.xy(p.Lat, p.Lon)
				outside = outside || math.Abs(x)/in > 28 || math.Abs(y)/(2*in) > 9
			}
			if !outside {
				t.Fatalf("spread %v: Fit = %v but %v also fits", spread, mpc, in)
			}
		}
	}
}

func TestZoom(t *testing.T) {
	for _, tc := range []struct {
		mpc, in, out float64
	}{
		{100, 50, 200},
		{10, 10, 20},
		{100000, 50000, 100000},
		{150, 100, 200},
		{1000, 500, 2000},
		{5, 10, 10},
		{0, 10, 10},
		{-3, 10, 10},
		{1e9, 100000, 100000},
		{math.Inf(1), 100000, 100000},
		{math.NaN(), 100, 100},
	} {
		if got := ZoomIn(tc.mpc); got != tc.in {
			t.Errorf("ZoomIn(%v) = %v, want %v", tc.mpc, got, tc.in)
		}
		if got := ZoomOut(tc.mpc); got != tc.out {
			t.Errorf("ZoomOut(%v) = %v, want %v", tc.mpc, got, tc.out)
		}
	}
	// The ladder walks both ways.
	mpc := 10.0
	for range ladder {
		mpc = ZoomOut(mpc)
	}
	for range ladder {
		mpc = ZoomIn(mpc)
	}
	if mpc != 10 {
		t.Errorf("out and back in ends at %v", mpc)
	}
}

func TestDistance(t *testing.T) {
	for _, tc := range []struct {
		name                   string
		lat1, lon1, lat2, lon2 float64
		want, tol              float64
	}{
		{"Paris-London", 48.8566, 2.3522, 51.5074, -0.1278, 343.5e3, 1e3},
		{"Kyiv-Lviv", 50.4501, 30.5234, 49.8397, 24.0297, 468e3, 3e3},
		{"equal", lat0, lon0, lat0, lon0, 0, 0},
		{"pole to equator", 90, 0, 0, 0, 10007.5e3, 1e3},
		{"antipodes", 0, 0, 0, 180, 20015e3, 2e3},
	} {
		if got := Distance(tc.lat1, tc.lon1, tc.lat2, tc.lon2); math.Abs(got-tc.want) > tc.tol {
			t.Errorf("%s: Distance = %.0f, want %.0f ± %.0f", tc.name, got, tc.want, tc.tol)
		}
	}
	if d := Distance(math.NaN(), 0, 0, 0); !math.IsNaN(d) {
		t.Errorf("NaN input gives %v", d)
	}
}

func TestBearing(t *testing.T) {
	for _, tc := range []struct {
		name       string
		lat2, lon2 float64
		want       float64
		compass    string
	}{
		{"north", 1, 0, 0, "N"},
		{"east", 0, 1, 90, "E"},
		{"south", -1, 0, 180, "S"},
		{"west", 0, -1, 270, "W"},
		{"north-east", 1, 1, 45, "NE"},
		{"across the antimeridian", 0, -179, 90, "E"}, // from (0, 179)
	} {
		lon1 := 0.0
		if tc.name == "across the antimeridian" {
			lon1 = 179
		}
		got := Bearing(0, lon1, tc.lat2, tc.lon2)
		if math.Abs(got-tc.want) > 0.1 {
			t.Errorf("%s: Bearing = %.2f, want %v", tc.name, got, tc.want)
		}
		if c := Compass(got); c != tc.compass {
			t.Errorf("%s: Compass(%.2f) = %q, want %q", tc.name, got, c, tc.compass)
		}
	}
	if b := Bearing(lat0, lon0, lat0, lon0); b != 0 {
		t.Errorf("equal points: Bearing = %v", b)
	}
	// Paris to London is north-west, about 330°.
	if b := Bearing(48.8566, 2.3522, 51.5074, -0.1278); math.Abs(b-330) > 2 || Compass(b) != "NW" {
		t.Errorf("Paris-London bearing %.1f (%s)", b, Compass(b))
	}
}

func TestCompass(t *testing.T) {
	for deg, want := range map[float64]string{
		0: "N", 22.4: "N", 22.6: "NE", 45: "NE", 135: "SE", 200: "S", 250: "W",
		315: "NW", 337.4: "NW", 337.6: "N", 359.9: "N", 360: "N", 720 + 90: "E",
		-90: "W", -45: "NW", math.NaN(): "", math.Inf(1): "",
	} {
		if got := Compass(deg); got != want {
			t.Errorf("Compass(%v) = %q, want %q", deg, got, want)
		}
	}
}

func TestFormatDistance(t *testing.T) {
	for m, want := range map[float64]string{
		0: "0 m", 4.4: "4 m", 850: "850 m", 999.4: "999 m", 999.6: "1 km", 1000: "1 km",
		3200: "3.2 km", 3249: "3.2 km", 9949: "9.9 km", 9950: "10 km", 12345: "12 km",
		343500: "344 km", -1: "?", math.NaN(): "?", math.Inf(1): "?",
	} {
		if got := FormatDistance(m); got != want {
			t.Errorf("FormatDistance(%v) = %q, want %q", m, got, want)
		}
	}
}

func TestRenderEdgeCases(t *testing.T) {
	nan := math.NaN()
	nasty := []Point{
		pt(0, 0, "漢字ラベル", '漢'),
		pt(300, 0, "e\u0301\u0301x\u200d🚓🇺🇦", '🚓'),
		pt(-300, 200, "a\x1b[31mred\tb\nc", 0x301),
		pt(500, -400, "कि ก ำ 한", 'ก'),
		{Lat: nan, Lon: 0, Mark: 'N'},
		{Lat: 0, Lon: nan, Mark: 'N'},
		{Lat: 95, Lon: 0, Mark: 'N'},
		{Lat: 0, Lon: math.Inf(1), Mark: 'N'},
		{Lat: 1e308, Lon: -1e308, Mark: 'N'},
		{Lat: lat0, Lon: 1e300, Emergency: true},
		{Lat: -90, Lon: 0, Emergency: true, Label: strings.Repeat("x", 500)},
	}
	for _, v := range []View{
		view(1, 1, 100), view(1, 7, 100), view(7, 1, 100), view(2, 2, 100), view(3, 3, 100),
		view(4, 3, 100), view(200, 60, 100), view(80, 24, 1e-300), view(80, 24, 1e300),
		view(80, 24, nan), view(80, 24, math.Inf(1)), view(80, 24, 0), view(80, 24, -5),
		{Lat: nan, Lon: 0, MetresPerCell: 100, Width: 10, Height: 5},
		{Lat: 91, Lon: 1e300, MetresPerCell: 100, Width: 10, Height: 5},
		{Lat: 90, Lon: 0, MetresPerCell: 100, Width: 10, Height: 5},
		view(0, 10, 100), view(10, 0, 100), view(-1, -1, 100), view(maxSize+1, 1, 100),
		view(math.MaxInt, math.MaxInt, 100),
	} {
		render(t, v, nasty)
		render(t, v, nil)
	}
	_, plain := render(t, view(41, 11, 100), nasty[:4])
	d := dump(plain)
	if !strings.Contains(d, "?????") || !strings.Contains(d, "ex???") || !strings.Contains(d, "ared b c") {
		t.Errorf("unexpected sanitised labels\n%s", d)
	}
}

func FuzzRender(f *testing.F) {
	f.Add(61, 21, lat0, lon0, 100.0, []byte{10, 0, 0, 0, 1, 20, 0, 5, 0, 2, 0, 0, 0, 0, 3}, "Alpha-1")
	f.Add(1, 1, 0.0, 179.99, 10.0, []byte{255, 255, 255, 255, 7}, "")
	f.Add(200, 60, -89.9, -180.0, 1e5, []byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, "漢字 e\u0301 🚓")
	f.Add(3, 2, math.NaN(), 0.0, math.Inf(1), []byte{0}, "\x1b[31m")
	f.Fuzz(func(t *testing.T, w, h int, lat, lon, mpc float64, data []byte, label string) {
		w, h = w%300, h%100
		v := View{Lat: lat, Lon: lon, MetresPerCell: mpc, Width: w, Height: h}
		var pts []Point
		for i := 0; i+5 <= len(data); i += 5 {
			// Offsets in cells around the centre (so points land in and
			// just outside the window), plus flags.
			dx, dy := float64(int8(data[i]))+float64(data[i+1])/256, float64(int8(data[i+2]))+float64(data[i+3])/256
			la, lo := at(lat, lon, dx*mpc, 2*dy*mpc)
			fl := data[i+4]
			pts = append(pts, Point{
				Lat: la, Lon: lo,
				Label:     label[:min(len(label), int(fl>>3))],
				Mark:      []rune{0, 'A', 'B', '!', '漢', 0x301, '?', ' '}[fl&7],
				Emergency: fl&0x40 != 0,
				Dim:       fl&0x20 != 0,
			})
		}
		checkSize(t, v, Render(v, pts))
		if mpc := Fit(v, pts); math.IsNaN(mpc) || mpc <= 0 {
			t.Fatalf("Fit = %v", mpc)
		}
	})
}

func BenchmarkRender(b *testing.B) {
	rng := rand.New(rand.NewPCG(5, 6))
	pts := make([]Point, 1000)
	for i := range pts {
		// A city of units about 12×12 km, viewed at 100 m/cell: most in
		// the 20×12 km window, some crowded, some off the edge.
		pts[i] = pt(rng.NormFloat64()*4000, rng.NormFloat64()*3000, fmt.Sprintf("Unit-%d", i), 'A'+rune(i%3))
		pts[i].Emergency = i%97 == 0
		pts[i].Dim = i%7 == 0
	}
	v := view(200, 60, 100)
	b.ReportAllocs()
	for b.Loop() {
		Render(v, pts)
	}
}

func ExampleRender() {
	e := pt(-1500, 800, "Delta-4", 'B')
	e.Emergency = true
	far := pt(9000, -9000, "Kilo-2", 'A')
	far.Emergency = true
	stale := pt(1100, -1000, "Echo-5", 'O')
	stale.Dim = true
	pts := []Point{
		pt(600, 400, "Alpha-1", 'A'),
		pt(700, 400, "Bravo-2", 'B'),
		pt(-2000, -600, "Charlie-3", 'A'),
		pt(-2020, -610, "Foxtrot-6", 'A'),
		pt(-2040, -590, "Golf-7", 'B'),
		e, far, stale,
		pt(20000, 2000, "Lima-8", 'A'),
	}
	v := View{Lat: lat0, Lon: lon0, MetresPerCell: 100, Width: 60, Height: 15}
	for _, l := range Render(v, pts) {
		fmt.Println("|" + ansi.Strip(l) + "|")
	}
	// Output:
	// |                                                          N↑|
	// |                                                            |
	// |                                                            |
	// |               B Delta-4                                    |
	// |                                                            |
	// |                            Alpha-1 AB Bravo-2              |
	// |                                                           →|
	// |                              +                             |
	// |                                                            |
	// |                                                            |
	// |          3                                                 |
	// |                                                            |
	// |                                         O Echo-5           |
	// |                                                            |
	// |├─────────┤ 1 km                            ↘ Kilo-2 13 km  |
}
