// Flex Consumption plan and the Python function app, running as a user-assigned identity.
// App settings = the Functions host's own (hostSettings, below) + the app's (appSettings, from
// main.bicep). tests/test_infra.py checks both lists against handlers/settings.py.

@description('Region of the plan and the app.')
param location string

@description('Tags for the plan.')
param tags object

@description('Name of the Flex Consumption plan.')
param planName string

@description('Name of the function app (its host name is <name>.azurewebsites.net).')
param name string

@description('Resource id of the user-assigned identity the app runs as.')
param identityId string

@description('Client id of the user-assigned identity.')
param identityClientId string

@description('Name of the storage account for host state and the deployment package.')
param storageAccountName string

@description('Blob endpoint of that account (https://<account>.blob.core.windows.net/).')
param storageBlobEndpoint string

@description('Blob container holding the deployment package.')
param deploymentContainerName string

@description('Application Insights connection string.')
param applicationInsightsConnectionString string

@description('The app\'s own settings (environment variables the code reads). Secure: it may hold the webhook secret.')
@secure()
param appSettings object

@description('Upper bound of instances the plan scales out to.')
@minValue(40)
@maxValue(1000)
param maximumInstanceCount int = 100

@description('Memory of each instance.')
@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int = 2048

// The Functions host's own settings; each one is on the allow-list in tests/test_infra.py.
// Flex Consumption takes the runtime from functionAppConfig, so FUNCTIONS_WORKER_RUNTIME and
// FUNCTIONS_EXTENSION_VERSION are deliberately absent (the plan rejects them).
var hostSettings = {
  AzureWebJobsStorage__accountName: storageAccountName
  AzureWebJobsStorage__credential: 'managedidentity'
  AzureWebJobsStorage__clientId: identityClientId
  APPLICATIONINSIGHTS_CONNECTION_STRING: applicationInsightsConnectionString
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${identityClientId};Authorization=AAD'
}

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  // checkov:skip=CKV_AZURE_225: zone redundancy is not offered in every Flex Consumption region; it stays off so the template deploys wherever Flex runs (turn it on per region).
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    name: 'FC1'
    tier: 'FlexConsumption'
  }
  properties: {
    reserved: true
  }
}

resource app 'Microsoft.Web/sites@2024-04-01' = {
  // checkov:skip=CKV_AZURE_222: Event Grid and Call Automation deliver over the internet, so the endpoint is public; every route except /api/health needs a function key, and callbacks also a signed JWT.
  // checkov:skip=CKV_AZURE_78: Flex Consumption offers no FTP deployment at all, and newer regions reject siteConfig.ftpsState on Flex sites (ARM error 51021), so the template cannot set it to Disabled.
  // checkov:skip=CKV_AZURE_17: Event Grid and Call Automation present no client certificates; callers authenticate with function keys and (callbacks) Communication Services JWTs.
  // checkov:skip=CKV_AZURE_213: App Service health check removes unhealthy instances from a fixed pool; Flex Consumption manages its instances itself. GET /api/health is there for an external availability test.
  // checkov:skip=CKV_AZURE_212: Flex Consumption scales from zero on demand; a minimum instance count (always-ready) is a cost choice, not a failover setting, for a webhook Event Grid retries for 24 hours.
  name: name
  location: location
  tags: union(tags, {
    'azd-service-name': 'api'
  })
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
    }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    publicNetworkAccess: 'Enabled'
    // Key Vault references in app settings (ALERT_WEBHOOK_SECRET) resolve with this identity.
    keyVaultReferenceIdentity: identityId
    siteConfig: {
      minTlsVersion: '1.2'
      scmMinTlsVersion: '1.2'
      // No ftpsState: Flex Consumption offers no FTP(S), and newer regions reject the property
      // (ARM error 51021: site configuration property Site.SiteConfig.FtpsState is invalid for Flex
      // Consumption sites). So do linuxFxVersion, alwaysOn, use32BitWorkerProcess and the like: the
      // runtime and scale settings live in functionAppConfig (tests/test_infra.py keeps them out).
      http20Enabled: true
      cors: {
        allowedOrigins: []
      }
      appSettings: [for setting in items(union(hostSettings, appSettings)): {
        name: setting.key
        value: setting.value
      }]
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${storageBlobEndpoint}${deploymentContainerName}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identityId
          }
        }
      }
      scaleAndConcurrency: {
        maximumInstanceCount: maximumInstanceCount
        instanceMemoryMB: instanceMemoryMB
      }
      runtime: {
        name: 'python'
        version: '3.11'
      }
    }
  }
}

output name string = app.name
output id string = app.id
output defaultHostName string = app.properties.defaultHostName
