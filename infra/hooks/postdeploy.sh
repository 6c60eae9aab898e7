#!/bin/sh
# azd postdeploy hook (postdeploy.ps1 is its Windows twin): create or refresh the Event Grid
# subscription once the code is deployed.
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
set -eu

fail() {
  echo "postdeploy: $*" >&2
  exit 1
}

require() {
  # $1: name of an azd environment value (set by the preprovision hook or main.bicep's outputs)
  eval "value=\${$1:-}"
  [ -n "${value}" ] || fail "$1 is not set: run azd provision first."
  printf '%s' "${value}"
}

subscription="$(require AZURE_SUBSCRIPTION_ID)"
app_group="$(require AZURE_RESOURCE_GROUP)"
base_url="$(require SERVICE_API_URI)"
app_name="$(require FUNCTION_APP_NAME)"
topic_name="$(require EVENT_SYSTEM_TOPIC_NAME)"
topic_group="$(require EVENT_SYSTEM_TOPIC_RESOURCE_GROUP)"
subscription_name="$(require EVENT_SUBSCRIPTION_NAME)"
storage_id="$(require DEAD_LETTER_STORAGE_ACCOUNT_ID)"
container="$(require DEAD_LETTER_CONTAINER_NAME)"

health_url="${base_url}/api/health"
health_attempts="${HEALTH_WAIT_ATTEMPTS:-30}"
health_pause="${HEALTH_WAIT_SECONDS:-10}"
attempts="${EVENT_SUBSCRIPTION_ATTEMPTS:-5}"
pause="${EVENT_SUBSCRIPTION_RETRY_SECONDS:-30}"
template="$(dirname "$0")/../subscription.bicep"

echo "postdeploy: waiting for ${health_url} ..."
attempt=1
until curl --fail --silent --show-error --output /dev/null --max-time 10 "${health_url}"; do
  if [ "${attempt}" -ge "${health_attempts}" ]; then
    fail "the app did not answer ${health_url}; the Event Grid subscription was not created. Check the deployment, then run azd deploy again."
  fi
  attempt=$((attempt + 1))
  sleep "${health_pause}"
done

echo "postdeploy: the app answers; creating the Event Grid subscription ${subscription_name} on ${topic_name}."
attempt=1
until az deployment group create \
  --subscription "${subscription}" \
  --resource-group "${topic_group}" \
  --name "acs-triage-event-subscription" \
  --template-file "${template}" \
  --parameters \
  "systemTopicName=${topic_name}" \
  "functionAppName=${app_name}" \
  "functionAppResourceGroup=${app_group}" \
  "subscriptionName=${subscription_name}" \
  "deadLetterStorageAccountId=${storage_id}" \
  "deadLetterContainerName=${container}" \
  --output none; do
  if [ "${attempt}" -ge "${attempts}" ]; then
    fail "the Event Grid subscription could not be created after ${attempts} attempts (the errors are above). When the app answers the handshake (python -m handlers doctor ${base_url} --code <key>), run azd deploy again."
  fi
  echo "postdeploy: attempt ${attempt} of ${attempts} failed; the host may still be starting (listKeys and Event Grid's handshake need it). Trying again in ${pause} s."
  attempt=$((attempt + 1))
  sleep "${pause}"
done
echo "postdeploy: Communication Services events now reach ${base_url}/api/eventgrid."
