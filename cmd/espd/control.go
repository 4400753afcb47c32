package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"go.uber.org/zap"
)

const defaultSocket = "/run/espd/espd.sock"

// statusReply is what the daemon answers to "status" on the control socket.
type statusReply struct {
	SAs   []saStatus        `json:"sas"`
	Drops map[string]uint64 `json:"drops"`
}

type saStatus struct {
	SPI       string            `json:"spi"`
	Direction string            `json:"direction"`
	Mode      string            `json:"mode"`
	Encap     bool              `json:"encap"`
	Local     string            `json:"local"`
	Remote    string            `json:"remote"`
	Proposal  string            `json:"proposal"`
	LocalTS   []string          `json:"local_ts"`
	RemoteTS  []string          `json:"remote_ts"`
	Bytes     uint64            `json:"bytes"`
	Packets   uint64            `json:"packets"`
	Seq       uint64            `json:"seq"`
	LastUse   string            `json:"last_use,omitempty"`
	Drops     map[string]uint64 `json:"drops,omitempty"`
	Installed string            `json:"installed"`
}

func (d *daemon) status() statusReply {
	r := statusReply{Drops: d.dp.Drops()}
	for _, sa := range d.dp.SAs() {
		s := saStatus{
			SPI: fmt.Sprintf("%08x", sa.SPI), Direction: sa.Direction.String(), Mode: sa.Mode.String(),
			Encap: sa.Encap, Local: sa.Local.String(), Remote: sa.Remote.String(), Proposal: sa.Proposal,
			Bytes: sa.Stats.Bytes, Packets: sa.Stats.Packets, Seq: sa.Stats.Seq, Drops: sa.Stats.Drops,
			Installed: sa.Installed.Format(time.RFC3339),
		}
		if !sa.Encap { // raw IP has no ports
			s.Local, s.Remote = sa.Local.Addr().String(), sa.Remote.Addr().String()
		}
		for _, ts := range sa.LocalTS {
			s.LocalTS = append(s.LocalTS, ts.String())
		}
		for _, ts := range sa.RemoteTS {
			s.RemoteTS = append(s.RemoteTS, ts.String())
		}
		if !sa.Stats.LastUse.IsZero() {
			s.LastUse = sa.Stats.LastUse.Format(time.RFC3339)
		}
		r.SAs = append(r.SAs, s)
	}
	return r
}

// listenControl serves the control socket: one line of request, one JSON
// reply, then the connection closes.
func listenControl(path string, d *daemon, log *zap.Logger) (io.Closer, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	os.Remove(path) // a stale socket from a run that did not exit cleanly
	l, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	if err := os.Chmod(path, 0o660); err != nil {
		l.Close()
		return nil, fmt.Errorf("control socket: %w", err)
	}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				if !errors.Is(err, net.ErrClosed) {
					log.Warn("control socket accept failed", zap.Error(err))
				}
				return
			}
			go serveControl(c, d)
		}
	}()
	return l, nil
}

func serveControl(c net.Conn, d *daemon) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	line, err := bufio.NewReader(io.LimitReader(c, 1024)).ReadString('\n')
	if err != nil {
		return
	}
	enc := json.NewEncoder(c)
	switch strings.TrimSpace(line) {
	case "status":
		enc.Encode(d.status())
	default:
		enc.Encode(map[string]string{"error": "unknown request"})
	}
}

// status is `espd status [--json]`.
func status(args []string) error {
	fs := flag.NewFlagSet("status", flag.ContinueOnError)
	socket := fs.String("socket", defaultSocket, "control socket path")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := fs.Parse(args); err != nil {
		return err
	}
	r, err := fetchStatus(*socket)
	if err != nil {
		return err
	}
	if *asJSON {
		out := json.NewEncoder(os.Stdout)
		out.SetIndent("", "  ")
		return out.Encode(r)
	}
	printStatus(os.Stdout, r)
	return nil
}

// fetchStatus asks the daemon behind socket for its status.
func fetchStatus(socket string) (*statusReply, error) {
	c, err := net.DialTimeout("unix", socket, 5*time.Second)
	if err != nil {
		return nil, fmt.Errorf("espd status: is the daemon running? %w", err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, "status\n"); err != nil {
		return nil, err
	}
	var r statusReply
	if err := json.NewDecoder(c).Decode(&r); err != nil {
		return nil, fmt.Errorf("espd status: bad reply: %w", err)
	}
	return &r, nil
}

func printStatus(w io.Writer, r *statusReply) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SPI\tDIR\tMODE\tPROPOSAL\tLOCAL\tREMOTE\tSELECTORS\tPACKETS\tBYTES\tDROPS")
	for _, s := range r.SAs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s === %s\t%d\t%d\t%s\n", s.SPI, s.Direction, s.Mode, s.Proposal,
			s.Local, s.Remote, strings.Join(s.LocalTS, ","), strings.Join(s.RemoteTS, ","), s.Packets, s.Bytes, formatDrops(s.Drops))
	}
	tw.Flush()
	fmt.Fprintf(w, "data plane drops: %s\n", formatDrops(r.Drops))
}

func formatDrops(m map[string]uint64) string {
	if len(m) == 0 {
		return "none"
	}
	var parts []string
	for k, v := range m {
		parts = append(parts, fmt.Sprintf("%s=%d", k, v))
	}
	slices.Sort(parts)
	return strings.Join(parts, " ")
}
