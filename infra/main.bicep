// acs-triage: everything the app needs in one resource group, deployed by `azd up` or by
// `az deployment group create`. See infra/README.md for the deploy path and why the Event Grid
// subscription comes in a second pass (deployEventSubscription).
targetScope = 'resourceGroup'

@minLength(1)
@maxLength(64)
@description('Name of the environment (azd: AZURE_ENV_NAME); part of every resource name and tag.')
param environmentName string

@description('Region of the function app and its resources (must offer Flex Consumption).')
param location string = resourceGroup().location

@description('Resource id of the EXISTING Communication Services resource whose events are triaged: /subscriptions/<id>/resourceGroups/<rg>/providers/Microsoft.Communication/communicationServices/<name>.')
param acsResourceId string

@description('Audience of Call Automation callback JWTs. Empty: the Communication Services resource\'s immutable id.')
param callbackAudience string = ''

@description('Create the Event Grid subscription to the webhook. Only once the code is deployed: Event Grid validates the endpoint on creation (the azd postdeploy hook turns this on).')
param deployEventSubscription bool = false

@description('Communication Services event types delivered to the webhook.')
param eventTypes array = [
  'Microsoft.Communication.SMSDeliveryReportReceived'
  'Microsoft.Communication.CallEnded'
  'Microsoft.Communication.CallParticipantRemoved'
]

@description('Name of the system topic on the Communication Services resource. Event Grid allows one per source: give the existing one\'s name if it is already in this resource group. Empty: a generated name.')
param systemTopicName string = ''

@description('Categories that raise an alert (ALERT_CATEGORIES), comma-separated.')
param alertCategories string = 'UnexpectedClientError,UnexpectedServerError'

@description('\'code\' or \'code/subcode\' entries that always alert (ALERT_INCLUDE_CODES), comma-separated.')
param alertIncludeCodes string = ''

@description('\'code\' or \'code/subcode\' entries that never alert (ALERT_EXCLUDE_CODES), comma-separated.')
param alertExcludeCodes string = ''

@description('Optional HTTPS webhook that also receives every alert, signed the Standard Webhooks way. Empty: none.')
param alertWebhookUrl string = ''

@description('Signing secret of that webhook (Standard Webhooks: whsec_<base64>). Ignored when alertWebhookSecretUri is set.')
@secure()
param alertWebhookSecret string = ''

@description('Key Vault secret URI holding the webhook secret; the app reads it through a Key Vault reference with its identity (grant that identity Key Vault Secrets User on the vault).')
param alertWebhookSecretUri string = ''

@description('Hours a handled event id is remembered so that a redelivery does not alert twice.')
@minValue(1)
@maxValue(720)
param dedupeWindowHours int = 24

@description('Event Grid delivery attempts before an event is dead-lettered.')
@minValue(1)
@maxValue(30)
param maxDeliveryAttempts int = 30

@description('Minutes Event Grid retries an event before it is dead-lettered.')
@minValue(1)
@maxValue(1440)
param eventTimeToLiveInMinutes int = 1440

@description('Upper bound of Flex Consumption instances.')
@minValue(40)
@maxValue(1000)
param maximumInstanceCount int = 100

@description('Memory of each Flex Consumption instance.')
@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int = 2048

var resourceToken = toLower(uniqueString(subscription().id, resourceGroup().id, environmentName))
var tags = {
  'azd-env-name': environmentName
  application: 'acs-triage'
}
var functionAppName = 'func-acstriage-${resourceToken}'
var deploymentContainerName = 'app-package-${resourceToken}'
var deadLetterContainerName = 'eventgrid-deadletter'
var dedupeTableName = 'acstriagededupe'
var acsIdParts = split(acsResourceId, '/')

// The ACS resource may live in another resource group; it is only read (immutable id), never changed.
resource acs 'Microsoft.Communication/communicationServices@2025-05-01' existing = {
  name: last(acsIdParts)
  scope: resourceGroup(acsIdParts[2], acsIdParts[4])
}

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: 'id-acstriage-${resourceToken}'
  location: location
  tags: tags
}

module monitoring 'modules/monitoring.bicep' = {
  name: 'monitoring'
  params: {
    location: location
    tags: tags
    logAnalyticsName: 'log-acstriage-${resourceToken}'
    applicationInsightsName: 'appi-acstriage-${resourceToken}'
  }
}

module storage 'modules/storage.bicep' = {
  name: 'storage'
  params: {
    location: location
    tags: tags
    name: 'stacstriage${resourceToken}'
    deploymentContainerName: deploymentContainerName
    deadLetterContainerName: deadLetterContainerName
    dedupeTableName: dedupeTableName
  }
}

module roles 'modules/roles.bicep' = {
  name: 'roles'
  params: {
    storageAccountName: storage.outputs.name
    applicationInsightsName: monitoring.outputs.applicationInsightsName
    identityId: identity.id
    identityPrincipalId: identity.properties.principalId
  }
}

module alertTopic 'modules/alerttopic.bicep' = {
  name: 'alert-topic'
  params: {
    location: location
    tags: tags
    name: 'evgt-acstriage-alerts-${resourceToken}'
    identityId: identity.id
    identityPrincipalId: identity.properties.principalId
  }
}

module acsEvents 'modules/acsevents.bicep' = {
  name: 'acs-events'
  params: {
    tags: tags
    name: empty(systemTopicName) ? 'evgst-acstriage-${resourceToken}' : systemTopicName
    acsResourceId: acsResourceId
    storageAccountName: storage.outputs.name
    deadLetterContainerName: storage.outputs.deadLetterContainerName
  }
}

// Every environment variable handlers/settings.py reads, except the local-only ones
// (ALERT_FILE, ALERT_TOPIC_KEY, DEDUPE_TABLE_CONNECTION_STRING: see tests/test_infra.py).
var appSettings = {
  // delivery protocol: only this Communication Services resource may deliver.
  ALLOWED_TOPICS: acsResourceId
  MAX_BODY_BYTES: '1100000'
  // Call Automation callbacks: JWTs are always checked in Azure.
  CALLBACK_JWT_REQUIRED: 'true'
  CALLBACK_AUDIENCE: empty(callbackAudience) ? acs.properties.immutableResourceId : callbackAudience
  CALLBACK_ISSUER: 'https://acscallautomation.communication.azure.com'
  CALLBACK_JWKS_URL: 'https://acscallautomation.communication.azure.com/calling/keys'
  CALLBACK_JWT_LEEWAY_SECONDS: '30'
  // alert policy
  ALERT_CATEGORIES: alertCategories
  ALERT_INCLUDE_CODES: alertIncludeCodes
  ALERT_EXCLUDE_CODES: alertExcludeCodes
  // alert sinks: the custom topic (managed identity) and the optional signed webhook.
  ALERT_SOURCE: '/acs-triage/${functionAppName}'
  ALERT_TOPIC_ENDPOINT: alertTopic.outputs.endpoint
  ALERT_WEBHOOK_URL: alertWebhookUrl
  ALERT_WEBHOOK_SECRET: empty(alertWebhookSecretUri) ? alertWebhookSecret : '@Microsoft.KeyVault(SecretUri=${alertWebhookSecretUri})'
  SINK_MAX_ATTEMPTS: '4'
  SINK_RETRY_BUDGET_SECONDS: '20'
  // notifications: which labels make a group, and Alertmanager's timers (seconds).
  GROUP_BY: 'channel,kind,code,subcode'
  GROUP_WAIT_SECONDS: '30'
  GROUP_INTERVAL_SECONDS: '300'
  REPEAT_INTERVAL_SECONDS: '14400'
  RESOLVE_TIMEOUT_SECONDS: '900'
  // duplicates: a table on the app's own storage account, reached with the identity.
  DEDUPE_STORE: 'table'
  DEDUPE_TABLE_SERVICE_URI: storage.outputs.tableEndpoint
  DEDUPE_TABLE_NAME: dedupeTableName
  DEDUPE_WINDOW_HOURS: string(dedupeWindowHours)
  // identity: DefaultAzureCredential and the app pick the user-assigned identity by this id.
  AZURE_CLIENT_ID: identity.properties.clientId
}

module functionApp 'modules/functionapp.bicep' = {
  name: 'function-app'
  params: {
    location: location
    tags: tags
    planName: 'plan-acstriage-${resourceToken}'
    name: functionAppName
    identityId: identity.id
    identityClientId: identity.properties.clientId
    storageAccountName: storage.outputs.name
    storageBlobEndpoint: storage.outputs.blobEndpoint
    deploymentContainerName: storage.outputs.deploymentContainerName
    applicationInsightsConnectionString: monitoring.outputs.connectionString
    appSettings: appSettings
    maximumInstanceCount: maximumInstanceCount
    instanceMemoryMB: instanceMemoryMB
  }
  // The host must be able to reach its storage and Application Insights when it first starts.
  dependsOn: [
    roles
  ]
}

module eventSubscription 'subscription.bicep' = if (deployEventSubscription) {
  name: 'acs-event-subscription'
  params: {
    systemTopicName: acsEvents.outputs.name
    functionAppName: functionApp.outputs.name
    eventTypes: eventTypes
    deadLetterStorageAccountId: storage.outputs.id
    deadLetterContainerName: storage.outputs.deadLetterContainerName
    maxDeliveryAttempts: maxDeliveryAttempts
    eventTimeToLiveInMinutes: eventTimeToLiveInMinutes
  }
}

// azd reads SERVICE_API_NAME / SERVICE_API_URI; the hooks and the README use the others.
output SERVICE_API_NAME string = functionApp.outputs.name
output SERVICE_API_URI string = 'https://${functionApp.outputs.defaultHostName}'
output FUNCTION_APP_NAME string = functionApp.outputs.name
output FUNCTION_APP_URL string = 'https://${functionApp.outputs.defaultHostName}'
output ALERT_TOPIC_NAME string = alertTopic.outputs.name
output ALERT_TOPIC_ENDPOINT string = alertTopic.outputs.endpoint
output EVENT_SYSTEM_TOPIC_NAME string = acsEvents.outputs.name
output DEAD_LETTER_CONTAINER_URL string = '${storage.outputs.blobEndpoint}${deadLetterContainerName}'
output AZURE_FUNCTION_IDENTITY_CLIENT_ID string = identity.properties.clientId
