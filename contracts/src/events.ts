// Domain events: the `data` of stored events (the envelope is in envelope.ts). One schema per
// event with a literal type and version; older versions get an upcaster in EVENT_DECODERS.
// One file on purpose (over 300 lines): every stored event's schema in one place, the contract a
// reader checks at once.
import { z } from 'zod';
import { IsoInstantSchema } from './envelope.js';
import { IDENTIFIER_PATTERN } from './names.js';
import { PlantsConfigSchema, RESOURCE_TYPES, SIGNATURE_METHODS } from './plantConfig.js';
import type { PlantConfig } from './plantConfig.js';
import {
  MACHINE_STATUSES,
  MachineConditionSchema,
  QUALITY_TRENDS,
  TelemetryReadingSchema,
  describeValidationIssues,
  requiredOr,
  validationIssues,
} from './telemetry.js';
import type { TelemetryReading } from './telemetry.js';

/** Ids of plants, machines, orders, approvals, resources, workflows: usable in stream names. */
export const EntityIdSchema = z
  .string({ error: requiredOr('must be a string') })
  .regex(IDENTIFIER_PATTERN, { error: 'must be 1 to 64 characters of A-Z a-z 0-9 _ -' });
export const EmailSchema = z.email().max(256);
export const PersonSchema = z.object({ email: EmailSchema, name: z.string().min(1).max(200) });
export type Person = z.infer<typeof PersonSchema>;
/** Free text a person wrote; the Approvals table's Comment column holds 2000 characters. */
const CommentSchema = z.string().max(2000);

/** What triggered an order or workflow: the reading without its ingest bookkeeping. */
export const ReadingSummarySchema = z.object({
  machineStatus: z.enum(MACHINE_STATUSES),
  qualityTrend: z.enum(QUALITY_TRENDS),
  productionTarget: z.number().min(0),
  productionActual: z.number().min(0),
  timestamp: IsoInstantSchema,
  messageId: z.string().min(1).max(128).optional(),
});
export type ReadingSummary = z.infer<typeof ReadingSummarySchema>;

export function readingSummaryOf(reading: TelemetryReading): ReadingSummary {
  const summary: ReadingSummary = {
    machineStatus: reading.machineStatus,
    qualityTrend: reading.qualityTrend,
    productionTarget: reading.productionTarget,
    productionActual: reading.productionActual,
    timestamp: reading.timestamp,
  };
  if (reading.messageId !== undefined) summary.messageId = reading.messageId;
  return summary;
}

function event<const Type extends string, Data extends z.ZodType, const Version extends number = 1>(type: Type, data: Data, version: Version = 1 as Version) {
  return z.object({ type: z.literal(type), version: z.literal(version), data });
}

// Machine

export const MachineReadingRecordedSchema = event('MachineReadingRecorded', TelemetryReadingSchema);
export type MachineReadingRecorded = z.infer<typeof MachineReadingRecordedSchema>;

export const MachineStatusChangedSchema = event('MachineStatusChanged', z.object({
  plantId: EntityIdSchema,
  machineId: EntityIdSchema,
  previous: MachineConditionSchema.nullable(),
  current: MachineConditionSchema,
  reading: TelemetryReadingSchema,
}));
export type MachineStatusChanged = z.infer<typeof MachineStatusChangedSchema>;

// Maintenance order lifecycle

export const MaintenanceOrderOpenedSchema = event('MaintenanceOrderOpened', z.object({
  orderId: EntityIdSchema,
  plantId: EntityIdSchema,
  machineId: EntityIdSchema,
  workflowId: EntityIdSchema,
  /** In words, e.g. `Machine fault`; the MaintenanceOrders table's Reason. */
  reason: z.string().min(1).max(400),
  trigger: ReadingSummarySchema,
  openedAt: IsoInstantSchema,
}));
export type MaintenanceOrderOpened = z.infer<typeof MaintenanceOrderOpenedSchema>;

export const MaintenanceOrderApprovalRequestedSchema = event('MaintenanceOrderApprovalRequested', z.object({
  orderId: EntityIdSchema,
  approvalId: EntityIdSchema,
  approver: PersonSchema,
  /** 0 for the first approver, 1 after the first escalation, and so on. */
  level: z.number().int().min(0),
  requestedAt: IsoInstantSchema,
}));
export type MaintenanceOrderApprovalRequested = z.infer<typeof MaintenanceOrderApprovalRequestedSchema>;

const OrderDecisionSchema = z.object({
  orderId: EntityIdSchema,
  approvalId: EntityIdSchema,
  decidedBy: EmailSchema,
  decidedByName: z.string().min(1).max(200).optional(),
  decidedAt: IsoInstantSchema,
  comment: CommentSchema.optional(),
});

export const MaintenanceOrderApprovedSchema = event('MaintenanceOrderApproved', OrderDecisionSchema);
export type MaintenanceOrderApproved = z.infer<typeof MaintenanceOrderApprovedSchema>;

export const MaintenanceOrderRejectedSchema = event('MaintenanceOrderRejected', OrderDecisionSchema);
export type MaintenanceOrderRejected = z.infer<typeof MaintenanceOrderRejectedSchema>;

export const MaintenanceOrderExpiredSchema = event('MaintenanceOrderExpired', z.object({
  orderId: EntityIdSchema,
  expiredAt: IsoInstantSchema,
}));
export type MaintenanceOrderExpired = z.infer<typeof MaintenanceOrderExpiredSchema>;

export const MaintenanceOrderAwaitingResourcesSchema = event('MaintenanceOrderAwaitingResources', z.object({
  orderId: EntityIdSchema,
  since: IsoInstantSchema,
  missing: z.array(z.enum(RESOURCE_TYPES)).min(1),
}));
export type MaintenanceOrderAwaitingResources = z.infer<typeof MaintenanceOrderAwaitingResourcesSchema>;

export const MaintenanceOrderResourcesAllocatedSchema = event('MaintenanceOrderResourcesAllocated', z.object({
  orderId: EntityIdSchema,
  technicianId: EntityIdSchema,
  equipmentId: EntityIdSchema,
  allocatedAt: IsoInstantSchema,
}));
export type MaintenanceOrderResourcesAllocated = z.infer<typeof MaintenanceOrderResourcesAllocatedSchema>;

export const MaintenanceOrderCompletedSchema = event('MaintenanceOrderCompleted', z.object({
  orderId: EntityIdSchema,
  completedAt: IsoInstantSchema,
  /** Actor id: an email for a person, a service or token name otherwise. */
  completedBy: z.string().min(1).max(256),
  /** What was done, in words, when the caller said. */
  reason: z.string().min(1).max(400).optional(),
  /** Who the caller said did the work (free text from the request, not verified). */
  statedBy: z.string().min(1).max(256).optional(),
}));
export type MaintenanceOrderCompleted = z.infer<typeof MaintenanceOrderCompletedSchema>;

export const MaintenanceOrderCancelledSchema = event('MaintenanceOrderCancelled', z.object({
  orderId: EntityIdSchema,
  cancelledAt: IsoInstantSchema,
  cancelledBy: z.string().min(1).max(256),
  reason: z.string().min(1).max(400),
  /** Who the caller said asked for it (free text from the request, not verified). */
  statedBy: z.string().min(1).max(256).optional(),
}));
export type MaintenanceOrderCancelled = z.infer<typeof MaintenanceOrderCancelledSchema>;

// Approvals

const ApprovalRequestFields = {
  approvalId: EntityIdSchema,
  orderId: EntityIdSchema,
  plantId: EntityIdSchema,
  machineId: EntityIdSchema,
  approver: PersonSchema,
  /** Index of the approver in the plant's escalation list, from 0. */
  level: z.number().int().min(0),
  requestedAt: IsoInstantSchema,
};

/**
 * Version 3: the request names how its decision must be signed (`signatureMethod`, the plant's
 * CONTRACT §3 setting when the request was made), so every copy of the approvals service asks for
 * the same components whatever configuration it runs, and a request keeps the signature it was
 * made with when the plant's setting changes. Version 2 named the deadline for what it is, the
 * decide-by time (CONTRACT §4): a decision must be recorded before it, then the request escalates
 * or expires. Version 1 called it `expiresAt`, which readers took for the links' lifetime.
 */
export const ApprovalRequestedSchema = event(
  'ApprovalRequested',
  z.object({ ...ApprovalRequestFields, decideBy: IsoInstantSchema, signatureMethod: z.enum(SIGNATURE_METHODS) }),
  3,
);
export type ApprovalRequested = z.infer<typeof ApprovalRequestedSchema>;

/** Version 2 of ApprovalRequested, as stored before version 3; read through its upcaster. */
export const ApprovalRequestedV2DataSchema = z.object({ ...ApprovalRequestFields, decideBy: IsoInstantSchema });
/** Version 1 of ApprovalRequested, as stored before version 2; read through its upcaster. */
export const ApprovalRequestedV1DataSchema = z.object({ ...ApprovalRequestFields, expiresAt: IsoInstantSchema });

/** Requests made before version 3 were decided with the signed link alone: no plant could ask for more. */
function upcastApprovalRequestedV2(data: z.infer<typeof ApprovalRequestedV2DataSchema>): ApprovalRequested['data'] {
  return { ...data, signatureMethod: 'link' };
}

function upcastApprovalRequestedV1(data: z.infer<typeof ApprovalRequestedV1DataSchema>): ApprovalRequested['data'] {
  const { expiresAt, ...rest } = data;
  return upcastApprovalRequestedV2({ ...rest, decideBy: expiresAt });
}

export const ApprovalEmailSentSchema = event('ApprovalEmailSent', z.object({
  approvalId: EntityIdSchema,
  to: EmailSchema,
  /** The mail server's Message-ID, when it returns one. */
  messageId: z.string().min(1).max(998).optional(),
  sentAt: IsoInstantSchema,
}));
export type ApprovalEmailSent = z.infer<typeof ApprovalEmailSentSchema>;

const ApprovalDecisionFields = {
  approvalId: EntityIdSchema,
  orderId: EntityIdSchema,
  decision: z.enum(['approved', 'rejected']),
  approver: PersonSchema,
  decidedAt: IsoInstantSchema,
  comment: CommentSchema.optional(),
  clientAddress: z.string().max(256),
  /** Empty when the browser sent none. */
  userAgent: z.string().max(1024),
};

/** The Meaning column of the Approvals table holds 200 characters (CONTRACT §2). */
export const MAX_SIGNATURE_MEANING_LENGTH = 200;

/**
 * What a signature on an approval decision means, in words (CONTRACT §4), e.g. `Approved
 * maintenance order MO_1 for machine M-1`. Without the machine (decisions stored before
 * ApprovalDecided v2 do not name it) the sentence ends after the order.
 */
export function approvalSignatureMeaning(decision: 'approved' | 'rejected', orderId: string, machineId?: string): string {
  return `${decision === 'approved' ? 'Approved' : 'Rejected'} maintenance order ${orderId}${machineId === undefined ? '' : ` for machine ${machineId}`}`;
}

/**
 * The manifestation of an electronic signature (21 CFR 11.50), bound to its record by being part of
 * the decision's event (11.70): who signed (printed name and email), when (UTC) and what it means.
 * `method` says which components were verified: the signed link alone, or the link and the
 * approver's PIN (11.200). The PIN itself is never part of any event.
 */
export const ElectronicSignatureSchema = z.object({
  printedName: z.string().min(1).max(200),
  email: EmailSchema,
  signedAt: IsoInstantSchema,
  meaning: z.string().min(1).max(MAX_SIGNATURE_MEANING_LENGTH),
  method: z.enum(SIGNATURE_METHODS),
});
export type ElectronicSignature = z.infer<typeof ElectronicSignatureSchema>;

/** Version 2: the decision carries its signature's manifestation (`signature`). */
export const ApprovalDecidedSchema = event('ApprovalDecided', z.object({ ...ApprovalDecisionFields, signature: ElectronicSignatureSchema }), 2);
export type ApprovalDecided = z.infer<typeof ApprovalDecidedSchema>;

/** Version 1 of ApprovalDecided, as stored before version 2; read through its upcaster. */
export const ApprovalDecidedV1DataSchema = z.object(ApprovalDecisionFields);

/**
 * A version 1 decision was signed with the link alone, by the request's approver, at `decidedAt`;
 * its meaning follows from the decision and the order (the confirmation page said which), but
 * version 1 does not name the machine, so the derived meaning ends after the order.
 */
function upcastApprovalDecidedV1(data: z.infer<typeof ApprovalDecidedV1DataSchema>): ApprovalDecided['data'] {
  return {
    ...data,
    signature: {
      printedName: data.approver.name,
      email: data.approver.email,
      signedAt: data.decidedAt,
      meaning: approvalSignatureMeaning(data.decision, data.orderId),
      method: 'link',
    },
  };
}

/**
 * A decision was submitted with a PIN that is not the approver's (`link+pin` plants): nothing was
 * decided. `consecutiveWrongPins` counts this approver's wrong PINs in a row, across approvals,
 * since their last correct one or lock. The PIN that was tried is never recorded.
 */
export const ApprovalSignatureFailedSchema = event('ApprovalSignatureFailed', z.object({
  approvalId: EntityIdSchema,
  orderId: EntityIdSchema,
  /** The approver the link was issued to. */
  approver: PersonSchema,
  /** What the submission would have decided. */
  decision: z.enum(['approved', 'rejected']),
  reason: z.enum(['wrong_pin']),
  consecutiveWrongPins: z.number().int().min(1),
  failedAt: IsoInstantSchema,
  clientAddress: z.string().max(256),
  userAgent: z.string().max(1024),
}));
export type ApprovalSignatureFailed = z.infer<typeof ApprovalSignatureFailedSchema>;

/**
 * Too many wrong PINs in a row: the approver cannot sign any decision until `lockedUntil`. Recorded
 * in the stream of the approval whose submission locked it.
 */
export const ApproverSigningLockedSchema = event('ApproverSigningLocked', z.object({
  approvalId: EntityIdSchema,
  orderId: EntityIdSchema,
  approver: PersonSchema,
  wrongPins: z.number().int().min(1),
  lockedAt: IsoInstantSchema,
  lockedUntil: IsoInstantSchema,
}));
export type ApproverSigningLocked = z.infer<typeof ApproverSigningLockedSchema>;

export const ApprovalEscalatedSchema = event('ApprovalEscalated', z.object({
  /** The approval request this escalation supersedes. */
  approvalId: EntityIdSchema,
  orderId: EntityIdSchema,
  nextApprover: PersonSchema,
  level: z.number().int().min(0),
  escalatedAt: IsoInstantSchema,
}));
export type ApprovalEscalated = z.infer<typeof ApprovalEscalatedSchema>;

export const ApprovalExpiredSchema = event('ApprovalExpired', z.object({
  approvalId: EntityIdSchema,
  orderId: EntityIdSchema,
  expiredAt: IsoInstantSchema,
}));
export type ApprovalExpired = z.infer<typeof ApprovalExpiredSchema>;

/** A pending request that no longer needs a decision (its order ended); its links change nothing. */
export const ApprovalWithdrawnSchema = event('ApprovalWithdrawn', z.object({
  approvalId: EntityIdSchema,
  orderId: EntityIdSchema,
  reason: z.string().min(1).max(400),
  withdrawnAt: IsoInstantSchema,
}));
export type ApprovalWithdrawn = z.infer<typeof ApprovalWithdrawnSchema>;

// Resources

export const ResourceRegisteredSchema = event('ResourceRegistered', z.object({
  resourceId: EntityIdSchema,
  plantId: EntityIdSchema,
  resourceType: z.enum(RESOURCE_TYPES),
  name: z.string().min(1).max(200),
  registeredAt: IsoInstantSchema,
}));
export type ResourceRegistered = z.infer<typeof ResourceRegisteredSchema>;

export const ResourceMarkedUnavailableSchema = event('ResourceMarkedUnavailable', z.object({
  resourceId: EntityIdSchema,
  reason: z.string().min(1).max(400),
  at: IsoInstantSchema,
}));
export type ResourceMarkedUnavailable = z.infer<typeof ResourceMarkedUnavailableSchema>;

export const ResourceAllocatedSchema = event('ResourceAllocated', z.object({
  resourceId: EntityIdSchema,
  orderId: EntityIdSchema,
  at: IsoInstantSchema,
}));
export type ResourceAllocated = z.infer<typeof ResourceAllocatedSchema>;

export const ResourceReleasedSchema = event('ResourceReleased', z.object({
  resourceId: EntityIdSchema,
  orderId: EntityIdSchema,
  at: IsoInstantSchema,
}));
export type ResourceReleased = z.infer<typeof ResourceReleasedSchema>;

/** A resource back in the plant configuration after it had been left out (marked unavailable). */
export const ResourceMarkedAvailableSchema = event('ResourceMarkedAvailable', z.object({
  resourceId: EntityIdSchema,
  at: IsoInstantSchema,
}));
export type ResourceMarkedAvailable = z.infer<typeof ResourceMarkedAvailableSchema>;

// Resource allocation queue: one stream per plant (services/resources) in which the allocation of
// resources to orders is decided under optimistic concurrency, oldest approval first.

/** An approved order asked for a technician and equipment; it waits until it gets both. */
export const OrderQueuedForResourcesSchema = event('OrderQueuedForResources', z.object({
  orderId: EntityIdSchema,
  plantId: EntityIdSchema,
  machineId: EntityIdSchema,
  /** When allocation was first requested for the order: the queue serves the oldest first. */
  approvedAt: IsoInstantSchema,
  /** The order's workflow; commands sent about the order carry it as their correlation id. */
  correlationId: z.string().min(1).max(128),
}));
export type OrderQueuedForResources = z.infer<typeof OrderQueuedForResourcesSchema>;

/** The queue gave the order this technician and this equipment; booking them on the resources follows. */
export const OrderResourcesReservedSchema = event('OrderResourcesReserved', z.object({
  orderId: EntityIdSchema,
  technicianId: EntityIdSchema,
  equipmentId: EntityIdSchema,
  reservedAt: IsoInstantSchema,
}));
export type OrderResourcesReserved = z.infer<typeof OrderResourcesReservedSchema>;

/** Both reserved resources are booked for the order and the maintenance order was told. */
export const OrderResourcesConfirmedSchema = event('OrderResourcesConfirmed', z.object({
  orderId: EntityIdSchema,
  technicianId: EntityIdSchema,
  equipmentId: EntityIdSchema,
  confirmedAt: IsoInstantSchema,
}));
export type OrderResourcesConfirmed = z.infer<typeof OrderResourcesConfirmedSchema>;

/**
 * The order's resources were released (it ended), or it stopped waiting; the ids are what it held
 * (null while it waited, or when it was released before it asked). It never enters the queue again.
 */
export const OrderLeftResourceQueueSchema = event('OrderLeftResourceQueue', z.object({
  orderId: EntityIdSchema,
  technicianId: EntityIdSchema.nullable(),
  equipmentId: EntityIdSchema.nullable(),
  leftAt: IsoInstantSchema,
}));
export type OrderLeftResourceQueue = z.infer<typeof OrderLeftResourceQueueSchema>;

/** A resource left out of the plant configuration: the queue reserves it for no further order. */
export const ResourceWithdrawnFromAllocationSchema = event('ResourceWithdrawnFromAllocation', z.object({
  resourceId: EntityIdSchema,
  at: IsoInstantSchema,
}));
export type ResourceWithdrawnFromAllocation = z.infer<typeof ResourceWithdrawnFromAllocationSchema>;

/** A withdrawn resource is back in the plant configuration: the queue may reserve it again. */
export const ResourceReturnedToAllocationSchema = event('ResourceReturnedToAllocation', z.object({
  resourceId: EntityIdSchema,
  at: IsoInstantSchema,
}));
export type ResourceReturnedToAllocation = z.infer<typeof ResourceReturnedToAllocationSchema>;

// Workflow (the saga that runs one incident from rule match to outcome)

const WorkflowStartedFields = {
  workflowId: EntityIdSchema,
  plantId: EntityIdSchema,
  machineId: EntityIdSchema,
  ruleIndex: z.number().int().min(0),
  reason: z.string().min(1).max(400),
  triggeredBy: ReadingSummarySchema,
  startedAt: IsoInstantSchema,
};

/** Whom a workflow asks, in order of escalation, and how long each has (CONTRACT §3 approvers, approvalTimeout). */
export const ApprovalPolicySchema = z.object({
  approvers: z.array(PersonSchema).min(1),
  approvalTimeoutMs: z.number().int().positive(),
});
export type ApprovalPolicy = z.infer<typeof ApprovalPolicySchema>;

/**
 * Version 2: the workflow names the plant configuration version it runs under (CONTRACT §3) and
 * records that version's approval policy, so it finishes under it whatever is reloaded meanwhile,
 * and its own stream says whom it escalates to. Version 1 knew neither (null when upcast): such a
 * workflow follows the policy of the configuration its service was started with.
 */
export const WorkflowStartedSchema = event('WorkflowStarted', z.object({
  ...WorkflowStartedFields,
  /** The recorded configuration version of the plant; null when none was recorded (or v1). */
  configVersion: z.number().int().min(1).nullable(),
  /** The approval policy of that configuration; null for a workflow started by version 1. */
  policy: ApprovalPolicySchema.nullable(),
}), 2);
export type WorkflowStarted = z.infer<typeof WorkflowStartedSchema>;

/** Version 1 of WorkflowStarted, as stored before version 2; read through its upcaster. */
export const WorkflowStartedV1DataSchema = z.object(WorkflowStartedFields);

function upcastWorkflowStartedV1(data: z.infer<typeof WorkflowStartedV1DataSchema>): WorkflowStarted['data'] {
  return { ...data, configVersion: null, policy: null };
}

export const WorkflowStepRecordedSchema = event('WorkflowStepRecorded', z.object({
  workflowId: EntityIdSchema,
  step: z.string().min(1).max(128),
  at: IsoInstantSchema,
  detail: z.string().max(2000).optional(),
  /** The approval level the step concerns, where it concerns one. */
  level: z.number().int().min(0).optional(),
  /** The approval request the step concerns, where it concerns one. */
  approvalId: EntityIdSchema.optional(),
  /** The approver's decision, on the step that receives it. */
  decision: z.object({
    decision: z.enum(['approved', 'rejected']),
    approver: PersonSchema,
    decidedAt: IsoInstantSchema,
    comment: CommentSchema.optional(),
  }).optional(),
}));
export type WorkflowStepRecorded = z.infer<typeof WorkflowStepRecordedSchema>;

export const WorkflowTimeoutScheduledSchema = event('WorkflowTimeoutScheduled', z.object({
  workflowId: EntityIdSchema,
  timeoutId: EntityIdSchema,
  dueAt: IsoInstantSchema,
  /** What happens when it fires, e.g. `approvalTimeout`. */
  purpose: z.string().min(1).max(128),
}));
export type WorkflowTimeoutScheduled = z.infer<typeof WorkflowTimeoutScheduledSchema>;

export const WORKFLOW_OUTCOMES = ['Completed', 'Rejected', 'Expired', 'Cancelled'] as const;
export type WorkflowOutcome = (typeof WORKFLOW_OUTCOMES)[number];

export const WorkflowCompletedSchema = event('WorkflowCompleted', z.object({
  workflowId: EntityIdSchema,
  outcome: z.enum(WORKFLOW_OUTCOMES),
  at: IsoInstantSchema,
}));
export type WorkflowCompleted = z.infer<typeof WorkflowCompletedSchema>;

// Plant configuration versions (CONTRACT §3: each applied version is in the event log)

/** One plant's entry of the configuration file as validated, without the values derived from it. */
export const PlantConfigEntrySchema = PlantsConfigSchema.shape.plants.valueType.in;
export type PlantConfigEntry = z.infer<typeof PlantConfigEntrySchema>;

/** A recorded plant configuration as the services use it (with the derived values, e.g. approvalTimeoutMs). */
export function plantConfigOf(entry: PlantConfigEntry): PlantConfig {
  return PlantsConfigSchema.shape.plants.valueType.parse(entry);
}

/**
 * One difference between two versions of a plant's configuration. `path` is the key path, e.g.
 * `approvers.1.email` or `approvalTimeout`; no `before`: added; no `after`: removed.
 */
export const ConfigChangeSchema = z.object({
  path: z.string().min(1).max(400),
  before: z.json().optional(),
  after: z.json().optional(),
});
export type ConfigChange = z.infer<typeof ConfigChangeSchema>;

/**
 * A version of one plant's configuration was applied (by `mes config reload`, or a service that
 * started with a changed file; the envelope's actor says who). It holds the whole configuration, so
 * any copy rebuilds it from the log alone, and what changed since the version before (for the first
 * version: every key, as added). Incidents that start afterwards run under it.
 */
export const PlantConfigVersionRecordedSchema = event('PlantConfigVersionRecorded', z.object({
  plantId: EntityIdSchema,
  /** 1 for the plant's first recorded version, then one more each time. */
  version: z.number().int().min(1),
  config: PlantConfigEntrySchema,
  changes: z.array(ConfigChangeSchema),
  /** The file it was read from (MES_CONFIG as the recording process saw it). */
  source: z.string().min(1).max(1024),
  /** How it was applied, e.g. `mes config reload` or `start-up of workflow`. */
  via: z.string().min(1).max(200),
  recordedAt: IsoInstantSchema,
}));
export type PlantConfigVersionRecorded = z.infer<typeof PlantConfigVersionRecordedSchema>;

export const DomainEventSchema = z.discriminatedUnion('type', [
  MachineReadingRecordedSchema,
  MachineStatusChangedSchema,
  MaintenanceOrderOpenedSchema,
  MaintenanceOrderApprovalRequestedSchema,
  MaintenanceOrderApprovedSchema,
  MaintenanceOrderRejectedSchema,
  MaintenanceOrderExpiredSchema,
  MaintenanceOrderAwaitingResourcesSchema,
  MaintenanceOrderResourcesAllocatedSchema,
  MaintenanceOrderCompletedSchema,
  MaintenanceOrderCancelledSchema,
  ApprovalRequestedSchema,
  ApprovalEmailSentSchema,
  ApprovalDecidedSchema,
  ApprovalEscalatedSchema,
  ApprovalExpiredSchema,
  ApprovalWithdrawnSchema,
  ApprovalSignatureFailedSchema,
  ApproverSigningLockedSchema,
  ResourceRegisteredSchema,
  ResourceMarkedUnavailableSchema,
  ResourceAllocatedSchema,
  ResourceReleasedSchema,
  ResourceMarkedAvailableSchema,
  OrderQueuedForResourcesSchema,
  OrderResourcesReservedSchema,
  OrderResourcesConfirmedSchema,
  OrderLeftResourceQueueSchema,
  ResourceWithdrawnFromAllocationSchema,
  ResourceReturnedToAllocationSchema,
  WorkflowStartedSchema,
  WorkflowStepRecordedSchema,
  WorkflowTimeoutScheduledSchema,
  WorkflowCompletedSchema,
  PlantConfigVersionRecordedSchema,
]);
export type DomainEvent = z.infer<typeof DomainEventSchema>;
export type DomainEventType = DomainEvent['type'];
export type DomainEventOfType<Type extends DomainEventType> = Extract<DomainEvent, { type: Type }>;
export type DomainEventData<Type extends DomainEventType> = DomainEventOfType<Type>['data'];

/** Turns stored data of one version into the current data, or throws a ZodError. */
type EventDecoder<Type extends DomainEventType> = (data: unknown) => DomainEventData<Type>;

function currentVersion<Type extends DomainEventType>(schema: { shape: { data: z.ZodType<DomainEventData<Type>> } }): EventDecoder<Type> {
  return (data) => schema.shape.data.parse(data, { reportInput: true });
}

/**
 * Every stored type and version the system can read. A new version N adds its schema as the
 * current one and turns the old entry into `(data) => upcast(OldSchema.parse(data))`.
 */
const EVENT_DECODERS: { readonly [Type in DomainEventType]: Readonly<Record<number, EventDecoder<Type>>> } = {
  MachineReadingRecorded: { 1: currentVersion(MachineReadingRecordedSchema) },
  MachineStatusChanged: { 1: currentVersion(MachineStatusChangedSchema) },
  MaintenanceOrderOpened: { 1: currentVersion(MaintenanceOrderOpenedSchema) },
  MaintenanceOrderApprovalRequested: { 1: currentVersion(MaintenanceOrderApprovalRequestedSchema) },
  MaintenanceOrderApproved: { 1: currentVersion(MaintenanceOrderApprovedSchema) },
  MaintenanceOrderRejected: { 1: currentVersion(MaintenanceOrderRejectedSchema) },
  MaintenanceOrderExpired: { 1: currentVersion(MaintenanceOrderExpiredSchema) },
  MaintenanceOrderAwaitingResources: { 1: currentVersion(MaintenanceOrderAwaitingResourcesSchema) },
  MaintenanceOrderResourcesAllocated: { 1: currentVersion(MaintenanceOrderResourcesAllocatedSchema) },
  MaintenanceOrderCompleted: { 1: currentVersion(MaintenanceOrderCompletedSchema) },
  MaintenanceOrderCancelled: { 1: currentVersion(MaintenanceOrderCancelledSchema) },
  ApprovalRequested: {
    1: (data) => upcastApprovalRequestedV1(ApprovalRequestedV1DataSchema.parse(data, { reportInput: true })),
    2: (data) => upcastApprovalRequestedV2(ApprovalRequestedV2DataSchema.parse(data, { reportInput: true })),
    3: currentVersion(ApprovalRequestedSchema),
  },
  ApprovalEmailSent: { 1: currentVersion(ApprovalEmailSentSchema) },
  ApprovalDecided: { 1: (data) => upcastApprovalDecidedV1(ApprovalDecidedV1DataSchema.parse(data, { reportInput: true })), 2: currentVersion(ApprovalDecidedSchema) },
  ApprovalEscalated: { 1: currentVersion(ApprovalEscalatedSchema) },
  ApprovalExpired: { 1: currentVersion(ApprovalExpiredSchema) },
  ApprovalWithdrawn: { 1: currentVersion(ApprovalWithdrawnSchema) },
  ApprovalSignatureFailed: { 1: currentVersion(ApprovalSignatureFailedSchema) },
  ApproverSigningLocked: { 1: currentVersion(ApproverSigningLockedSchema) },
  ResourceRegistered: { 1: currentVersion(ResourceRegisteredSchema) },
  ResourceMarkedUnavailable: { 1: currentVersion(ResourceMarkedUnavailableSchema) },
  ResourceAllocated: { 1: currentVersion(ResourceAllocatedSchema) },
  ResourceReleased: { 1: currentVersion(ResourceReleasedSchema) },
  ResourceMarkedAvailable: { 1: currentVersion(ResourceMarkedAvailableSchema) },
  OrderQueuedForResources: { 1: currentVersion(OrderQueuedForResourcesSchema) },
  OrderResourcesReserved: { 1: currentVersion(OrderResourcesReservedSchema) },
  OrderResourcesConfirmed: { 1: currentVersion(OrderResourcesConfirmedSchema) },
  OrderLeftResourceQueue: { 1: currentVersion(OrderLeftResourceQueueSchema) },
  ResourceWithdrawnFromAllocation: { 1: currentVersion(ResourceWithdrawnFromAllocationSchema) },
  ResourceReturnedToAllocation: { 1: currentVersion(ResourceReturnedToAllocationSchema) },
  WorkflowStarted: { 1: (data) => upcastWorkflowStartedV1(WorkflowStartedV1DataSchema.parse(data, { reportInput: true })), 2: currentVersion(WorkflowStartedSchema) },
  WorkflowStepRecorded: { 1: currentVersion(WorkflowStepRecordedSchema) },
  WorkflowTimeoutScheduled: { 1: currentVersion(WorkflowTimeoutScheduledSchema) },
  WorkflowCompleted: { 1: currentVersion(WorkflowCompletedSchema) },
  PlantConfigVersionRecorded: { 1: currentVersion(PlantConfigVersionRecordedSchema) },
};

/** The version new events are written with, per type: the version of its schema. */
export const CURRENT_EVENT_VERSIONS: { readonly [Type in DomainEventType]: DomainEventOfType<Type>['version'] } = Object.fromEntries(
  DomainEventSchema.options.map((schema) => [schema.shape.type.value, schema.shape.version.value]),
) as { [Type in DomainEventType]: DomainEventOfType<Type>['version'] };

export const DOMAIN_EVENT_TYPES = Object.keys(EVENT_DECODERS) as readonly DomainEventType[];

export function isDomainEventType(type: string): type is DomainEventType {
  return Object.hasOwn(EVENT_DECODERS, type);
}

export type EventDecodeErrorCode = 'UNKNOWN_EVENT_TYPE' | 'UNKNOWN_EVENT_VERSION' | 'INVALID_EVENT_DATA';

export class EventDecodeError extends Error {
  override readonly name = 'EventDecodeError';
  constructor(readonly code: EventDecodeErrorCode, message: string) {
    super(message);
  }
}

/**
 * Validates a stored event's data for its type and version and returns it as the current version.
 * Throws EventDecodeError for an unknown type or version or for data that does not fit.
 */
export function parseDomainEvent(type: string, version: number, data: unknown): DomainEvent {
  if (!isDomainEventType(type)) {
    throw new EventDecodeError('UNKNOWN_EVENT_TYPE', `unknown event type ${JSON.stringify(type)}; this build knows ${DOMAIN_EVENT_TYPES.join(', ')}`);
  }
  const decoders: Readonly<Record<number, (data: unknown) => unknown>> = EVENT_DECODERS[type];
  const decode = Object.hasOwn(decoders, version) ? decoders[version] : undefined;
  if (decode === undefined) {
    const known = Object.keys(decoders).join(', ');
    throw new EventDecodeError('UNKNOWN_EVENT_VERSION', `event type ${type} has no version ${String(version)} (known versions: ${known}); is this build older than the one that wrote it?`);
  }
  try {
    return { type, version: CURRENT_EVENT_VERSIONS[type], data: decode(data) } as DomainEvent;
  } catch (error) {
    if (!(error instanceof z.ZodError)) throw error;
    throw new EventDecodeError('INVALID_EVENT_DATA', `${type} v${String(version)} data is invalid: ${describeValidationIssues(validationIssues(error))}`);
  }
}
