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
	IKE   []ikeStatus       `json:"ike_sas"`
	SAs   []saStatus        `json:"sas"`
	Drops map[string]uint64 `json:"drops"`
}

// ikeStatus is one IKE SA and its CHILD_SAs, as swanctl --list-sas shows.
type ikeStatus struct {
	Connection  string        `json:"connection"`
	State       string        `json:"state"`
	Role        string        `json:"role"`
	SPIi        string        `json:"spi_i"`
	SPIr        string        `json:"spi_r"`
	Proposal    string        `json:"proposal"`
	Local       string        `json:"local"`
	Remote      string        `json:"remote"`
	PeerID      string        `json:"peer_id,omitempty"`
	NATHere     bool          `json:"nat_here"`
	Encap       bool          `json:"encap"`
	Established string        `json:"established,omitempty"`
	RekeyAt     string        `json:"rekey_at,omitempty"`
	Children    []childStatus `json:"children"`
}

type childStatus struct {
	Name        string   `json:"name"`
	State       string   `json:"state"`
	Mode        string   `json:"mode"`
	Encap       bool     `json:"encap"`
	Proposal    string   `json:"proposal"`
	InboundSPI  string   `json:"spi_in"`
	OutboundSPI string   `json:"spi_out"`
	LocalTS     []string `json:"local_ts"`
	RemoteTS    []string `json:"remote_ts"`
	Installed   string   `json:"installed"`
	RekeyAt     string   `json:"rekey_at,omitempty"`
	ExpireAt    string   `json:"expire_at,omitempty"`
	// BytesIn, PacketsIn and the like are the data plane's counters of
	// the two SAs; Drops are the inbound SA's drops by reason.
	BytesIn    uint64            `json:"bytes_in"`
	PacketsIn  uint64            `json:"packets_in"`
	BytesOut   uint64            `json:"bytes_out"`
	PacketsOut uint64            `json:"packets_out"`
	Drops      map[string]uint64 `json:"drops,omitempty"`
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
	r := statusReply{Drops: d.dp.Drops(), IKE: d.ikeStatus()}
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

// controlReply answers up, down and reload.
type controlReply struct {
	Error    string   `json:"error,omitempty"`
	Warnings []string `json:"warnings,omitempty"`
}

// upTimeout bounds how long "up" waits: five retransmissions of strongSwan's
// schedule take 165 s, but a user at a prompt wants an answer sooner.
const upTimeout = 60 * time.Second

func serveControl(c net.Conn, d *daemon) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	line, err := bufio.NewReader(io.LimitReader(c, 1024)).ReadString('\n')
	if err != nil {
		return
	}
	enc := json.NewEncoder(c)
	verb, arg, _ := strings.Cut(strings.TrimSpace(line), " ")
	var reply controlReply
	switch verb {
	case "status":
		enc.Encode(d.status())
		return
	case "up":
		c.SetDeadline(time.Now().Add(upTimeout + 5*time.Second))
		err = d.up(arg, upTimeout)
	case "down":
		err = d.down(arg)
	case "rekey":
		err = d.rekey(arg)
	case "reload":
		reply.Warnings, err = d.reload()
	default:
		err = fmt.Errorf("unknown request %q", verb)
	}
	if err != nil {
		reply.Error = err.Error()
	}
	enc.Encode(reply)
}

// command is `espd up NAME`, `espd down NAME`, `espd rekey NAME` and
// `espd reload`: one
// request to the daemon, whose error becomes the exit status.
func command(verb string, args []string) error {
	fs := flag.NewFlagSet(verb, flag.ContinueOnError)
	socket := fs.String("socket", defaultSocket, "control socket path")
	if err := fs.Parse(args); err != nil {
		return err
	}
	req := verb
	if verb != "reload" {
		if fs.NArg() != 1 {
			return fmt.Errorf("usage: espd %s NAME (a connection or a child)", verb)
		}
		req += " " + fs.Arg(0)
	}
	c, err := net.DialTimeout("unix", *socket, 5*time.Second)
	if err != nil {
		return fmt.Errorf("espd %s: is the daemon running? %w", verb, err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(upTimeout + 10*time.Second))
	if _, err := io.WriteString(c, req+"\n"); err != nil {
		return err
	}
	var r controlReply
	if err := json.NewDecoder(c).Decode(&r); err != nil {
		return fmt.Errorf("espd %s: bad reply: %w", verb, err)
	}
	for _, w := range r.Warnings {
		fmt.Fprintln(os.Stderr, "warning:", w)
	}
	if r.Error != "" {
		return fmt.Errorf("espd %s: %s", req, r.Error)
	}
	switch verb {
	case "up":
		fmt.Printf("%s is up\n", fs.Arg(0))
	case "down":
		fmt.Printf("%s is down\n", fs.Arg(0))
	case "rekey":
		fmt.Printf("rekeying %s\n", fs.Arg(0))
	case "reload":
		fmt.Println("configuration reloaded")
	}
	return nil
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
	for _, s := range r.IKE {
		nat := ""
		if s.NATHere {
			nat = ", behind NAT"
		} else if s.Encap {
			nat = ", UDP-encapsulated"
		}
		fmt.Fprintf(w, "%s: %s, IKEv2, %s_i %s_r, %s %s === %s%s\n", s.Connection, s.State, s.SPIi, s.SPIr, s.Role, s.Local, s.Remote, nat)
		fmt.Fprintf(w, "  %s, peer %s, established %s%s\n", s.Proposal, s.PeerID, s.Established, when(", rekeying at ", s.RekeyAt))
		for _, c := range s.Children {
			fmt.Fprintf(w, "  %s: %s, %s, %s, %s === %s%s%s\n", c.Name, c.State, strings.ToUpper(c.Mode), c.Proposal,
				strings.Join(c.LocalTS, ","), strings.Join(c.RemoteTS, ","),
				when(", rekeying at ", c.RekeyAt), when(", expires at ", c.ExpireAt))
			fmt.Fprintf(w, "    in  %s, %d bytes, %d packets, drops: %s\n", c.InboundSPI, c.BytesIn, c.PacketsIn, formatDrops(c.Drops))
			fmt.Fprintf(w, "    out %s, %d bytes, %d packets\n", c.OutboundSPI, c.BytesOut, c.PacketsOut)
		}
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SPI\tDIR\tMODE\tPROPOSAL\tLOCAL\tREMOTE\tSELECTORS\tPACKETS\tBYTES\tDROPS")
	for _, s := range r.SAs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s === %s\t%d\t%d\t%s\n", s.SPI, s.Direction, s.Mode, s.Proposal,
			s.Local, s.Remote, strings.Join(s.LocalTS, ","), strings.Join(s.RemoteTS, ","), s.Packets, s.Bytes, formatDrops(s.Drops))
	}
	tw.Flush()
	fmt.Fprintf(w, "data plane drops: %s\n", formatDrops(r.Drops))
}

// when is prefix and t, or nothing for a zero time.
func when(prefix, t string) string {
	if t == "" {
		return ""
	}
	return prefix + t
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
