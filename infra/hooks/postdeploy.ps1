# azd postdeploy hook (Windows twin of postdeploy.sh): create the Event Grid subscription once
# the code is deployed.
#
# Event Grid validates a webhook when the subscription is created: it sends a handshake that the
# app's /api/eventgrid route must answer. The first `azd provision` therefore leaves the
# subscription out (deployEventSubscription=false). After the first deploy this hook waits until
# the app answers, turns DEPLOY_EVENT_SUBSCRIPTION on in the azd environment and provisions
# again; from then on every `azd provision` keeps the subscription.
$ErrorActionPreference = 'Stop'

if ($env:DEPLOY_EVENT_SUBSCRIPTION -eq 'true') {
    Write-Host 'postdeploy: the Event Grid subscription is already part of the deployment.'
    exit 0
}

$baseUrl = $env:SERVICE_API_URI
if (-not $baseUrl) {
    Write-Error 'SERVICE_API_URI is not set: run azd provision first'
    exit 1
}
$healthUrl = "$baseUrl/api/health"
$attempts = 30
if ($env:HEALTH_WAIT_ATTEMPTS) { $attempts = [int]$env:HEALTH_WAIT_ATTEMPTS }

Write-Host "postdeploy: waiting for $healthUrl ..."
$answered = $false
for ($attempt = 1; $attempt -le $attempts; $attempt++) {
    try {
        Invoke-WebRequest -Uri $healthUrl -Method Get -TimeoutSec 10 -UseBasicParsing | Out-Null
        $answered = $true
        break
    }
    catch {
        Start-Sleep -Seconds 10
    }
}
if (-not $answered) {
    Write-Host "postdeploy: the app did not answer $healthUrl; the Event Grid subscription was not created."
    Write-Host 'postdeploy: check the deployment, then run: azd env set DEPLOY_EVENT_SUBSCRIPTION true; azd provision'
    exit 1
}

Write-Host 'postdeploy: the app answers; creating the Event Grid subscription.'
azd env set DEPLOY_EVENT_SUBSCRIPTION true
azd provision --no-prompt
if ($LASTEXITCODE -ne 0) {
    # Leave the environment as it was, so the next `azd up` provisions without the subscription.
    azd env set DEPLOY_EVENT_SUBSCRIPTION false
    Write-Host 'postdeploy: provisioning the Event Grid subscription failed.'
    exit 1
}
Write-Host "postdeploy: Communication Services events now reach $baseUrl/api/eventgrid."
