// Backs the `secretstore` Dapr component. RBAC only (no access policies): the apps' identity
// reads secrets, the deploying user (if given) manages them. Secret names are the ones Baton
// reads locally from .data/secrets/secrets.json: `api-keys` (made once by the postprovision
// hook, infra/hooks/postprovision.sh), `model-api-key` and `webhook-url` (written here when
// given, on every provision; empty leaves whatever the vault holds).
param location string
param tags object
param name string
param identityPrincipalId string
param userPrincipalId string = ''
@secure()
@description('Key of an OpenAI-compatible endpoint: the `model-api-key` secret. Empty: not written.')
param modelApiKey string = ''
@secure()
@description('Where the notifier posts (the `webhook` component): the `webhook-url` secret. Empty: not written.')
param webhookUrl string = ''

var secretsUserRoleId = '4633458b-17de-408a-b874-0445c86b69e6'
var secretsOfficerRoleId = 'b86a8fe4-44ce-4948-aee5-eccb2c155cd7'

resource vault 'Microsoft.KeyVault/vaults@2026-02-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    tenantId: subscription().tenantId
    sku: {
      family: 'A'
      name: 'standard'
    }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 7
    publicNetworkAccess: 'Enabled'
  }
}

resource secretsUser 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(vault.id, identityPrincipalId, secretsUserRoleId)
  scope: vault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', secretsUserRoleId)
    principalId: identityPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource secretsOfficer 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(userPrincipalId)) {
  name: guid(vault.id, userPrincipalId, secretsOfficerRoleId)
  scope: vault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', secretsOfficerRoleId)
    principalId: userPrincipalId
    principalType: 'User'
  }
}

// Values only from the secure parameters; never an output, a plain env or a component value.
var givenSecrets = filter([
  { name: 'model-api-key', value: modelApiKey, contentType: 'text/plain' }
  { name: 'webhook-url', value: webhookUrl, contentType: 'text/uri-list' }
], s => !empty(s.value))

resource secrets 'Microsoft.KeyVault/vaults/secrets@2026-02-01' = [for secret in givenSecrets: {
  parent: vault
  name: secret.name
  properties: {
    value: secret.value
    contentType: secret.contentType
  }
}]

output name string = vault.name
