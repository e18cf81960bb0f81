package main

// Baton registers exactly the components it uses, locally and in Azure, instead of
// building with dapr's `stablecomponents` tag: that tag compiles every stable component
// and its cloud SDK (several of which the module proxy here cannot serve) and triples the
// build time. dapr's no-tag guard file, which panics at start, is left out of the copy of
// the dapr module that go.mod points at (see infra/local/build-dapr.sh).
import (
	bindingblob "github.com/dapr/components-contrib/bindings/azure/blobstorage"
	bindinghttp "github.com/dapr/components-contrib/bindings/http"
	bindinglocal "github.com/dapr/components-contrib/bindings/localstorage"
	convecho "github.com/dapr/components-contrib/conversation/echo"
	convopenai "github.com/dapr/components-contrib/conversation/openai"
	nrmdns "github.com/dapr/components-contrib/nameresolution/mdns"
	pubsubservicebus "github.com/dapr/components-contrib/pubsub/azure/servicebus/topics"
	pubsubmemory "github.com/dapr/components-contrib/pubsub/in-memory"
	pubsubredis "github.com/dapr/components-contrib/pubsub/redis"
	secretkeyvault "github.com/dapr/components-contrib/secretstores/azure/keyvault"
	secretenv "github.com/dapr/components-contrib/secretstores/local/env"
	secretfile "github.com/dapr/components-contrib/secretstores/local/file"
	statecosmos "github.com/dapr/components-contrib/state/azure/cosmosdb"
	statememory "github.com/dapr/components-contrib/state/in-memory"
	stateredis "github.com/dapr/components-contrib/state/redis"
	statesqlite "github.com/dapr/components-contrib/state/sqlite"

	"github.com/dapr/dapr/pkg/components/bindings"
	"github.com/dapr/dapr/pkg/components/conversation"
	"github.com/dapr/dapr/pkg/components/nameresolution"
	"github.com/dapr/dapr/pkg/components/pubsub"
	"github.com/dapr/dapr/pkg/components/secretstores"
	"github.com/dapr/dapr/pkg/components/state"
)

func init() {
	state.DefaultRegistry.RegisterComponent(stateredis.NewRedisStateStore, "redis")
	state.DefaultRegistry.RegisterComponent(statesqlite.NewSQLiteStateStore, "sqlite", "sqlite3")
	state.DefaultRegistry.RegisterComponent(statememory.NewInMemoryStateStore, "in-memory")
	state.DefaultRegistry.RegisterComponent(statecosmos.NewCosmosDBStateStore, "azure.cosmosdb")

	pubsub.DefaultRegistry.RegisterComponent(pubsubredis.NewRedisStreams, "redis")
	pubsub.DefaultRegistry.RegisterComponent(pubsubmemory.New, "in-memory")
	pubsub.DefaultRegistry.RegisterComponent(pubsubservicebus.NewAzureServiceBusTopics, "azure.servicebus.topics")

	bindings.DefaultRegistry.RegisterOutputBinding(bindinglocal.NewLocalStorage, "localstorage")
	bindings.DefaultRegistry.RegisterOutputBinding(bindingblob.NewAzureBlobStorage, "azure.blobstorage")
	bindings.DefaultRegistry.RegisterOutputBinding(bindinghttp.NewHTTP, "http")

	secretstores.DefaultRegistry.RegisterComponent(secretfile.NewLocalSecretStore, "local.file")
	secretstores.DefaultRegistry.RegisterComponent(secretenv.NewEnvSecretStore, "local.env")
	secretstores.DefaultRegistry.RegisterComponent(secretkeyvault.NewAzureKeyvaultSecretStore, "azure.keyvault")

	conversation.DefaultRegistry.RegisterComponent(convecho.NewEcho, "echo")
	conversation.DefaultRegistry.RegisterComponent(convopenai.NewOpenAI, "openai")

	nameresolution.DefaultRegistry.RegisterComponent(nrmdns.NewResolver, "mdns")
}
