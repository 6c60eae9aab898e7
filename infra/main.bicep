// acs-triage: everything the app needs in one resource group, deployed by `azd up` or by
// `az deployment group create`. The Event Grid subscription is not part of this template: Event
// Grid validates the webhook when the subscription is created, so infra/subscription.bicep is
// deployed on its own once the code answers (the azd postdeploy hook). See infra/README.md.
targetScope = 'resourceGroup'

@minLength(1)
@maxLength(64)
@description('Name of the environment (azd: AZURE_ENV_NAME); part of every resource name and tag.')
param environmentName string

// Flex Consumption runs in these regions only (az functionapp list-flexconsumption-locations);
// azd offers just these when it asks for the region. Canary regions are left out.
@description('Region of the function app and its resources: one that offers Flex Consumption.')
@allowed([
  'australiaeast'
  'australiasoutheast'
  'brazilsouth'
  'canadacentral'
  'centralindia'
  'centralus'
  'eastasia'
  'eastus'
  'eastus2'
  'francecentral'
  'germanywestcentral'
  'italynorth'
  'japaneast'
  'koreacentral'
  'northcentralus'
  'northeurope'
  'norwayeast'
  'southafricanorth'
  'southcentralus'
  'southeastasia'
  'southindia'
  'spaincentral'
  'swedencentral'
  'uaenorth'
  'uksouth'
  'ukwest'
  'westcentralus'
  'westeurope'
  'westus'
  'westus2'
  'westus3'
])
@metadata({
  azd: {
    type: 'location'
  }
})
param location string = resourceGroup().location

@description('Resource id of the EXISTING Communication Services resource whose events are triaged: /subscriptions/<id>/resourceGroups/<rg>/providers/Microsoft.Communication/communicationServices/<name>.')
param acsResourceId string

@description('Audience of Call Automation callback JWTs. Empty: the Communication Services resource\'s immutable id.')
param callbackAudience string = ''

@description('Name of the Communication Services resource\'s EXISTING system topic (a source has at most one; the azd preprovision hook looks it up). Empty: none exists yet, one is created in this resource group.')
param systemTopicName string = ''

@description('Resource group of that existing system topic (same subscription). Empty: this resource group.')
param systemTopicResourceGroup string = ''

@description('Name of the Event Grid subscription (infra/subscription.bicep creates it after the code is deployed); the delivery alerts watch it.')
param eventSubscriptionName string = 'acs-triage'

@description('Replication of the storage account. Locally redundant storage is offered in every Flex Consumption region; pick ZRS or a geo-redundant SKU where the region offers it.')
@allowed([
  'Standard_LRS'
  'Standard_ZRS'
  'Standard_GRS'
  'Standard_GZRS'
  'Standard_RAGRS'
  'Standard_RAGZRS'
])
param storageSkuName string = 'Standard_LRS'

@description('E-mail address that receives the delivery alerts (dead letters, dropped events, failed deliveries, 5xx answers). Empty: the alerts fire in Azure Monitor without notifying anyone.')
param alertEmail string = ''

@description('Categories that raise an alert (ALERT_CATEGORIES), comma-separated.')
param alertCategories string = 'UnexpectedClientError,UnexpectedServerError'

@description('\'code\' or \'code/subcode\' entries that always alert (ALERT_INCLUDE_CODES), comma-separated.')
param alertIncludeCodes string = ''

@description('\'code\' or \'code/subcode\' entries that never alert (ALERT_EXCLUDE_CODES), comma-separated.')
param alertExcludeCodes string = ''

@description('Optional HTTPS webhook that also receives the notifications (alertWebhookReceives says which), signed the Standard Webhooks way. Empty: none.')
param alertWebhookUrl string = ''

@description('Signing secret of that webhook (Standard Webhooks: whsec_<base64>). Ignored when alertWebhookSecretUri is set.')
@secure()
param alertWebhookSecret string = ''

@description('What the alert topic receives (ALERT_TOPIC_RECEIVES): every alert, the group notifications, or both.')
@allowed([
  'alerts'
  'notifications'
  'both'
])
param alertTopicReceives string = 'both'

@description('What the webhook receives (ALERT_WEBHOOK_RECEIVES): every alert, the group notifications, or both.')
@allowed([
  'alerts'
  'notifications'
  'both'
])
param alertWebhookReceives string = 'notifications'

@description('Key Vault secret URI holding the webhook secret; the app reads it through a Key Vault reference with its identity (grant that identity Key Vault Secrets User on the vault).')
param alertWebhookSecretUri string = ''

@description('Events API v2 integration key of a PagerDuty service that receives notifications. Empty: none.')
@secure()
param pagerDutyRoutingKey string = ''

@description('Teams Workflows webhook URL ("When a Teams webhook request is received"); it carries its own signature. Empty: none.')
@secure()
param teamsWorkflowUrl string = ''

@description('Slack incoming webhook URL; it carries its token. Empty: none.')
@secure()
param slackWebhookUrl string = ''

@description('Alertmanager-compatible receiver of webhook payloads version 4. Empty: none.')
param alertmanagerWebhookUrl string = ''

@description('Bearer token sent to that receiver. Empty: none.')
@secure()
param alertmanagerWebhookToken string = ''

@description('Hours a handled event id is remembered so that a redelivery does not alert twice.')
@minValue(1)
@maxValue(720)
param dedupeWindowHours int = 24

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

// The system topic stays where it already is (a source has at most one); a new one is created in
// this resource group. The module is deployed into that group.
var systemTopicGroup = empty(systemTopicName) || empty(systemTopicResourceGroup) ? resourceGroup().name : systemTopicResourceGroup

module systemTopic 'modules/systemtopic.bicep' = {
  name: 'acs-system-topic'
  scope: resourceGroup(systemTopicGroup)
  params: {
    tags: tags
    name: empty(systemTopicName) ? 'evgst-acstriage-${resourceToken}' : systemTopicName
    create: empty(systemTopicName)
    acsResourceId: acsResourceId
  }
}

module storage 'modules/storage.bicep' = {
  name: 'storage'
  params: {
    location: location
    tags: tags
    name: 'stacstriage${resourceToken}'
    skuName: storageSkuName
    deploymentContainerName: deploymentContainerName
    deadLetterContainerName: deadLetterContainerName
    dedupeTableName: dedupeTableName
    deadLetterWriterId: systemTopic.outputs.id
    deadLetterWriterPrincipalId: systemTopic.outputs.principalId
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

// Every environment variable handlers/settings.py reads, except the local-only ones
// (ALERT_FILE, ALERT_FILE_RECEIVES, ALERT_TOPIC_KEY, DEDUPE_TABLE_CONNECTION_STRING: see
// tests/test_infra.py).
var appSettings = {
  // Delivery protocol: only this Communication Services resource may deliver. Its system topic
  // is allowed too: Event Grid's validation event for a system-topic subscription names a topic
  // that no document pins down as either id; the app logs which one it was.
  ALLOWED_TOPICS: '${acsResourceId},${systemTopic.outputs.id}'
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
  // what each receives: alerts, notifications or both
  ALERT_TOPIC_RECEIVES: alertTopicReceives
  ALERT_WEBHOOK_RECEIVES: alertWebhookReceives
  SINK_MAX_ATTEMPTS: '4'
  SINK_RETRY_BUDGET_SECONDS: '20'
  // on-call receivers (each off while its URL or key is empty) and the page they link to; the
  // page needs the function key (?code=) like every route but /api/health.
  STATUS_PAGE_URL: 'https://${functionAppName}.azurewebsites.net/api/status'
  PAGERDUTY_ROUTING_KEY: pagerDutyRoutingKey
  PAGERDUTY_EVENTS_URL: 'https://events.pagerduty.com/v2/enqueue'
  TEAMS_WORKFLOW_URL: teamsWorkflowUrl
  SLACK_WEBHOOK_URL: slackWebhookUrl
  SLACK_MIN_INTERVAL_SECONDS: '1'
  ALERTMANAGER_WEBHOOK_URL: alertmanagerWebhookUrl
  ALERTMANAGER_WEBHOOK_TOKEN: alertmanagerWebhookToken
  ALERTMANAGER_RECEIVER: 'acs-triage'
  // notifications: which labels make a group, and Alertmanager's timers (seconds).
  GROUP_BY: 'channel,kind,code,subcode,carrier'
  GROUP_WAIT_SECONDS: '30'
  GROUP_INTERVAL_SECONDS: '300'
  REPEAT_INTERVAL_SECONDS: '14400'
  RESOLVE_TIMEOUT_SECONDS: '900'
  // severity of a group's notifications: a category or alert kind = critical | warning | info
  // (unlisted: info); a warning group of SEVERITY_CRITICAL_SIZE alerts or more is critical.
  SEVERITY_BY_CATEGORY: 'UnexpectedServerError=warning,UnexpectedClientError=warning,unknown-code=warning'
  SEVERITY_CRITICAL_SIZE: '100'
  // rate alarms: a channel's failed / all results over a sliding window; channel=warning/critical
  // ratios, fewer results than the minimum never fire, a level is left after the clear time under
  // its ratio times the clear fraction.
  ALARM_RULES: 'sms=0.1/0.3,call=0.05/0.2,email=0.1/0.3,whatsapp=0.1/0.3'
  ALARM_WINDOW_SECONDS: '300'
  ALARM_MIN_VOLUME: '30'
  ALARM_CLEAR_SECONDS: '300'
  ALARM_CLEAR_FRACTION: '0.5'
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

// What Event Grid sees and the app answers, as Azure Monitor alerts (e-mail when alertEmail is set).
module deliveryAlerts 'modules/alerts.bicep' = {
  name: 'delivery-alerts'
  params: {
    tags: tags
    namePrefix: 'acstriage-${resourceToken}'
    systemTopicId: systemTopic.outputs.id
    eventSubscriptionName: eventSubscriptionName
    functionAppId: functionApp.outputs.id
    alertEmail: alertEmail
  }
}

// azd reads SERVICE_API_NAME / SERVICE_API_URI; the hooks and the README use the others.
output SERVICE_API_NAME string = functionApp.outputs.name
output SERVICE_API_URI string = 'https://${functionApp.outputs.defaultHostName}'
output FUNCTION_APP_NAME string = functionApp.outputs.name
output FUNCTION_APP_URL string = 'https://${functionApp.outputs.defaultHostName}'
output ALERT_TOPIC_NAME string = alertTopic.outputs.name
output ALERT_TOPIC_ENDPOINT string = alertTopic.outputs.endpoint
// The postdeploy hook creates the subscription from these (infra/subscription.bicep).
output EVENT_SYSTEM_TOPIC_NAME string = systemTopic.outputs.name
output EVENT_SYSTEM_TOPIC_RESOURCE_GROUP string = systemTopicGroup
output EVENT_SYSTEM_TOPIC_ID string = systemTopic.outputs.id
output EVENT_SUBSCRIPTION_NAME string = eventSubscriptionName
output DEAD_LETTER_STORAGE_ACCOUNT_ID string = storage.outputs.id
output DEAD_LETTER_CONTAINER_NAME string = storage.outputs.deadLetterContainerName
// `python -m handlers deadletter` reads the dead letters from here, and replays them with the
// app's dedupe table (infra/README.md, "Dead letters").
output DEDUPE_TABLE_SERVICE_URI string = storage.outputs.tableEndpoint
output DEAD_LETTER_CONTAINER_URL string = '${storage.outputs.blobEndpoint}${deadLetterContainerName}'
output AZURE_FUNCTION_IDENTITY_CLIENT_ID string = identity.properties.clientId
