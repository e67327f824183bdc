// Command queuecast is the real-time service-queue server.
//
//	queuecast serve              the server (default; :5000)
//	queuecast fixture            the protocol test fixture (:3000)
//	queuecast token --role admin print a signed JWT
//	queuecast migrate            apply database migrations
package main

import (
	"fmt"
	"os"
)

func main() {
	if err := rootCommand().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "queuecast:", err)
		os.Exit(1)
	}
}
