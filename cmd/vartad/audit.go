package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"unicode"

	"github.com/varta-ptt/varta/server/store"
)

// vartad audit verify|list reads the audit log in roster.db (see
// store.AuditEntry).
//
// Both read a copy of roster.db, never the file itself, whether or not the
// relay runs: BuntDB cannot open a file read-only, and the running relay
// holds the store's lock. The copy is consistent. The relay writes roster.db
// only by appending commits, each fsynced before it is acknowledged, so a
// copy taken at any moment holds every commit acknowledged before it and
// perhaps the beginning of one more; opening the copy cuts that torn tail
// off the copy, as Open does after a crash, and the original is never
// touched. Entries the relay writes after the copy is taken are not in it.
// --file reads any roster file the same way, such as a snapshot.

func cmdAudit(args []string, out io.Writer) error {
	if len(args) == 0 {
		return errors.New("audit: give verify or list")
	}
	sub, args := args[0], args[1:]
	if sub != "verify" && sub != "list" {
		return fmt.Errorf("audit: unknown command %q (verify, list)", sub)
	}
	fs := flag.NewFlagSet("vartad audit "+sub, flag.ContinueOnError)
	data := fs.String("data", "", "agency data directory: read DIR/roster.db")
	file := fs.String("file", "", "roster file to read instead, such as a snapshot")
	from := fs.Uint64("from", 1, "list: the first entry to list")
	limit := fs.Int("limit", 0, "list: the most entries to list (0: all)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	switch {
	case fs.NArg() > 0:
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	case (*data == "") == (*file == ""):
		return errors.New("give either --data DIR or --file FILE")
	case *limit < 0:
		return errors.New("--limit must be 0 (all) or more")
	}
	st, done, err := openRosterCopy(*data, *file)
	if err != nil {
		return err
	}
	defer done()
	if sub == "list" {
		return listAudit(st, *from, *limit, out)
	}
	n, err := st.VerifyAudit()
	if err != nil {
		return err
	}
	noun := "entries"
	if n == 1 {
		noun = "entry"
	}
	fmt.Fprintf(out, "audit log verified: %d %s, chain intact\n", n, noun)
	if n > 0 {
		last, err := st.AuditLog(uint64(n), 1)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "newest entry: %d, %s, hash %x\n(keep that hash elsewhere: the chain alone cannot show entries removed from its end)\n",
			last[0].Seq, last[0].Time.Format("2006-01-02 15:04:05Z"), last[0].Hash)
	}
	return nil
}

func listAudit(st *store.Store, from uint64, limit int, out io.Writer) error {
	entries, err := st.AuditLog(from, limit)
	if err != nil {
		return err
	}
	if len(entries) == 0 {
		fmt.Fprintf(out, "no audit entries from %d on\n", max(from, 1))
		return nil
	}
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "SEQ\tTIME (UTC)\tACTOR\tACTION\tTARGET\tOUTCOME\tDETAIL")
	for _, e := range entries {
		actor := "admin"
		if e.Actor != 0 {
			actor = strconv.FormatUint(uint64(e.Actor), 10)
		}
		if e.ActorName != "" {
			actor += " " + e.ActorName
		}
		fmt.Fprintf(w, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", e.Seq, e.Time.Format("2006-01-02 15:04:05.000"),
			cell(actor), cell(e.Action), cell(e.Target), cell(e.Outcome), cell(e.Detail))
	}
	return w.Flush()
}

// cell returns s for a table cell: "-" if empty, quoted with escapes if it
// holds a tab, a newline or another character that is not printable (such
// as a terminal escape sent by a radio), else s as it is.
func cell(s string) string {
	if s == "" {
		return "-"
	}
	if strings.IndexFunc(s, func(r rune) bool { return !unicode.IsPrint(r) }) >= 0 {
		return strconv.QuoteToGraphic(s)
	}
	return s
}

// openRosterCopy copies DIR/roster.db (or file) to a new temporary
// directory and opens the copy as a store; done closes it and deletes the
// directory. See the comment at the top of this file.
func openRosterCopy(data, file string) (st *store.Store, done func(), err error) {
	path, snapshots := file, ""
	if data != "" {
		path, snapshots = filepath.Join(data, "roster.db"), filepath.Join(data, "snapshots")
	}
	tmp, err := os.MkdirTemp("", "vartad-audit-")
	if err != nil {
		return nil, nil, err
	}
	copyPath := filepath.Join(tmp, "roster.db")
	err = copyFile(copyPath, path)
	if errors.Is(err, fs.ErrNotExist) && data != "" {
		err = fmt.Errorf("%s does not exist: is %s an agency directory (vartad init)?", path, data)
	}
	if err == nil {
		st, err = store.Open(store.Config{Dir: tmp, SnapshotDir: snapshots})
	}
	if err != nil {
		os.RemoveAll(tmp)
		var damaged *store.DamagedError
		switch {
		case errors.As(err, &damaged) && data != "":
			damaged.File = path // its SnapshotDir and Snapshot are the agency's
			return nil, nil, damaged
		case errors.As(err, &damaged):
			return nil, nil, fmt.Errorf("%s is damaged (%v)", path, damaged.Err)
		}
		return nil, nil, errors.New(strings.ReplaceAll(err.Error(), copyPath, path))
	}
	return st, func() { st.Close(); os.RemoveAll(tmp) }, nil
}

// copyFile copies src to a new file dst, mode 0600.
func copyFile(dst, src string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	f, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	_, err = io.Copy(f, in)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
