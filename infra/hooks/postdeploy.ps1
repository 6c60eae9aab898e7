# azd postdeploy hook (Windows twin of postdeploy.sh; keep the two equivalent): create or
# refresh the Event Grid subscription once the code is deployed.
#
# Event Grid validates a webhook when the subscription is created: it sends a handshake that the
# app's /api/eventgrid route must answer, so the subscription can only come after the code. This
# hook waits until the app answers /api/health, then deploys infra/subscription.bicep on its own
# into the system topic's resource group. That template only reads the function app (its host
# name and default function key), so the site is not deployed again and does not restart just
# before listKeys and the handshake. A host that is still warming up can fail either one
# ("InternalServerError from host runtime"; the handshake timing out): the deployment is
# retried, and deploying the same subscription again is harmless. Every `azd deploy` runs this,
# which also puts the current function key back into the subscription after a key rotation.
$ErrorActionPreference = 'Stop'

function Fail([string] $message) {
    Write-Error "postdeploy: $message" -ErrorAction Continue
    exit 1
}

function Require([string] $name) {
    # an azd environment value (set by the preprovision hook or main.bicep's outputs)
    $value = [Environment]::GetEnvironmentVariable($name)
    if (-not $value) { Fail "$name is not set: run azd provision first." }
    return $value
}

$subscription = Require 'AZURE_SUBSCRIPTION_ID'
$appGroup = Require 'AZURE_RESOURCE_GROUP'
$baseUrl = Require 'SERVICE_API_URI'
$appName = Require 'FUNCTION_APP_NAME'
$topicName = Require 'EVENT_SYSTEM_TOPIC_NAME'
$topicGroup = Require 'EVENT_SYSTEM_TOPIC_RESOURCE_GROUP'
$subscriptionName = Require 'EVENT_SUBSCRIPTION_NAME'
$storageId = Require 'DEAD_LETTER_STORAGE_ACCOUNT_ID'
$container = Require 'DEAD_LETTER_CONTAINER_NAME'

$healthUrl = "$baseUrl/api/health"
$healthAttempts = if ($env:HEALTH_WAIT_ATTEMPTS) { [int]$env:HEALTH_WAIT_ATTEMPTS } else { 30 }
$healthPause = if ($env:HEALTH_WAIT_SECONDS) { [int]$env:HEALTH_WAIT_SECONDS } else { 10 }
$attempts = if ($env:EVENT_SUBSCRIPTION_ATTEMPTS) { [int]$env:EVENT_SUBSCRIPTION_ATTEMPTS } else { 5 }
$pause = if ($env:EVENT_SUBSCRIPTION_RETRY_SECONDS) { [int]$env:EVENT_SUBSCRIPTION_RETRY_SECONDS } else { 30 }
$template = Join-Path $PSScriptRoot '..' 'subscription.bicep'

Write-Host "postdeploy: waiting for $healthUrl ..."
for ($attempt = 1; ; $attempt++) {
    try {
        Invoke-WebRequest -Uri $healthUrl -Method Get -TimeoutSec 10 -UseBasicParsing | Out-Null
        break
    }
    catch {
        if ($attempt -ge $healthAttempts) {
            Fail "the app did not answer $healthUrl; the Event Grid subscription was not created. Check the deployment, then run azd deploy again."
        }
        Start-Sleep -Seconds $healthPause
    }
}

Write-Host "postdeploy: the app answers; creating the Event Grid subscription $subscriptionName on $topicName."
for ($attempt = 1; ; $attempt++) {
    az deployment group create `
        --subscription $subscription `
        --resource-group $topicGroup `
        --name 'acs-triage-event-subscription' `
        --template-file $template `
        --parameters `
        "systemTopicName=$topicName" `
        "functionAppName=$appName" `
        "functionAppResourceGroup=$appGroup" `
        "subscriptionName=$subscriptionName" `
        "deadLetterStorageAccountId=$storageId" `
        "deadLetterContainerName=$container" `
        --output none
    if ($LASTEXITCODE -eq 0) { break }
    if ($attempt -ge $attempts) {
        Fail "the Event Grid subscription could not be created after $attempts attempts (the errors are above). When the app answers the handshake (python -m handlers doctor $baseUrl --code <key>), run azd deploy again."
    }
    Write-Host "postdeploy: attempt $attempt of $attempts failed; the host may still be starting (listKeys and Event Grid's handshake need it). Trying again in $pause s."
    Start-Sleep -Seconds $pause
}
Write-Host "postdeploy: Communication Services events now reach $baseUrl/api/eventgrid."
