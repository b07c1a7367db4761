package server

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"time"

	"github.com/varta-ptt/varta/server/store"
)

// The admin socket lets `vartad` roster commands reach a running relay, so
// that only the relay process ever writes its store. It is a Unix socket in
// the data directory, mode 0600, so only the relay's own OS user can use it.
// Each connection carries JSON lines: one adminRequest, one adminResponse.

// AdminSocketName is the socket's file name inside the data directory.
const AdminSocketName = "admin.sock"

// maxAdminLine caps one admin request.
const maxAdminLine = 1 << 20

type adminRequest struct {
	Op         string           `json:"op"`
	ID         uint32           `json:"id,omitempty"`
	Talkgroups []uint16         `json:"talkgroups,omitempty"`
	Unit       *store.Unit      `json:"unit,omitempty"`
	Talkgroup  *store.Talkgroup `json:"talkgroup,omitempty"`
	// Credentials, for unit.replace-credentials.
	Fingerprint string `json:"fingerprint,omitempty"`
	HPKE        []byte `json:"hpke,omitempty"`
	Signing     []byte `json:"signing,omitempty"`
	Cert        []byte `json:"cert,omitempty"` // DER
}

type adminResponse struct {
	Error      string            `json:"error,omitempty"`
	Kind       string            `json:"kind,omitempty"` // "exists", "not-found", "unknown-talkgroup", "invalid"
	Unit       *store.Unit       `json:"unit,omitempty"`
	Units      []store.Unit      `json:"units,omitempty"`
	Talkgroups []store.Talkgroup `json:"talkgroups,omitempty"`
}

// errorKinds map store sentinels across the socket and back.
var errorKinds = []struct {
	kind string
	err  error
}{
	{"exists", store.ErrExists},
	{"not-found", store.ErrNotFound},
	{"unknown-talkgroup", store.ErrUnknownTalkgroup},
	{"invalid", store.ErrInvalid},
}

// ServeAdmin answers roster requests on ln until ctx is done. Every change
// is acknowledged only after the store has synced it.
func (s *Server) ServeAdmin(ctx context.Context, ln net.Listener) error {
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("server: admin accept: %w", err)
		}
		wg.Go(func() {
			defer c.Close()
			c.SetDeadline(time.Now().Add(30 * time.Second))
			sc := bufio.NewScanner(c)
			sc.Buffer(make([]byte, 4096), maxAdminLine)
			if !sc.Scan() {
				return
			}
			c.Write(s.adminLine(sc.Bytes()))
		})
	}
}

// ListenAdmin creates the admin socket at path with mode 0600, replacing a
// stale socket left by a crashed relay.
func ListenAdmin(path string) (net.Listener, error) {
	if fi, err := os.Lstat(path); err == nil && fi.Mode()&os.ModeSocket != 0 {
		os.Remove(path)
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("server: admin socket: %w", err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("server: admin socket: %w", err)
	}
	return ln, nil
}

// adminLine answers one request line with one response line.
func (s *Server) adminLine(line []byte) []byte {
	var req adminRequest
	var resp adminResponse
	if err := json.Unmarshal(line, &req); err != nil {
		resp.Error = "server: admin request is not valid JSON"
		resp.Kind = "invalid"
	} else {
		resp = s.adminDo(req)
	}
	b, err := json.Marshal(resp)
	if err != nil {
		b = []byte(`{"error":"server: admin response could not be encoded"}`)
	}
	return append(b, '\n')
}

func (s *Server) adminDo(req adminRequest) adminResponse {
	var resp adminResponse
	var err error
	switch req.Op {
	case "talkgroup.add":
		if req.Talkgroup == nil {
			err = fmt.Errorf("%w: no talkgroup given", store.ErrInvalid)
			break
		}
		err = s.AddTalkgroup(*req.Talkgroup)
	case "talkgroup.remove":
		err = s.RemoveTalkgroup(uint16(req.ID))
	case "talkgroup.list":
		resp.Talkgroups, err = s.Talkgroups()
	case "unit.add":
		if req.Unit == nil {
			err = fmt.Errorf("%w: no unit given", store.ErrInvalid)
			break
		}
		err = s.AddUnit(*req.Unit)
	case "unit.remove":
		err = s.RemoveUnit(req.ID)
	case "unit.get":
		var u store.Unit
		u, err = s.Unit(req.ID)
		resp.Unit = &u
	case "unit.list":
		resp.Units, err = s.Units()
	case "unit.set-talkgroups":
		var u store.Unit
		u, err = s.SetUnitTalkgroups(req.ID, req.Talkgroups)
		resp.Unit = &u
	case "unit.replace-credentials":
		var u store.Unit
		u, err = s.ReplaceUnitCredentials(req.ID, req.Fingerprint, req.HPKE, req.Signing, req.Cert)
		resp.Unit = &u
	default:
		err = fmt.Errorf("%w: unknown admin operation %q", store.ErrInvalid, req.Op)
	}
	if err != nil {
		resp = adminResponse{Error: err.Error()}
		for _, k := range errorKinds {
			if errors.Is(err, k.err) {
				resp.Kind = k.kind
				break
			}
		}
	}
	return resp
}

// AdminClient is the Roster of a running relay, reached through its admin
// socket. Each call is one connection.
type AdminClient struct {
	Path    string
	Timeout time.Duration // default 30 s
}

var _ Roster = (*AdminClient)(nil)

// adminError carries a relay-side error and its sentinel across the socket.
type adminError struct {
	msg  string
	kind error
}

func (e *adminError) Error() string { return e.msg }
func (e *adminError) Unwrap() error { return e.kind }

func (a *AdminClient) do(req adminRequest) (adminResponse, error) {
	var resp adminResponse
	timeout := a.Timeout
	if timeout == 0 {
		timeout = 30 * time.Second
	}
	c, err := net.DialTimeout("unix", a.Path, timeout)
	if err != nil {
		return resp, fmt.Errorf("server: reach the running relay at %s: %w", a.Path, err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(timeout))
	b, err := json.Marshal(req)
	if err != nil {
		return resp, err
	}
	if _, err := c.Write(append(b, '\n')); err != nil {
		return resp, fmt.Errorf("server: send to the running relay: %w", err)
	}
	sc := bufio.NewScanner(c)
	sc.Buffer(make([]byte, 4096), 64<<20)
	if !sc.Scan() {
		err := sc.Err()
		if err == nil {
			err = errors.New("no answer")
		}
		return resp, fmt.Errorf("server: the running relay did not answer: %w", err)
	}
	if err := json.Unmarshal(sc.Bytes(), &resp); err != nil {
		return resp, fmt.Errorf("server: bad answer from the running relay: %w", err)
	}
	if resp.Error != "" {
		e := &adminError{msg: resp.Error}
		for _, k := range errorKinds {
			if k.kind == resp.Kind {
				e.kind = k.err
			}
		}
		return resp, e
	}
	return resp, nil
}

// AddTalkgroup implements Roster.
func (a *AdminClient) AddTalkgroup(tg store.Talkgroup) error {
	_, err := a.do(adminRequest{Op: "talkgroup.add", Talkgroup: &tg})
	return err
}

// RemoveTalkgroup implements Roster.
func (a *AdminClient) RemoveTalkgroup(id uint16) error {
	_, err := a.do(adminRequest{Op: "talkgroup.remove", ID: uint32(id)})
	return err
}

// Talkgroups implements Roster.
func (a *AdminClient) Talkgroups() ([]store.Talkgroup, error) {
	resp, err := a.do(adminRequest{Op: "talkgroup.list"})
	return resp.Talkgroups, err
}

// AddUnit implements Roster.
func (a *AdminClient) AddUnit(u store.Unit) error {
	_, err := a.do(adminRequest{Op: "unit.add", Unit: &u})
	return err
}

// RemoveUnit implements Roster.
func (a *AdminClient) RemoveUnit(id uint32) error {
	_, err := a.do(adminRequest{Op: "unit.remove", ID: id})
	return err
}

// Unit implements Roster.
func (a *AdminClient) Unit(id uint32) (store.Unit, error) {
	resp, err := a.do(adminRequest{Op: "unit.get", ID: id})
	if err != nil || resp.Unit == nil {
		return store.Unit{}, err
	}
	return *resp.Unit, nil
}

// Units implements Roster.
func (a *AdminClient) Units() ([]store.Unit, error) {
	resp, err := a.do(adminRequest{Op: "unit.list"})
	return resp.Units, err
}

// SetUnitTalkgroups implements Roster.
func (a *AdminClient) SetUnitTalkgroups(id uint32, tgs []uint16) (store.Unit, error) {
	resp, err := a.do(adminRequest{Op: "unit.set-talkgroups", ID: id, Talkgroups: tgs})
	if err != nil || resp.Unit == nil {
		return store.Unit{}, err
	}
	return *resp.Unit, nil
}

// ReplaceUnitCredentials implements Roster.
func (a *AdminClient) ReplaceUnitCredentials(id uint32, fingerprint string, hpke, signing, cert []byte) (store.Unit, error) {
	resp, err := a.do(adminRequest{Op: "unit.replace-credentials", ID: id, Fingerprint: fingerprint, HPKE: hpke, Signing: signing, Cert: cert})
	if err != nil || resp.Unit == nil {
		return store.Unit{}, err
	}
	return *resp.Unit, nil
}
