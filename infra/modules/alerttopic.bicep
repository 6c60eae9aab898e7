// Event Grid custom topic the app publishes its alerts to (CloudEvents 1.0), with the app's
// identity as the only publisher: local (key) auth is off, so ALERT_TOPIC_KEY is never needed.

@description('Region of the topic.')
param location string

@description('Tags for every resource.')
param tags object

@description('Name of the custom topic.')
param name string

@description('Resource id of the app\'s user-assigned identity (part of the assignment name).')
param identityId string

@description('Principal (object) id of the app\'s user-assigned identity.')
param identityPrincipalId string

var eventGridDataSender = 'd5a91429-5739-47e2-a06b-3470a27159e7'

resource topic 'Microsoft.EventGrid/topics@2025-02-15' = {
  // checkov:skip=CKV_AZURE_193: the Flex Consumption app publishes without VNet integration, so the topic keeps its public endpoint; publishing needs an Entra ID token with EventGrid Data Sender (local auth is off).
  name: name
  location: location
  tags: tags
  identity: {
    // Lets subscriptions on this topic deliver and dead-letter with a managed identity.
    type: 'SystemAssigned'
  }
  properties: {
    inputSchema: 'CloudEventSchemaV1_0'
    disableLocalAuth: true
    minimumTlsVersionAllowed: '1.2'
    publicNetworkAccess: 'Enabled'
  }
}

resource sender 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(topic.id, identityId, eventGridDataSender)
  scope: topic
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', eventGridDataSender)
    principalId: identityPrincipalId
    principalType: 'ServicePrincipal'
  }
}

output name string = topic.name
output id string = topic.id
output endpoint string = topic.properties.endpoint
