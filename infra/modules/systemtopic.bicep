// The Event Grid system topic of the Communication Services resource. A source has at most one
// system topic, so an existing one (created in the portal, say, possibly in another resource
// group) is used, never duplicated: the azd preprovision hook looks it up and passes its name,
// and main.bicep deploys this module into that topic's resource group. An existing topic is only
// read; a new one is created with a system-assigned identity, which writes the dead letters.

@description('Tags for a topic created here.')
param tags object

@description('Name of the system topic: the existing one\'s, or the name for a new one.')
param name string

@description('Create the topic (none exists for the source yet); false: use the existing one of this name.')
param create bool

@description('Resource id of the existing Communication Services resource (the topic\'s source).')
param acsResourceId string

resource created 'Microsoft.EventGrid/systemTopics@2025-02-15' = if (create) {
  name: name
  // Communication Services is a global resource, so its system topic is global too.
  location: 'global'
  tags: tags
  identity: {
    type: 'SystemAssigned'
  }
  properties: {
    source: acsResourceId
    topicType: 'Microsoft.Communication.CommunicationServices'
  }
}

// Its system-assigned identity is turned on by the preprovision hook when it has none.
resource found 'Microsoft.EventGrid/systemTopics@2025-02-15' existing = if (!create) {
  name: name
}

output name string = name
output id string = create ? created.id : found.id
output principalId string = create ? created.identity.principalId : found.identity.principalId
