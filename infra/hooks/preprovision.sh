#!/bin/sh
# azd preprovision hook (preprovision.ps1 is its Windows twin): what Azure must know before the
# Bicep runs, re-derived on every `azd provision`, so nothing stale survives an `azd down`.
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
set -eu

fail() {
  echo "preprovision: $*" >&2
  exit 1
}

subscription="${AZURE_SUBSCRIPTION_ID:-}"
[ -n "${subscription}" ] || fail "AZURE_SUBSCRIPTION_ID is not set: select the azd environment (azd env select) or create one (azd env new)."
acs_id="${ACS_RESOURCE_ID:-}"
[ -n "${acs_id}" ] || fail "ACS_RESOURCE_ID is not set: azd env set ACS_RESOURCE_ID /subscriptions/<id>/resourceGroups/<rg>/providers/Microsoft.Communication/communicationServices/<name>"

lower() {
  printf '%s' "$1" | tr '[:upper:]' '[:lower:]'
}

# Event Grid creates a system topic only in the subscription of its source.
case "$(lower "${acs_id}")" in
  "/subscriptions/$(lower "${subscription}")/"*) ;;
  *) fail "ACS_RESOURCE_ID is not in subscription ${subscription} (AZURE_SUBSCRIPTION_ID); deploy to the subscription of the Communication Services resource." ;;
esac

if ! az account show --subscription "${subscription}" --output none; then
  fail "the Azure CLI cannot use subscription ${subscription}: run az login (the hooks use az beside azd)."
fi

state="$(az provider show --namespace Microsoft.App --subscription "${subscription}" --query registrationState --output tsv)"
if [ "${state}" = "Registered" ]; then
  echo "preprovision: Microsoft.App is registered."
else
  echo "preprovision: registering the Microsoft.App resource provider (Flex Consumption needs it; this takes a few minutes) ..."
  az provider register --namespace Microsoft.App --subscription "${subscription}" --wait
fi

# Every system topic of the subscription, filtered here rather than with --query
# "[?source=='...']": resource ids are case-insensitive, and the id stored as a topic's source
# need not be spelled like ACS_RESOURCE_ID.
topics="$(az eventgrid system-topic list --subscription "${subscription}" \
  --query "[].[source, name, resourceGroup, identity.type]" --output tsv)"
found="$(printf '%s\n' "${topics}" | awk -F '\t' -v id="$(lower "${acs_id}")" \
  'tolower($1) == id { print $2 "\t" $3 "\t" $4; exit }')"

if [ -z "${found}" ]; then
  echo "preprovision: the Communication Services resource has no Event Grid system topic yet; the deployment creates one."
  azd env set EVENT_SYSTEM_TOPIC_NAME ""
  azd env set EVENT_SYSTEM_TOPIC_RESOURCE_GROUP ""
  exit 0
fi

name="$(printf '%s' "${found}" | cut -f 1)"
group="$(printf '%s' "${found}" | cut -f 2)"
identity="$(printf '%s' "${found}" | cut -f 3)"
echo "preprovision: using the resource's existing system topic ${name} (resource group ${group})."

case "${identity}" in
  *SystemAssigned*) ;;
  "" | None | null)
    echo "preprovision: turning on the system-assigned identity of ${name}; Event Grid writes dead letters with it."
    az eventgrid system-topic update --name "${name}" --resource-group "${group}" \
      --subscription "${subscription}" --identity systemassigned --output none
    ;;
  *)
    # Switching to a system-assigned identity would remove the user-assigned one others rely on.
    fail "system topic ${name} (resource group ${group}) has only a user-assigned identity (${identity}); give it a system-assigned identity as well (the topic's Identity page in the portal) and run azd provision again."
    ;;
esac

azd env set EVENT_SYSTEM_TOPIC_NAME "${name}"
azd env set EVENT_SYSTEM_TOPIC_RESOURCE_GROUP "${group}"
