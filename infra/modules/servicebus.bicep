// Service Bus for the `pubsub` component: one topic per registry topic, one subscription per
// (subscribing app, topic) named by the app id, which is the name Dapr reads (consumerID
// defaults to the app id; with disableEntityManagement Dapr creates nothing itself).
//
// Dead letters: Baton relies on Dapr's dead-letter topic (the orchestrator stores, lists and
// replays what arrives there). Service Bus's own dead-letter queue (after maxDeliveryCount,
// or on expiry) is forwarded to that same topic, so nothing stays there unseen; the
// orchestrator's own dead-letters subscription is the end of the chain, and the alerts below
// fire when anything lands in a dead-letter queue or in the `-unstored` topic.
param location string
param tags object
param name string
param alertPrefix string
param apps array
param deadLetterTopic string
param messageTtlSeconds int
param maxDeliveryCount int
param identityPrincipalId string
param userPrincipalId string = ''

// Where the orchestrator's dead-letters subscription sends what it fails to store
// (dead_letter_topic in services/orchestrator/main.py; a unit test holds the two together).
var unstoredTopic = '${deadLetterTopic}-unstored'
var topicNames = union(flatten(map(apps, app => app.topics)), [deadLetterTopic, unstoredTopic])
var subscriptions = concat(
  flatten(map(apps, app => map(app.topics, topic => { app: app.appId, topic: topic }))),
  [{ app: 'inspection', topic: unstoredTopic }]
)
// Topics read by apps that scale to zero: their KEDA rules need Manage rights there.
var scaledTopics = union(flatten(map(filter(apps, app => app.kind == 'subscriber'), app => app.topics)), [])
// 3600 -> PT1H, else seconds (ISO 8601 durations).
var messageTtl = messageTtlSeconds % 3600 == 0 ? 'PT${messageTtlSeconds / 3600}H' : 'PT${messageTtlSeconds}S'

var senderRoleId = '69a216fc-b8fb-44d8-bc22-1f3c2cd27a39'
var receiverRoleId = '4f6d3b9b-027b-4f4c-9142-0e5a2a2247e0'
var ownerRoleId = '090c5cfd-751d-490a-894a-3ce6f1109419'

resource namespace 'Microsoft.ServiceBus/namespaces@2026-01-01' = {
  name: name
  location: location
  tags: tags
  sku: {
    name: 'Standard'
    tier: 'Standard'
  }
  properties: {
    disableLocalAuth: true
    minimumTlsVersion: '1.2'
    publicNetworkAccess: 'Enabled'
  }
}

resource topics 'Microsoft.ServiceBus/namespaces/topics@2026-01-01' = [for topic in topicNames: {
  parent: namespace
  name: topic
  properties: {
    enableBatchedOperations: true
  }
}]

resource topicSubscriptions 'Microsoft.ServiceBus/namespaces/topics/subscriptions@2026-01-01' = [for sub in subscriptions: {
  parent: topics[indexOf(topicNames, sub.topic)]
  name: sub.app
  properties: {
    maxDeliveryCount: maxDeliveryCount
    lockDuration: 'PT1M'
    defaultMessageTimeToLive: messageTtl
    deadLetteringOnMessageExpiration: true
    deadLetteringOnFilterEvaluationExceptions: true
    // Service Bus's dead letters go on to Dapr's dead-letter topic; the dead-letter topics'
    // own subscriptions keep theirs (the alerts watch them).
    forwardDeadLetteredMessagesTo: contains([deadLetterTopic, unstoredTopic], sub.topic) ? null : deadLetterTopic
  }
}]

// One identity serves every app, so the roles are the union of what the apps need:
// publishers (orchestrator, analyser) send, subscribers (and the orchestrator) receive.
resource sender 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(namespace.id, identityPrincipalId, senderRoleId)
  scope: namespace
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', senderRoleId)
    principalId: identityPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource receiver 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(namespace.id, identityPrincipalId, receiverRoleId)
  scope: namespace
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', receiverRoleId)
    principalId: identityPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// Why Data Owner: the KEDA azure-servicebus scaler reads a subscription's message count
// through the management API, which needs the Manage right; Data Owner is the only
// built-in role with it (kedacore/keda#806). Kept as narrow as the role allows: only the
// topics whose subscribers scale to zero, not the namespace. Trade-off: the identity is
// shared, so every app could manage (create/delete subscriptions on) those topics.
resource scaledTopicRefs 'Microsoft.ServiceBus/namespaces/topics@2026-01-01' existing = [for topic in scaledTopics: {
  parent: namespace
  name: topic
}]

resource scalerOwner 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for (topic, i) in scaledTopics: {
  name: guid(namespace.id, topic, identityPrincipalId, ownerRoleId)
  scope: scaledTopicRefs[i]
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', ownerRoleId)
    principalId: identityPrincipalId
    principalType: 'ServicePrincipal'
    description: 'KEDA azure-servicebus scale rules read message counts (needs Manage).'
  }
  dependsOn: [topics]
}]

// The deploying user may peek and receive dead letters (Service Bus Explorer in the portal).
resource userReceiver 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(userPrincipalId)) {
  name: guid(namespace.id, userPrincipalId, receiverRoleId)
  scope: namespace
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', receiverRoleId)
    principalId: userPrincipalId
    principalType: 'User'
  }
}

// Nothing unseen: fire when a Service Bus dead-letter queue holds messages (the other
// queues forward theirs at once, so this is the end of the chain: the dead-letters and
// -unstored subscriptions), or when the orchestrator could not store a dead letter and sent
// it on to the -unstored topic. No action group: alerts show in Azure Monitor; add one.
var alerts = [
  { name: 'dead-lettered', metric: 'DeadletteredMessages', entity: '*', text: 'A Service Bus dead-letter queue holds messages: see docs/azure-design.md (Dead letters).' }
  { name: 'unstored', metric: 'ActiveMessages', entity: unstoredTopic, text: 'The orchestrator could not store dead letters; they wait in the ${unstoredTopic} topic.' }
]

resource deadLetterAlerts 'Microsoft.Insights/metricAlerts@2018-03-01' = [for alert in alerts: {
  name: '${alertPrefix}-${alert.name}'
  location: 'global'
  tags: tags
  properties: {
    description: alert.text
    severity: 2
    enabled: true
    scopes: [namespace.id]
    evaluationFrequency: 'PT5M'
    windowSize: 'PT15M'
    criteria: {
      'odata.type': 'Microsoft.Azure.Monitor.SingleResourceMultipleMetricCriteria'
      allOf: [
        {
          name: alert.metric
          criterionType: 'StaticThresholdCriterion'
          metricNamespace: 'Microsoft.ServiceBus/namespaces'
          metricName: alert.metric
          dimensions: [
            {
              name: 'EntityName'
              operator: 'Include'
              values: [alert.entity]
            }
          ]
          operator: 'GreaterThan'
          threshold: 0
          timeAggregation: 'Maximum'
        }
      ]
    }
  }
}]

output name string = namespace.name
output topics array = topicNames
