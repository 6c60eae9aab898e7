// Event Grid system topic on an existing Communication Services resource. The topic lives in this
// deployment's resource group (the source may be elsewhere), so tearing the deployment down never
// touches the Communication Services resource. Its system-assigned identity dead-letters
// undeliverable events into a blob container.

@description('Tags for every resource.')
param tags object

@description('Name of the system topic. Event Grid allows one system topic per source: if the Communication Services resource already has one in this resource group, give its name here.')
param name string

@description('Resource id of the existing Communication Services resource.')
param acsResourceId string

@description('Name of the storage account holding the dead-letter container.')
param storageAccountName string

@description('Blob container for dead-lettered events.')
param deadLetterContainerName string

var storageBlobDataContributor = 'ba92f5b4-2d11-453d-a403-e96b0029c9fe'

resource systemTopic 'Microsoft.EventGrid/systemTopics@2025-02-15' = {
  name: name
  // Communication Services is a global resource, so its system topic is global too.
  location: 'global'
  tags: tags
  identity: {
    type: 'SystemAssigned'
  }
  properties: {
    source: acsResourceId
    topicType: 'Microsoft.Communication.CommunicationServices'
  }
}

resource storage 'Microsoft.Storage/storageAccounts@2024-01-01' existing = {
  name: storageAccountName

  resource blobService 'blobServices' existing = {
    name: 'default'

    resource deadLetterContainer 'containers' existing = {
      name: deadLetterContainerName
    }
  }
}

// Scoped to the one container: the topic can write dead letters and nothing else.
resource deadLetterWriter 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage::blobService::deadLetterContainer.id, systemTopic.id, storageBlobDataContributor)
  scope: storage::blobService::deadLetterContainer
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', storageBlobDataContributor)
    principalId: systemTopic.identity.principalId
    principalType: 'ServicePrincipal'
  }
}

output name string = systemTopic.name
output principalId string = systemTopic.identity.principalId
