// The 16 Baton apps, one container app each, all from ONE image (azd builds and pushes it
// once, as the `orchestrator` service), chosen by command and environment as dapr.yaml does.
param location string
param tags object
param namePrefix string
@description('apps.json `apps`: appId, port, module, role, kind (orchestrator|agent|subscriber), topics, env.')
param apps array
param environmentId string
param identityId string
param identityClientId string
param registryServer string
@description('The pushed Baton image; empty before the first `azd deploy`.')
param imageName string = ''
param serviceBusNamespaceName string
param modelProvider string
param modelBaseUrl string
param modelName string
param azureOpenAiApiVersion string
param messageTtlSeconds int
@description('The Application Insights the apps send their spans, logs and metrics to (OpenTelemetry).')
param appInsightsName string
@description('CIDR ranges that may reach the public ingress of the orchestrator; empty: any address.')
param allowedIpRanges array = []

// Until azd has pushed the Baton image, every app runs the public placeholder azd's own
// templates use; the readiness probe would fail on it, so it is added only with the real image.
var placeholderImage = 'mcr.microsoft.com/azuredocs/containerapps-helloworld:latest'
var image = empty(imageName) ? placeholderImage : imageName

// Shape per kind: the orchestrator is the only public app and hosts the workflow engine
// (actors need a running replica; one replica, see docs/azure-design.md); agents have internal
// ingress only and are reached by Dapr service invocation, which needs a live sidecar;
// subscribers have no ingress and scale to zero on their queue. Security: docs/azure-design.md.
var shapes = {
  orchestrator: { external: true, minReplicas: 1, maxReplicas: 1, cpu: '0.5', memory: '1Gi' }
  agent: { external: false, minReplicas: 1, maxReplicas: 3, cpu: '0.25', memory: '0.5Gi' }
  subscriber: { external: false, minReplicas: 0, maxReplicas: 3, cpu: '0.25', memory: '0.5Gi' }
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: appInsightsName
}

// No token and no secret here. Container Apps injects APP_API_TOKEN into every Dapr-enabled
// app (the sidecar sends it as `dapr-api-token`; Baton's apps refuse to start without it), so
// nothing may set or override it; DAPR_API_TOKEN is not used on Container Apps. Keys come
// from Key Vault through the `secretstore` component (keyvault.bicep), never from env.
var commonEnv = [
  { name: 'BATON_HOST', value: '0.0.0.0' }
  { name: 'BATON_MESSAGE_TTL_SECONDS', value: string(messageTtlSeconds) }
  // Container Apps applies no Dapr resiliency policy: subscribers retry a failed delivery
  // themselves (3 more attempts, exponential backoff) before it is dead-lettered.
  { name: 'BATON_DELIVERY_RETRIES', value: '3' }
  // The user-assigned identity DefaultAzureCredential signs in as (the Azure OpenAI client).
  { name: 'AZURE_CLIENT_ID', value: identityClientId }
  { name: 'PYTHONUNBUFFERED', value: '1' }
  // Spans, logs and metrics of the apps (services/common/telemetry.py), beside the sidecars'
  // spans (the environment's daprAIConnectionString). Microsoft documents the connection
  // string as an identifier, not a secret: it only lets a client send telemetry.
  { name: 'APPLICATIONINSIGHTS_CONNECTION_STRING', value: appInsights.properties.ConnectionString }
]
// The registry's per-app env (e.g. a voter's own model) wins: union() keeps the last value.
var modelEnv = {
  BATON_MODEL_PROVIDER: modelProvider
  BATON_MODEL_BASE_URL: modelBaseUrl
  BATON_MODEL_NAME: modelName
  BATON_AZURE_OPENAI_API_VERSION: azureOpenAiApiVersion
}

var orchestratorIpRules = [for (cidr, i) in allowedIpRanges: {
  name: 'allow-${i}'
  ipAddressRange: trim(cidr)
  action: 'Allow'
}]

resource apps_ 'Microsoft.App/containerApps@2026-01-01' = [for app in apps: {
  name: '${namePrefix}${app.appId}'
  location: location
  // azd finds the service it deploys by this tag: exactly one app carries it.
  tags: app.kind == 'orchestrator' ? union(tags, { 'azd-service-name': 'orchestrator' }) : tags
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
    }
  }
  properties: {
    environmentId: environmentId
    workloadProfileName: 'Consumption'
    configuration: {
      activeRevisionsMode: 'Single'
      ingress: app.kind == 'subscriber' ? null : {
        external: shapes[app.kind].external
        targetPort: app.port
        transport: 'auto'
        allowInsecure: false
        // Allow rules only: with any, every other address is refused. Dapr calls inside the
        // environment are not subject to them (microsoft/azure-container-apps#527).
        ipSecurityRestrictions: app.kind == 'orchestrator' ? orchestratorIpRules : []
      }
      registries: [
        {
          server: registryServer
          identity: identityId
        }
      ]
      dapr: {
        enabled: true
        appId: app.appId
        appPort: app.port
        appProtocol: 'http'
      }
    }
    template: {
      containers: [
        {
          name: app.appId
          image: image
          command: empty(imageName) ? [] : ['python', '-m', app.module]
          env: concat([
            { name: 'APP_ID', value: app.appId }
            { name: 'BATON_PORT', value: string(app.port) }
          ], app.role == null ? [] : [
            { name: 'BATON_AGENT_ROLE', value: app.role }
          ], commonEnv, map(items(union(modelEnv, app.env)), e => { name: e.key, value: e.value }))
          resources: {
            cpu: json(shapes[app.kind].cpu)
            memory: shapes[app.kind].memory
          }
          probes: empty(imageName) ? [] : [
            {
              type: 'Readiness'
              httpGet: {
                path: '/health'
                port: app.port
              }
              periodSeconds: 10
              failureThreshold: 3
            }
          ]
        }
      ]
      scale: {
        minReplicas: shapes[app.kind].minReplicas
        maxReplicas: shapes[app.kind].maxReplicas
        // Subscribers wake on the exact subscription their sidecar reads (name = app id).
        rules: [for topic in (app.kind == 'subscriber' ? app.topics : []): {
          name: 'sb-${topic}'
          custom: {
            type: 'azure-servicebus'
            metadata: {
              namespace: serviceBusNamespaceName
              topicName: topic
              subscriptionName: app.appId
              messageCount: '5'
            }
            identity: identityId
          }
        }]
      }
    }
  }
}]

var orchestratorIndex = indexOf(map(apps, app => app.kind), 'orchestrator')

output orchestratorName string = apps_[orchestratorIndex].name
output orchestratorUri string = 'https://${apps_[orchestratorIndex].properties.configuration.ingress.fqdn}'
