// Command espd is the espd IPsec daemon and its command line: `espd run`
// runs the daemon in the foreground; the other subcommands talk to it.
package main

import (
	"fmt"
	"os"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

const usage = `usage: espd <command> [flags]

commands:
  run -c FILE       run the daemon in the foreground (swanctl.conf syntax)
  up NAME           set up a connection or a child and wait until it is installed
  down NAME         delete a connection's IKE SAs, or a child's CHILD_SAs
  rekey NAME        rekey a connection's IKE SAs, or a child's CHILD_SAs
  reload            read the configuration file again
  status [--json]   show IKE SAs, CHILD_SAs, counters and drops
  version           print the version

common flags:
  --socket PATH     control socket (default /run/espd/espd.sock)
`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	var err error
	switch cmd, args := os.Args[1], os.Args[2:]; cmd {
	case "run":
		err = run(args)
	case "status":
		err = status(args)
	case "up", "down", "rekey", "reload":
		err = command(cmd, args)
	case "version", "--version":
		fmt.Println("espd", version)
	case "help", "-h", "--help":
		fmt.Print(usage)
	default:
		fmt.Fprintf(os.Stderr, "espd: unknown command %q\n\n%s", cmd, usage)
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
