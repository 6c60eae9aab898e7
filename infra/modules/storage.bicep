// The app's own storage account: Functions host state (AzureWebJobsStorage), the Flex Consumption
// deployment package container, the dedupe table, and the dead-letter container for Event Grid.
// Shared keys are off: every client (host, app, Event Grid) authenticates with Entra ID.

@description('Region of the account.')
param location string

@description('Tags for every resource.')
param tags object

@description('Storage account name: 3-24 lowercase letters and digits.')
@minLength(3)
@maxLength(24)
param name string

@description('Blob container that holds the Flex Consumption deployment package.')
param deploymentContainerName string

@description('Blob container where Event Grid dead-letters events it could not deliver.')
param deadLetterContainerName string

@description('Table where the app remembers handled event ids (DEDUPE_TABLE_NAME).')
param dedupeTableName string

@description('Replication of the account. LRS is offered in every region; ZRS and GZRS only in regions with availability zones.')
@allowed([
  'Standard_LRS'
  'Standard_ZRS'
  'Standard_GRS'
  'Standard_GZRS'
  'Standard_RAGRS'
  'Standard_RAGZRS'
])
param skuName string = 'Standard_LRS'

@description('Resource id of the Event Grid system topic that writes dead letters (part of its role assignment\'s name).')
param deadLetterWriterId string

@description('Principal id of that topic\'s system-assigned identity.')
param deadLetterWriterPrincipalId string

var storageBlobDataContributor = 'ba92f5b4-2d11-453d-a403-e96b0029c9fe'

resource account 'Microsoft.Storage/storageAccounts@2024-01-01' = {
  // checkov:skip=CKV_AZURE_35: Flex Consumption without VNet integration reaches its host storage over the public endpoint; a deny-by-default firewall would lock the host out. Shared keys are disabled, so every request needs an Entra ID token with a data role.
  // checkov:skip=CKV_AZURE_59: same reason as CKV_AZURE_35: the account must stay reachable from the app's public outbound addresses; access is by managed identity only (allowSharedKeyAccess false).
  // checkov:skip=CKV_AZURE_206: locally redundant by default because LRS is the one redundancy every Flex Consumption region offers (ZRS is not); the account holds operational data only (host locks and keys, a package every deploy rewrites, event ids kept for the dedupe window, dead letters to inspect and replay). Pick ZRS or a geo-redundant skuName where the region offers it and a zone or regional outage must not lose dead letters.
  name: name
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: {
    name: skuName
  }
  properties: {
    accessTier: 'Hot'
    allowBlobPublicAccess: false
    allowCrossTenantReplication: false
    allowSharedKeyAccess: false
    defaultToOAuthAuthentication: true
    minimumTlsVersion: 'TLS1_2'
    publicNetworkAccess: 'Enabled'
    supportsHttpsTrafficOnly: true
    networkAcls: {
      bypass: 'AzureServices'
      defaultAction: 'Allow'
    }
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2024-01-01' = {
  parent: account
  name: 'default'
  properties: {
    deleteRetentionPolicy: {
      enabled: true
      days: 7
    }
    containerDeleteRetentionPolicy: {
      enabled: true
      days: 7
    }
  }
}

resource deploymentContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2024-01-01' = {
  parent: blobService
  name: deploymentContainerName
  properties: {
    publicAccess: 'None'
  }
}

resource deadLetterContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2024-01-01' = {
  parent: blobService
  name: deadLetterContainerName
  properties: {
    publicAccess: 'None'
  }
}

// The system topic writes the events it could not deliver here, with its own identity; scoped
// to the one container, so it can do nothing else with the account.
resource deadLetterWriter 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(deadLetterContainer.id, deadLetterWriterId, storageBlobDataContributor)
  scope: deadLetterContainer
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', storageBlobDataContributor)
    principalId: deadLetterWriterPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource tableService 'Microsoft.Storage/storageAccounts/tableServices@2024-01-01' = {
  parent: account
  name: 'default'
}

// Created here so the app needs no control-plane rights: Storage Table Data Contributor suffices.
resource dedupeTable 'Microsoft.Storage/storageAccounts/tableServices/tables@2024-01-01' = {
  parent: tableService
  name: dedupeTableName
}

output name string = account.name
output id string = account.id
output blobEndpoint string = account.properties.primaryEndpoints.blob
output tableEndpoint string = account.properties.primaryEndpoints.table
output deploymentContainerName string = deploymentContainer.name
output deadLetterContainerName string = deadLetterContainer.name
output dedupeTableName string = dedupeTable.name
