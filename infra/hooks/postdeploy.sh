#!/bin/sh
# azd postdeploy hook: create the Event Grid subscription once the code is deployed.
#
# Event Grid validates a webhook when the subscription is created: it sends a handshake that the
# app's /api/eventgrid route must answer. The first `azd provision` therefore leaves the
# subscription out (deployEventSubscription=false). After the first deploy this hook waits until
# the app answers, turns DEPLOY_EVENT_SUBSCRIPTION on in the azd environment and provisions
# again; from then on every `azd provision` keeps the subscription.
set -eu

if [ "${DEPLOY_EVENT_SUBSCRIPTION:-false}" = "true" ]; then
  echo "postdeploy: the Event Grid subscription is already part of the deployment."
  exit 0
fi

base_url="${SERVICE_API_URI:?SERVICE_API_URI is not set: run azd provision first}"
health_url="${base_url}/api/health"
attempts="${HEALTH_WAIT_ATTEMPTS:-30}"

echo "postdeploy: waiting for ${health_url} ..."
attempt=1
until curl --fail --silent --show-error --output /dev/null --max-time 10 "${health_url}"; do
  if [ "${attempt}" -ge "${attempts}" ]; then
    echo "postdeploy: the app did not answer ${health_url}; the Event Grid subscription was not created." >&2
    echo "postdeploy: check the deployment, then run: azd env set DEPLOY_EVENT_SUBSCRIPTION true && azd provision" >&2
    exit 1
  fi
  attempt=$((attempt + 1))
  sleep 10
done

echo "postdeploy: the app answers; creating the Event Grid subscription."
azd env set DEPLOY_EVENT_SUBSCRIPTION true
if ! azd provision --no-prompt; then
  # Leave the environment as it was, so the next `azd up` provisions without the subscription.
  azd env set DEPLOY_EVENT_SUBSCRIPTION false
  echo "postdeploy: provisioning the Event Grid subscription failed." >&2
  exit 1
fi
echo "postdeploy: Communication Services events now reach ${base_url}/api/eventgrid."
