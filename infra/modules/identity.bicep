// The one user-assigned identity every app runs as (Dapr components, the model client, image
// pulls, KEDA scale rules). Apps select it with AZURE_CLIENT_ID / azureClientId.
param location string
param tags object
param name string

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2024-11-30' = {
  name: name
  location: location
  tags: tags
}

output id string = identity.id
output name string = identity.name
output clientId string = identity.properties.clientId
output principalId string = identity.properties.principalId
