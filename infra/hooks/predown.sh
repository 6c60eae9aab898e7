#!/bin/sh
# azd predown hook (predown.ps1 is its Windows twin): `azd down` deletes the resource group, and
# with it a system topic the deployment created. A system topic that existed before (in another
# resource group) survives, and so would the acs-triage subscription on it: Event Grid would go
# on delivering to a deleted app and dead-lettering into a deleted account. This hook deletes
# that one subscription from such a topic, and touches nothing else on it.
set -eu

subscription="${AZURE_SUBSCRIPTION_ID:-}"
app_group="${AZURE_RESOURCE_GROUP:-}"
topic_name="${EVENT_SYSTEM_TOPIC_NAME:-}"
topic_group="${EVENT_SYSTEM_TOPIC_RESOURCE_GROUP:-}"
subscription_name="${EVENT_SUBSCRIPTION_NAME:-acs-triage}"

lower() {
  printf '%s' "$1" | tr '[:upper:]' '[:lower:]'
}

if [ -z "${topic_name}" ] || [ -z "${topic_group}" ] || [ -z "${subscription}" ]; then
  echo "predown: no system topic recorded in the azd environment; nothing to remove."
  exit 0
fi
if [ "$(lower "${topic_group}")" = "$(lower "${app_group}")" ]; then
  echo "predown: the system topic ${topic_name} goes with resource group ${app_group}."
  exit 0
fi

if az eventgrid system-topic event-subscription show --subscription "${subscription}" \
  --resource-group "${topic_group}" --system-topic-name "${topic_name}" \
  --name "${subscription_name}" --output none; then
  echo "predown: removing the Event Grid subscription ${subscription_name} from ${topic_name} (resource group ${topic_group}), which outlives azd down."
  az eventgrid system-topic event-subscription delete --subscription "${subscription}" \
    --resource-group "${topic_group}" --system-topic-name "${topic_name}" \
    --name "${subscription_name}" --yes
else
  echo "predown: ${topic_name} (resource group ${topic_group}) has no subscription ${subscription_name}."
fi
