// Command daprd is the Dapr sidecar, built from the pinned dapr release with the
// stable components (build tag stablecomponents) plus the ones registered below.
package main

import "github.com/dapr/dapr/cmd/daprd/app"

func main() {
	app.Run()
}
