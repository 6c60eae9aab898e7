// Delivery health as Azure Monitor metric alerts. Event Grid gives up on an event the app refused
// (a rotated function key answers 401, which Event Grid does not retry; a 400 or 413
// dead-letters at once) and the app itself never hears of it: these alerts watch what Event Grid
// counts on the system topic for the acs-triage subscription, and the app's own 5xx answers.
// They notify an action group that e-mails alertEmail; without an address there is no action
// group, and the alerts still fire and show in Azure Monitor.

@description('Tags for every resource.')
param tags object

@description('Common part of the alert names (unique per deployment).')
param namePrefix string

@description('Resource id of the Event Grid system topic (it may be in another resource group).')
param systemTopicId string

@description('Name of the Event Grid subscription the delivery alerts watch (other subscriptions on a shared topic are not counted).')
param eventSubscriptionName string

@description('Resource id of the function app.')
param functionAppId string

@description('E-mail address that receives the alerts. Empty: no action group.')
param alertEmail string = ''

@description('How often each alert is evaluated.')
@allowed([
  'PT1M'
  'PT5M'
  'PT15M'
])
param evaluationFrequency string = 'PT5M'

@description('The period each evaluation looks back over.')
@allowed([
  'PT5M'
  'PT15M'
  'PT30M'
  'PT1H'
])
param windowSize string = 'PT15M'

resource operators 'Microsoft.Insights/actionGroups@2023-01-01' = if (!empty(alertEmail)) {
  name: 'ag-${namePrefix}'
  location: 'global'
  tags: tags
  properties: {
    groupShortName: 'acstriage'
    enabled: true
    emailReceivers: [
      {
        name: 'operator'
        emailAddress: alertEmail
        useCommonAlertSchema: true
      }
    ]
  }
}

var actions = empty(alertEmail) ? [] : [
  {
    actionGroupId: operators.id
  }
]

// Event Grid's own counts on the system topic (Microsoft.EventGrid/systemTopics metrics).
var deliveryMetrics = [
  {
    metricName: 'DeadLetteredCount'
    severity: 1
    description: 'Event Grid dead-lettered Communication Services events for acs-triage (refused with 400/413, or still failing after every retry). Read them with: python -m handlers deadletter list; bring them back with: python -m handlers deadletter replay.'
  }
  {
    metricName: 'DroppedEventCount'
    severity: 1
    description: 'Event Grid dropped Communication Services events for acs-triage: they were neither delivered nor dead-lettered (the dead-letter container unreachable, for example). They are lost.'
  }
  {
    metricName: 'DeliveryAttemptFailCount'
    severity: 2
    description: 'Event Grid failed to deliver to acs-triage (401: the function key in the subscription no longer matches, run azd deploy or infra/subscription.bicep again; 403: ALLOWED_TOPICS; 5xx/timeouts: the app). Event Grid retries; dead letters follow if it keeps failing.'
  }
]

resource deliveryAlerts 'Microsoft.Insights/metricAlerts@2018-03-01' = [for metric in deliveryMetrics: {
  name: 'alert-${namePrefix}-${toLower(metric.metricName)}'
  location: 'global'
  tags: tags
  properties: {
    description: metric.description
    severity: metric.severity
    enabled: true
    scopes: [
      systemTopicId
    ]
    evaluationFrequency: evaluationFrequency
    windowSize: windowSize
    autoMitigate: true
    criteria: {
      'odata.type': 'Microsoft.Azure.Monitor.SingleResourceMultipleMetricCriteria'
      allOf: [
        {
          criterionType: 'StaticThresholdCriterion'
          name: metric.metricName
          metricNamespace: 'Microsoft.EventGrid/systemTopics'
          metricName: metric.metricName
          // Event Grid reports subscription names in upper case (as in the dead-letter blobs).
          dimensions: [
            {
              name: 'EventSubscriptionName'
              operator: 'Include'
              values: [
                toUpper(eventSubscriptionName)
              ]
            }
          ]
          operator: 'GreaterThan'
          threshold: 0
          timeAggregation: 'Total'
          // A new topic has emitted nothing yet; the rule must still be created.
          skipMetricValidation: true
        }
      ]
    }
    actions: actions
  }
}]

// The app's own 5xx answers: a destination that stays down, the dedupe store unreachable, or a
// misconfigured app (503 with Retry-After; Event Grid retries those).
resource serverErrors 'Microsoft.Insights/metricAlerts@2018-03-01' = {
  name: 'alert-${namePrefix}-http5xx'
  location: 'global'
  tags: tags
  properties: {
    description: 'acs-triage answered with 5xx: an alert destination or the dedupe table is failing, or the app is misconfigured. Check the app\'s logs in Application Insights; python -m handlers doctor <url> checks it from outside.'
    severity: 2
    enabled: true
    scopes: [
      functionAppId
    ]
    evaluationFrequency: evaluationFrequency
    windowSize: windowSize
    autoMitigate: true
    criteria: {
      'odata.type': 'Microsoft.Azure.Monitor.SingleResourceMultipleMetricCriteria'
      allOf: [
        {
          criterionType: 'StaticThresholdCriterion'
          name: 'Http5xx'
          metricNamespace: 'Microsoft.Web/sites'
          metricName: 'Http5xx'
          operator: 'GreaterThan'
          threshold: 0
          timeAggregation: 'Total'
          skipMetricValidation: true
        }
      ]
    }
    actions: actions
  }
}

output deliveryAlertNames array = [for (metric, index) in deliveryMetrics: deliveryAlerts[index].name]
output serverErrorAlertName string = serverErrors.name
output actionGroupId string = empty(alertEmail) ? '' : operators.id
