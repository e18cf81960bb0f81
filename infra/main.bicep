// Baton on Azure Container Apps with managed Dapr (azd: `azd up`). Every app comes from
// apps.json, which infra/local/render_config.py generates from services/common/registry.py.
// Decisions and their sources: docs/azure-design.md.
targetScope = 'subscription'

@minLength(1)
@maxLength(64)
@description('Name of the azd environment; part of every resource name.')
param environmentName string

@minLength(1)
@description('Primary location for all resources.')
param location string

@description('Object id of the user running azd (AZURE_PRINCIPAL_ID): may read dead letters and manage secrets. Empty: no user roles.')
param principalId string = ''

@description('The one image every app runs: SERVICE_ORCHESTRATOR_IMAGE_NAME, set by azd after it pushes the orchestrator service. Empty until the first deploy (a public placeholder runs).')
param batonImageName string = ''

@allowed(['azure', 'openai'])
@description('azure: an Azure OpenAI account and deployment created here, reached with the managed identity. openai: any OpenAI-compatible endpoint (modelBaseUrl, modelName, modelApiKey).')
param modelProvider string = 'azure'

@description('Azure OpenAI model (modelProvider azure).')
param openAiModelName string = 'gpt-4o-mini'

@description('Azure OpenAI model version (modelProvider azure).')
param openAiModelVersion string = '2024-07-18'

@description('Deployment capacity in thousands of tokens per minute (modelProvider azure).')
param openAiDeploymentCapacity int = 30

@description('Deployment SKU (modelProvider azure).')
param openAiDeploymentSku string = 'GlobalStandard'

@description('BATON_AZURE_OPENAI_API_VERSION (modelProvider azure).')
param azureOpenAiApiVersion string = '2024-10-21'

@description('Base URL of an OpenAI-compatible endpoint (modelProvider openai).')
param modelBaseUrl string = ''

@description('Model name at that endpoint (modelProvider openai).')
param modelName string = ''

@secure()
@description('API key of that endpoint (modelProvider openai): written to Key Vault as `model-api-key`, which the apps read through the `secretstore` component. Empty: the vault is left as it is.')
param modelApiKey string = ''

@secure()
@description('Where the notifier posts notifications: written to Key Vault as `webhook-url`, which the `webhook` component (created only then) reads. Empty: no webhook, notifications are only stored.')
param webhookUrl string = ''

@description('Comma-separated CIDR ranges allowed to reach the orchestrator (BATON_ALLOWED_IPS). Empty: any address (the API key still applies).')
param allowedIpRanges string = ''

@minValue(1)
@description('BATON_MESSAGE_TTL_SECONDS, also the default time to live of every Service Bus subscription.')
param messageTtlSeconds int = 3600

@minValue(1)
@description('Service Bus deliveries of one message before it is dead-lettered (then forwarded to the dead-letters topic).')
param maxDeliveryCount int = 10

var abbrs = loadJsonContent('abbreviations.json')
var registry = loadJsonContent('apps.json')
var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var tags = { 'azd-env-name': environmentName }
var useAzureOpenAi = modelProvider == 'azure'

resource rg 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: '${abbrs.resourcesResourceGroups}${environmentName}'
  location: location
  tags: tags
}

module monitoring 'modules/monitoring.bicep' = {
  name: 'monitoring'
  scope: rg
  params: {
    location: location
    tags: tags
    logAnalyticsName: '${abbrs.operationalInsightsWorkspaces}${resourceToken}'
    appInsightsName: '${abbrs.insightsComponents}${resourceToken}'
  }
}

module identity 'modules/identity.bicep' = {
  name: 'identity'
  scope: rg
  params: {
    location: location
    tags: tags
    name: '${abbrs.managedIdentityUserAssignedIdentities}${resourceToken}'
  }
}

module containerRegistry 'modules/registry.bicep' = {
  name: 'registry'
  scope: rg
  params: {
    location: location
    tags: tags
    name: '${abbrs.containerRegistryRegistries}${resourceToken}'
    identityPrincipalId: identity.outputs.principalId
  }
}

module keyVault 'modules/keyvault.bicep' = {
  name: 'keyvault'
  scope: rg
  params: {
    location: location
    tags: tags
    name: '${abbrs.keyVaultVaults}${resourceToken}'
    identityPrincipalId: identity.outputs.principalId
    userPrincipalId: principalId
    modelApiKey: useAzureOpenAi ? '' : modelApiKey
    webhookUrl: webhookUrl
  }
}

module serviceBus 'modules/servicebus.bicep' = {
  name: 'servicebus'
  scope: rg
  params: {
    location: location
    tags: tags
    name: '${abbrs.serviceBusNamespaces}${resourceToken}'
    alertPrefix: '${abbrs.insightsMetricAlerts}${resourceToken}'
    apps: registry.apps
    deadLetterTopic: registry.deadLetterTopic
    messageTtlSeconds: messageTtlSeconds
    maxDeliveryCount: maxDeliveryCount
    identityPrincipalId: identity.outputs.principalId
    userPrincipalId: principalId
  }
}

module cosmos 'modules/cosmos.bicep' = {
  name: 'cosmos'
  scope: rg
  params: {
    location: location
    tags: tags
    name: '${abbrs.documentDBDatabaseAccounts}${resourceToken}'
    identityPrincipalId: identity.outputs.principalId
  }
}

module storage 'modules/storage.bicep' = {
  name: 'storage'
  scope: rg
  params: {
    location: location
    tags: tags
    name: '${abbrs.storageStorageAccounts}${resourceToken}'
    identityPrincipalId: identity.outputs.principalId
  }
}

module openAi 'modules/openai.bicep' = if (useAzureOpenAi) {
  name: 'openai'
  scope: rg
  params: {
    location: location
    tags: tags
    name: '${abbrs.cognitiveServicesAccounts}${resourceToken}'
    modelName: openAiModelName
    modelVersion: openAiModelVersion
    capacity: openAiDeploymentCapacity
    skuName: openAiDeploymentSku
    identityPrincipalId: identity.outputs.principalId
  }
}

module environment 'modules/environment.bicep' = {
  name: 'environment'
  scope: rg
  params: {
    location: location
    tags: tags
    name: '${abbrs.appManagedEnvironments}${resourceToken}'
    logAnalyticsWorkspaceId: monitoring.outputs.logAnalyticsWorkspaceId
    appInsightsName: monitoring.outputs.appInsightsName
    componentScopes: registry.componentScopes
    identityClientId: identity.outputs.clientId
    serviceBusNamespaceName: serviceBus.outputs.name
    cosmosEndpoint: cosmos.outputs.endpoint
    cosmosDatabaseName: cosmos.outputs.databaseName
    cosmosContainerName: cosmos.outputs.containerName
    storageAccountName: storage.outputs.name
    artifactsContainerName: storage.outputs.artifactsContainerName
    keyVaultName: keyVault.outputs.name
    webhookConfigured: !empty(webhookUrl)
  }
}

module apps 'modules/apps.bicep' = {
  name: 'apps'
  scope: rg
  params: {
    location: location
    tags: tags
    namePrefix: abbrs.appContainerApps
    apps: registry.apps
    environmentId: environment.outputs.id
    identityId: identity.outputs.id
    identityClientId: identity.outputs.clientId
    registryServer: containerRegistry.outputs.loginServer
    imageName: batonImageName
    serviceBusNamespaceName: serviceBus.outputs.name
    modelProvider: modelProvider
    modelBaseUrl: useAzureOpenAi ? openAi.outputs.endpoint : modelBaseUrl
    modelName: useAzureOpenAi ? openAi.outputs.deploymentName : modelName
    azureOpenAiApiVersion: azureOpenAiApiVersion
    messageTtlSeconds: messageTtlSeconds
    appInsightsName: monitoring.outputs.appInsightsName
    allowedIpRanges: empty(allowedIpRanges) ? [] : split(allowedIpRanges, ',')
  }
}

output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = rg.name
output AZURE_CONTAINER_REGISTRY_ENDPOINT string = containerRegistry.outputs.loginServer
output AZURE_CONTAINER_REGISTRY_NAME string = containerRegistry.outputs.name
output AZURE_CONTAINER_ENVIRONMENT_NAME string = environment.outputs.name
output AZURE_MANAGED_IDENTITY_CLIENT_ID string = identity.outputs.clientId
output AZURE_KEY_VAULT_NAME string = keyVault.outputs.name
output AZURE_SERVICEBUS_NAMESPACE string = serviceBus.outputs.name
output AZURE_COSMOS_ENDPOINT string = cosmos.outputs.endpoint
output AZURE_STORAGE_ACCOUNT_NAME string = storage.outputs.name
output AZURE_OPENAI_ENDPOINT string = useAzureOpenAi ? openAi.outputs.endpoint : ''
output SERVICE_ORCHESTRATOR_NAME string = apps.outputs.orchestratorName
output SERVICE_ORCHESTRATOR_URI string = apps.outputs.orchestratorUri
output BATON_ORCHESTRATOR_URL string = apps.outputs.orchestratorUri
