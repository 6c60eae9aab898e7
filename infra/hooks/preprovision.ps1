# azd preprovision hook (Windows twin of preprovision.sh; keep the two equivalent): what Azure
# must know before the Bicep runs, re-derived on every `azd provision`, so nothing stale
# survives an `azd down`.
#
# 1. The Azure CLI is signed in to the azd environment's subscription (the hooks use it).
# 2. The Microsoft.App resource provider is registered: Flex Consumption runs on it, and a
#    template deployment registers only the providers of the resource types it declares.
# 3. The Communication Services resource's existing Event Grid system topic, if any: a source
#    has at most one, so a second one would fail the deployment. Its name and resource group go
#    into the azd environment (EVENT_SYSTEM_TOPIC_NAME, EVENT_SYSTEM_TOPIC_RESOURCE_GROUP) for
#    main.bicep to use it; both are emptied when there is none (after `azd down`, say), and the
#    Bicep creates one. A found topic gets a system-assigned identity if it has none: it writes
#    the dead letters with it.
$ErrorActionPreference = 'Stop'

function Fail([string] $message) {
    Write-Error "preprovision: $message" -ErrorAction Continue
    exit 1
}

$subscription = $env:AZURE_SUBSCRIPTION_ID
if (-not $subscription) { Fail 'AZURE_SUBSCRIPTION_ID is not set: select the azd environment (azd env select) or create one (azd env new).' }
$acsId = $env:ACS_RESOURCE_ID
if (-not $acsId) { Fail 'ACS_RESOURCE_ID is not set: azd env set ACS_RESOURCE_ID /subscriptions/<id>/resourceGroups/<rg>/providers/Microsoft.Communication/communicationServices/<name>' }

# Event Grid creates a system topic only in the subscription of its source.
if (-not $acsId.ToLowerInvariant().StartsWith("/subscriptions/$($subscription.ToLowerInvariant())/")) {
    Fail "ACS_RESOURCE_ID is not in subscription $subscription (AZURE_SUBSCRIPTION_ID); deploy to the subscription of the Communication Services resource."
}

az account show --subscription $subscription --output none
if ($LASTEXITCODE -ne 0) { Fail "the Azure CLI cannot use subscription ${subscription}: run az login (the hooks use az beside azd)." }

$state = az provider show --namespace Microsoft.App --subscription $subscription --query registrationState --output tsv
if ($LASTEXITCODE -ne 0) { exit 1 }
if ($state -eq 'Registered') {
    Write-Host 'preprovision: Microsoft.App is registered.'
}
else {
    Write-Host 'preprovision: registering the Microsoft.App resource provider (Flex Consumption needs it; this takes a few minutes) ...'
    az provider register --namespace Microsoft.App --subscription $subscription --wait
    if ($LASTEXITCODE -ne 0) { exit 1 }
}

# Every system topic of the subscription, filtered here rather than with --query
# "[?source=='...']": resource ids are case-insensitive, and the id stored as a topic's source
# need not be spelled like ACS_RESOURCE_ID.
$topics = az eventgrid system-topic list --subscription $subscription `
    --query "[].[source, name, resourceGroup, identity.type]" --output tsv
if ($LASTEXITCODE -ne 0) { exit 1 }
$found = $null
foreach ($line in @($topics)) {
    $fields = "$line".Split("`t")
    if ($fields.Count -ge 3 -and $fields[0] -ieq $acsId) { $found = $fields; break }
}

if (-not $found) {
    Write-Host 'preprovision: the Communication Services resource has no Event Grid system topic yet; the deployment creates one.'
    azd env set EVENT_SYSTEM_TOPIC_NAME ''
    azd env set EVENT_SYSTEM_TOPIC_RESOURCE_GROUP ''
    exit 0
}

$name = $found[1]
$group = $found[2]
$identity = if ($found.Count -ge 4) { $found[3] } else { '' }
Write-Host "preprovision: using the resource's existing system topic $name (resource group $group)."

if ($identity -like '*SystemAssigned*') {
}
elseif (-not $identity -or $identity -eq 'None' -or $identity -eq 'null') {
    Write-Host "preprovision: turning on the system-assigned identity of $name; Event Grid writes dead letters with it."
    az eventgrid system-topic update --name $name --resource-group $group `
        --subscription $subscription --identity systemassigned --output none
    if ($LASTEXITCODE -ne 0) { exit 1 }
}
else {
    # Switching to a system-assigned identity would remove the user-assigned one others rely on.
    Fail "system topic $name (resource group $group) has only a user-assigned identity ($identity); give it a system-assigned identity as well (the topic's Identity page in the portal) and run azd provision again."
}

azd env set EVENT_SYSTEM_TOPIC_NAME $name
azd env set EVENT_SYSTEM_TOPIC_RESOURCE_GROUP $group
