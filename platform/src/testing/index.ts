// Test helpers: isolated brokers, the event-store contract suite, decider specifications.
export { deciderSpecification } from './deciderSpecification.js';
export type { DeciderSpecification, DeciderThen, DeciderWhen } from './deciderSpecification.js';
export { describeEventStoreContract, newEvent, uniquePlant, waitFor, withOverrides } from './eventStoreContract.js';
export type { EventStoreFixture } from './eventStoreContract.js';
export { startMosquitto } from './mosquitto.js';
export type { MosquittoHandle } from './mosquitto.js';
export { startNatsServer } from './natsServer.js';
export type { NatsServerHandle } from './natsServer.js';
export { pathSpellings, rawRequest } from './pathSpellings.js';
export type { RawResponse } from './pathSpellings.js';
export { freePort, startServiceProcess } from './processHarness.js';
export { startSmtpCapture } from './smtpCapture.js';
export type { SmtpCapture } from './smtpCapture.js';
export { approvalEmail, eventsOf, eventually, mailsTo, orderEvents, publishReading, startFlowFixture, submitDecision } from './flowFixture.js';
export type { ApprovalEmail, FlowFixture } from './flowFixture.js';
