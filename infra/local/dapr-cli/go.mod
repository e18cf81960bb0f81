// Builds the dapr CLI at the pinned version. A module of its own because the CLI depends
// on an older github.com/dapr/dapr than the runtime we build, and because
// `go install github.com/dapr/cli@v...` asks the proxy for the version list, which the
// proxy reached here refuses.
module baton.local/daprcli

go 1.24.9

require (
	github.com/dapr/cli v1.16.5
	// The CLI's dapr v1.16.2 asks for v1.16.3, which the proxy refuses (403); v1.16.5 is
	// a later patch release of the same minor.
	github.com/dapr/components-contrib v1.16.5
)
