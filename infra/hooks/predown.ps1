# azd predown hook (Windows twin of predown.sh; keep the two equivalent): `azd down` deletes the
# resource group, and with it a system topic the deployment created. A system topic that existed
# before (in another resource group) survives, and so would the acs-triage subscription on it:
# Event Grid would go on delivering to a deleted app and dead-lettering into a deleted account.
# This hook deletes that one subscription from such a topic, and touches nothing else on it.
$ErrorActionPreference = 'Stop'

$subscription = $env:AZURE_SUBSCRIPTION_ID
$appGroup = $env:AZURE_RESOURCE_GROUP
$topicName = $env:EVENT_SYSTEM_TOPIC_NAME
$topicGroup = $env:EVENT_SYSTEM_TOPIC_RESOURCE_GROUP
$subscriptionName = if ($env:EVENT_SUBSCRIPTION_NAME) { $env:EVENT_SUBSCRIPTION_NAME } else { 'acs-triage' }

if (-not $topicName -or -not $topicGroup -or -not $subscription) {
    Write-Host 'predown: no system topic recorded in the azd environment; nothing to remove.'
    exit 0
}
if ($topicGroup -ieq $appGroup) {
    Write-Host "predown: the system topic $topicName goes with resource group $appGroup."
    exit 0
}

az eventgrid system-topic event-subscription show --subscription $subscription `
    --resource-group $topicGroup --system-topic-name $topicName `
    --name $subscriptionName --output none
if ($LASTEXITCODE -eq 0) {
    Write-Host "predown: removing the Event Grid subscription $subscriptionName from $topicName (resource group $topicGroup), which outlives azd down."
    az eventgrid system-topic event-subscription delete --subscription $subscription `
        --resource-group $topicGroup --system-topic-name $topicName `
        --name $subscriptionName --yes
    if ($LASTEXITCODE -ne 0) { exit 1 }
}
else {
    Write-Host "predown: $topicName (resource group $topicGroup) has no subscription $subscriptionName."
}
