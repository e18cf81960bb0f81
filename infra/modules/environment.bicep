// The Container Apps environment and its Dapr components, named exactly as in components/.
// Every Azure component signs in with the one user-assigned identity (azureClientId; no
// keys, no connection strings). azureAuthMethods pins the credential to the managed
// identity instead of Dapr's default chain, and initTimeout is longer than the 5 s default
// (the 1.16 sign-in hang reported on microsoft/azure-container-apps#1676); both are read by
// components-contrib common/authentication/azure for every Azure component used here.
param location string
param tags object
param name string
param logAnalyticsWorkspaceId string
param appInsightsName string
@description('Component name -> app ids that load it (apps.json, generated from the registry).')
param componentScopes object
param identityClientId string
param serviceBusNamespaceName string
param cosmosEndpoint string
param cosmosDatabaseName string
param cosmosContainerName string
param storageAccountName string
param artifactsContainerName string
param keyVaultName string
@description('Whether a webhook URL was given (it is the Key Vault secret `webhook-url`, not passed here).')
param webhookConfigured bool = false

var initTimeout = '60s'
var azureIdentity = [
  { name: 'azureClientId', value: identityClientId }
  { name: 'azureAuthMethods', value: 'managedidentity' }
]

resource appInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: appInsightsName
}

resource serviceBus 'Microsoft.ServiceBus/namespaces@2026-01-01' existing = {
  name: serviceBusNamespaceName
}

resource environment 'Microsoft.App/managedEnvironments@2026-01-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    // Logs go to Log Analytics through the diagnostic setting below (no workspace key here).
    appLogsConfiguration: {
      destination: 'azure-monitor'
    }
    // Dapr's own traces and service-invocation telemetry.
    daprAIConnectionString: appInsights.properties.ConnectionString
    workloadProfiles: [
      {
        name: 'Consumption'
        workloadProfileType: 'Consumption'
      }
    ]
    zoneRedundant: false
  }
}

resource environmentLogs 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'logs-to-log-analytics'
  scope: environment
  properties: {
    workspaceId: logAnalyticsWorkspaceId
    logs: [
      {
        categoryGroup: 'allLogs'
        enabled: true
      }
    ]
  }
}

// Local twin: components/pubsub.yaml (pubsub.redis).
resource pubsub 'Microsoft.App/managedEnvironments/daprComponents@2026-01-01' = {
  parent: environment
  name: 'pubsub'
  properties: {
    componentType: 'pubsub.azure.servicebus.topics'
    version: 'v1'
    initTimeout: initTimeout
    metadata: concat([
      // Fully qualified, as the component expects (https://<ns>.servicebus.windows.net:443/ -> host).
      { name: 'namespaceName', value: split(split(serviceBus.properties.serviceBusEndpoint, '//')[1], ':')[0] }
      // Topics and subscriptions come from servicebus.bicep; Dapr then needs no Manage right.
      { name: 'disableEntityManagement', value: 'true' }
    ], azureIdentity)
    scopes: componentScopes.pubsub
  }
}

// Local twin: components/statestore.yaml (state.redis, actorStateStore).
resource statestore 'Microsoft.App/managedEnvironments/daprComponents@2026-01-01' = {
  parent: environment
  name: 'statestore'
  properties: {
    componentType: 'state.azure.cosmosdb'
    version: 'v1'
    initTimeout: initTimeout
    metadata: concat([
      { name: 'url', value: cosmosEndpoint }
      { name: 'database', value: cosmosDatabaseName }
      { name: 'collection', value: cosmosContainerName }
      { name: 'actorStateStore', value: 'true' }
      // Baton namespaces its own keys (baton:task:<id>), as locally.
      { name: 'keyPrefix', value: 'none' }
    ], azureIdentity)
    scopes: componentScopes.statestore
  }
}

// Local twin: components/artifacts.yaml (bindings.localstorage).
resource artifacts 'Microsoft.App/managedEnvironments/daprComponents@2026-01-01' = {
  parent: environment
  name: 'artifacts'
  properties: {
    componentType: 'bindings.azure.blobstorage'
    version: 'v1'
    initTimeout: initTimeout
    metadata: concat([
      { name: 'accountName', value: storageAccountName }
      { name: 'containerName', value: artifactsContainerName }
    ], azureIdentity)
    scopes: componentScopes.artifacts
  }
}

// Local twin: components/webhook.yaml (bindings.http). The URL is the `webhook-url` secret,
// which the notifier's sidecar resolves through the `secretstore` component (Key Vault):
// Container Apps' secretStoreComponent + secretRef, Dapr's secretKeyRef locally. Only with a
// URL: the notifier posts when its sidecar has loaded `webhook`, and daprd loads an HTTP
// binding whose secret is missing anyway, with an empty URL (docs/azure-design.md).
resource webhook 'Microsoft.App/managedEnvironments/daprComponents@2026-01-01' = if (webhookConfigured) {
  parent: environment
  name: 'webhook'
  properties: {
    componentType: 'bindings.http'
    version: 'v1'
    ignoreErrors: true
    secretStoreComponent: secretstore.name
    metadata: [
      { name: 'url', secretRef: 'webhook-url' }
    ]
    scopes: componentScopes.webhook
  }
}

// Local twin: components/secretstore.yaml (secretstores.local.file). Secret names in
// keyvault.bicep; who reads which is not enforced here (Dapr's secret scopes live in the
// Configuration resource, which Container Apps does not support): docs/azure-design.md.
resource secretstore 'Microsoft.App/managedEnvironments/daprComponents@2026-01-01' = {
  parent: environment
  name: 'secretstore'
  properties: {
    componentType: 'secretstores.azure.keyvault'
    version: 'v1'
    initTimeout: initTimeout
    metadata: concat([
      { name: 'vaultName', value: keyVaultName }
    ], azureIdentity)
    scopes: componentScopes.secretstore
  }
}

output id string = environment.id
output name string = environment.name
