// Command daprd is the Dapr sidecar, built from the pinned dapr release with the
// components registered in components.go.
package main

import (
	"os"
	"strings"

	"github.com/dapr/dapr/cmd/daprd/app"
)

// Baton's sidecars run on a developer's machine: every server daprd opens listens on
// loopback unless its flag says otherwise. The Dapr CLI's run file can set only the API's
// address (apiListenAddresses); daprd's own defaults are all interfaces.
var loopbackDefaults = []string{
	"dapr-listen-addresses",
	"dapr-internal-grpc-listen-address",
	"dapr-public-listen-address",
	"metrics-listen-address",
}

func withLoopbackDefaults(args []string) []string {
	out := append([]string{}, args...)
	for _, flag := range loopbackDefaults {
		given := false
		for _, arg := range args {
			if arg == "--"+flag || arg == "-"+flag || strings.HasPrefix(arg, "--"+flag+"=") || strings.HasPrefix(arg, "-"+flag+"=") {
				given = true
			}
		}
		if !given {
			out = append(out, "--"+flag+"=127.0.0.1")
		}
	}
	return out
}

func main() {
	os.Args = withLoopbackDefaults(os.Args)
	app.Run()
}
