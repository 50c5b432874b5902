// Test helpers: isolated brokers, the event-store contract suite, decider specifications.
export { deciderSpecification } from './deciderSpecification.js';
export type { DeciderSpecification, DeciderThen, DeciderWhen } from './deciderSpecification.js';
export { describeEventStoreContract, newEvent, uniquePlant, waitFor } from './eventStoreContract.js';
export type { EventStoreFixture } from './eventStoreContract.js';
export { startMosquitto } from './mosquitto.js';
export type { MosquittoHandle, MosquittoOptions } from './mosquitto.js';
export { startNatsServer } from './natsServer.js';
export type { NatsServerHandle } from './natsServer.js';
export { startNatsCluster } from './natsCluster.js';
export type { NatsClusterHandle, NatsClusterNode, NatsClusterOptions } from './natsCluster.js';
export { freePort, startServiceProcess } from './processHarness.js';
export { CLUSTER_API_TOKEN, CLUSTER_APPROVAL_SECRET, REPOSITORY_ROOT, SERVICE_NAMES, serviceEntry, startServiceCluster } from './serviceCluster.js';
export type { ServiceCluster, ServiceClusterOptions, ServiceCopy, ServiceName } from './serviceCluster.js';
export { startSmtpCapture } from './smtpCapture.js';
export type { SmtpCapture } from './smtpCapture.js';
export { approvalEmail, eventsOf, eventually, mailsTo, orderEvents, publishReading, startFlowFixture, submitDecision } from './flowFixture.js';
export type { ApprovalEmail, FlowFixture } from './flowFixture.js';
