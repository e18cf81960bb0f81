// Command sentry is Dapr's certificate authority: it signs each sidecar's workload
// certificate for mTLS between sidecars (and with placement and scheduler).
package main

import "github.com/dapr/dapr/cmd/sentry/app"

func main() {
	app.Run()
}
