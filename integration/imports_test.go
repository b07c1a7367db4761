package integration

import (
	"os/exec"
	"strings"
	"testing"
)

// The import directions of DESIGN section 2: the relay never links the
// client, the codec or the voice crypto; the client never links the relay;
// the protocol package does no I/O of its own and links neither side.
func TestImportDirections(t *testing.T) {
	const mod = "github.com/varta-ptt/varta/"
	tests := []struct {
		pkg       string
		forbidden []string
	}{
		{"server/...", []string{"client", "codec", "tui", "crypto/sframe", "crypto/groupkey", "kmf"}},
		{"client/...", []string{"server", "tui"}},
		{"protocol/...", []string{"server", "client", "crypto", "std:net"}},
		{"cmd/vartad", []string{"codec", "tui"}}, // the embedded KMF links client/
	}
	for _, tt := range tests {
		out, err := exec.Command("go", "list", "-deps", "./../"+tt.pkg).CombinedOutput()
		if err != nil {
			t.Fatalf("go list %s: %v\n%s", tt.pkg, err, out)
		}
		for _, dep := range strings.Fields(string(out)) {
			for _, f := range tt.forbidden {
				std, isStd := strings.CutPrefix(f, "std:")
				if isStd && dep == std || !isStd && (dep == mod+f || strings.HasPrefix(dep, mod+f+"/")) {
					t.Errorf("%s imports %s", tt.pkg, dep)
				}
			}
		}
	}
}
