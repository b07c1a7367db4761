package store

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// crashDirEnv, when set, makes TestCrashChild the writer of TestKill9 in a
// child process.
const crashDirEnv = "VARTA_STORE_CRASH_DIR"

// crashAcks is how many acknowledged units the parent waits for before it
// kills the child.
const crashAcks = 150

// TestCrashChild runs in the child process of TestKill9: it adds enrolled
// units to talkgroup 1, and prints "acked N" as soon as AddUnit(N) returns,
// until it is killed. Every tenth unit it also adds, assigns and removes a
// talkgroup, so that multi-record commits are in flight too, then stores
// epoch N/10 of talkgroup 1 with a key for each unit so far and prints
// "keyed N/10" once PutKeys returns.
func TestCrashChild(t *testing.T) {
	dir := os.Getenv(crashDirEnv)
	if dir == "" {
		t.Skip("helper process for TestKill9")
	}
	s, err := Open(Config{Dir: dir})
	if err != nil {
		fmt.Println("open:", err)
		os.Exit(2)
	}
	if err := s.AddTalkgroup(Talkgroup{ID: 1, Name: "Main"}); err != nil {
		fmt.Println("add talkgroup:", err)
		os.Exit(2)
	}
	fmt.Println("ready")
	for i := uint32(1); i < 1_000_000; i++ {
		u := enrolled(i, 1)
		u.Alias = fmt.Sprintf("Unit %d", i)
		if err := s.AddUnit(u); err != nil {
			fmt.Println("add unit:", err)
			os.Exit(2)
		}
		fmt.Printf("acked %d\n", i)
		if i%10 == 0 {
			tg := uint16(2 + i%1000)
			s.AddTalkgroup(Talkgroup{ID: tg, Name: "Temp"})
			s.SetUnitTalkgroups(i, []uint16{1, tg})
			s.RemoveTalkgroup(tg)
			keys := make(map[uint32][]byte)
			for u := uint32(1); u <= i; u++ {
				keys[u] = keyFor(u, i/10)
			}
			if err := s.PutKeys(1, i/10, kmfCert, keys); err != nil {
				fmt.Println("put keys:", err)
				os.Exit(2)
			}
			fmt.Printf("keyed %d\n", i/10)
		}
	}
	os.Exit(0)
}

// TestKill9 kills a process that is writing the roster with SIGKILL and
// checks that every unit and every epoch of keys it acknowledged is there
// when the store reopens, that a unit acknowledged after the last epoch made
// it stale, and that the lock held by the child kept the parent out while it
// ran.
func TestKill9(t *testing.T) {
	if os.Getenv(crashDirEnv) != "" {
		t.Skip("in the helper process")
	}
	t.Parallel()
	dir := t.TempDir()
	cmd, out, stderr := startCrashChild(t, "TestCrashChild", crashDirEnv, dir)
	acked := 0
	killed := false
	// epoch is the last epoch acknowledged, when acked was keyedAt.
	epoch, keyedAt := 0, 0
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "ready":
			if !Locked(dir) {
				t.Error("Locked = false while the child has the store open")
			}
			if s, err := Open(Config{Dir: dir}); !errors.Is(err, ErrLocked) {
				if s != nil {
					s.Close()
				}
				t.Errorf("Open while the child has the store open = %v, want ErrLocked", err)
			}
		case strings.HasPrefix(line, "acked "):
			n, err := strconv.Atoi(strings.TrimPrefix(line, "acked "))
			if err != nil || n != acked+1 {
				t.Fatalf("child printed %q after acked %d", line, acked)
			}
			acked = n
			if acked == crashAcks && !killed {
				if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
					t.Fatal(err)
				}
				killed = true
			}
		case strings.HasPrefix(line, "keyed "):
			n, err := strconv.Atoi(strings.TrimPrefix(line, "keyed "))
			if err != nil || n != epoch+1 || acked != n*10 {
				t.Fatalf("child printed %q after acked %d and keyed %d", line, acked, epoch)
			}
			epoch, keyedAt = n, acked
		default:
			t.Errorf("child: %s", line)
		}
	}
	err := cmd.Wait()
	if !killed {
		t.Fatalf("child ended before it was killed (%v): %s", err, stderr.String())
	}
	// Lines the child printed before it died were read above, so acked
	// counts every acknowledgement.
	s, err := Open(Config{Dir: dir})
	if err != nil {
		t.Fatalf("Open after kill -9: %v", err)
	}
	defer s.Close()
	for i := 1; i <= acked; i++ {
		u, err := s.Unit(uint32(i))
		if err != nil {
			t.Fatalf("acked unit %d of %d is missing after kill -9: %v", i, acked, err)
		}
		if u.Alias != fmt.Sprintf("Unit %d", i) {
			t.Fatalf("unit %d alias %q", i, u.Alias)
		}
	}
	st, err := s.KeyState(1)
	if err != nil {
		t.Fatal(err)
	}
	switch {
	case st.Epoch == uint32(epoch)+1:
		// The next epoch was written, but not acknowledged.
	case st.Epoch != uint32(epoch):
		t.Fatalf("epoch %d after kill -9; %d was acknowledged last", st.Epoch, epoch)
	case acked > keyedAt && (!st.Stale || st.Reason != fmt.Sprintf("unit %d joined", keyedAt+1)):
		t.Fatalf("unit %d was acknowledged after epoch %d, but the key state is %+v", keyedAt+1, epoch, st)
	case acked == keyedAt && epoch > 0 && st.Stale && st.Reason != fmt.Sprintf("unit %d joined", keyedAt+1):
		t.Fatalf("key state %+v after kill -9 right after epoch %d", st, epoch)
	}
	if st.Epoch == uint32(epoch) && epoch > 0 {
		for u := uint32(1); u <= uint32(keyedAt); u++ {
			mk, err := s.MemberKey(1, u)
			if err != nil || !bytes.Equal(mk.Key, keyFor(u, uint32(epoch))) || !bytes.Equal(mk.KMFCert, kmfCert) {
				t.Fatalf("member key of unit %d for acknowledged epoch %d after kill -9 = %+v, %v", u, epoch, mk, err)
			}
		}
	}
	t.Logf("%d units and %d epochs acknowledged before kill -9, all present (key state %+v); torn copies: %v",
		acked, epoch, st, tornCopies(t, dir, rosterFile))
}

// startCrashChild starts this test binary running only the test named run,
// with env set to dir, and returns the child, its standard output and what
// it writes to standard error.
func startCrashChild(t *testing.T, run, env, dir string) (*exec.Cmd, io.ReadCloser, *bytes.Buffer) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^"+run+"$", "-test.count=1")
	cmd.Env = append(os.Environ(), env+"="+dir)
	stderr := new(bytes.Buffer)
	cmd.Stderr = stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd, out, stderr
}
