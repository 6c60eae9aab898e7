// The Event Grid subscription from the Communication Services system topic to the app's webhook.
// Event Grid validates a webhook when the subscription is created (the app must answer the
// handshake), so this template is deployed on its own, after the code, into the system topic's
// resource group: by the azd postdeploy hook (with retries), or by hand:
//   az deployment group create -g <topic's resource group> -f infra/subscription.bicep -p ...
// It changes nothing but the subscription: the function app is only read (its host name and
// its default function key), so a deployment of this template never restarts the app.

@description('Name of the Communication Services system topic (in the resource group deployed to).')
param systemTopicName string

@description('Name of the function app that receives the events.')
param functionAppName string

@description('Resource group of the function app. Empty: the resource group deployed to.')
param functionAppResourceGroup string = ''

@description('Event types to deliver.')
param eventTypes array = [
  'Microsoft.Communication.SMSDeliveryReportReceived'
  'Microsoft.Communication.CallEnded'
  'Microsoft.Communication.CallParticipantRemoved'
]

@description('Schema Event Grid delivers in; the app accepts both.')
@allowed([
  'EventGridSchema'
  'CloudEventSchemaV1_0'
])
param eventDeliverySchema string = 'EventGridSchema'

@description('Resource id of the storage account holding the dead-letter container.')
param deadLetterStorageAccountId string

@description('Blob container for events that could not be delivered.')
param deadLetterContainerName string

@description('Delivery attempts before an event is dead-lettered.')
@minValue(1)
@maxValue(30)
param maxDeliveryAttempts int = 30

@description('Minutes an event is retried before it is dead-lettered.')
@minValue(1)
@maxValue(1440)
param eventTimeToLiveInMinutes int = 1440

@description('Events per delivery; the app handles a batch in one invocation and answers once for all.')
@minValue(1)
@maxValue(5000)
param maxEventsPerBatch int = 10

@description('Preferred size of a batch in kilobytes (the app accepts up to MAX_BODY_BYTES).')
@minValue(1)
@maxValue(1024)
param preferredBatchSizeInKilobytes int = 64

@description('Name of the event subscription (main.bicep\'s eventSubscriptionName: the delivery alerts watch it).')
param subscriptionName string = 'acs-triage'

resource systemTopic 'Microsoft.EventGrid/systemTopics@2025-02-15' existing = {
  name: systemTopicName
}

resource app 'Microsoft.Web/sites@2024-04-01' existing = {
  name: functionAppName
  scope: resourceGroup(empty(functionAppResourceGroup) ? resourceGroup().name : functionAppResourceGroup)
}

resource subscription 'Microsoft.EventGrid/systemTopics/eventSubscriptions@2025-02-15' = {
  parent: systemTopic
  name: subscriptionName
  properties: {
    eventDeliverySchema: eventDeliverySchema
    destination: {
      endpointType: 'WebHook'
      properties: {
        // The route has auth level FUNCTION: Event Grid sends the host's default function key as
        // ?code= on every delivery and on the handshake. listKeys answers only once the app runs.
        endpointUrl: 'https://${app.properties.defaultHostName}/api/eventgrid?code=${listKeys('${app.id}/host/default', '2024-04-01').functionKeys.default}'
        maxEventsPerBatch: maxEventsPerBatch
        preferredBatchSizeInKilobytes: preferredBatchSizeInKilobytes
        minimumTlsVersionAllowed: '1.2'
      }
    }
    filter: {
      includedEventTypes: eventTypes
    }
    retryPolicy: {
      maxDeliveryAttempts: maxDeliveryAttempts
      eventTimeToLiveInMinutes: eventTimeToLiveInMinutes
    }
    // Dead letters are written with the system topic's own identity (Storage Blob Data
    // Contributor on the container, granted in modules/storage.bicep): no storage keys.
    deadLetterWithResourceIdentity: {
      identity: {
        type: 'SystemAssigned'
      }
      deadLetterDestination: {
        endpointType: 'StorageBlob'
        properties: {
          resourceId: deadLetterStorageAccountId
          blobContainerName: deadLetterContainerName
        }
      }
    }
  }
}

output name string = subscription.name
