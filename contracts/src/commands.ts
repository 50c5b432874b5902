// Commands sent between services over NATS. Each carries what its handler needs to decide without
// a clock or a random source: ids are chosen by the sender, `issuedAt` is the time of the events
// the handler records, and `actor` is who they are attributed to.
import { z } from 'zod';
import { ActorSchema, IsoInstantSchema, TraceParentSchema, TraceStateSchema } from './envelope.js';
import { EntityIdSchema, PersonSchema, ReadingSummarySchema } from './events.js';
import { RESOURCE_TYPES } from './plantConfig.js';

const CorrelationSchema = z.string().min(1).max(128);

function command<const Type extends string, Shape extends z.ZodRawShape>(type: Type, shape: Shape) {
  return z.object({
    type: z.literal(type),
    version: z.literal(1),
    /** Unique per command; a handler that sees it twice records its events once. */
    commandId: CorrelationSchema,
    correlationId: CorrelationSchema,
    /** The event or command that caused this command, if any. */
    causationId: CorrelationSchema.optional(),
    /** The plant whose streams the handler writes; commands are routed by it. */
    plantId: EntityIdSchema,
    issuedAt: IsoInstantSchema,
    actor: ActorSchema,
    /**
     * The span that sent the command (W3C Trace Context), so its handling continues the trace. A
     * malformed value is dropped, never a reason to refuse the command: tracing must not stop work.
     */
    traceparent: TraceParentSchema.optional().catch(undefined),
    tracestate: TraceStateSchema.optional().catch(undefined),
    ...shape,
  });
}

export const OpenMaintenanceOrderSchema = command('OpenMaintenanceOrder', {
  orderId: EntityIdSchema,
  machineId: EntityIdSchema,
  workflowId: EntityIdSchema,
  reason: z.string().min(1).max(400),
  trigger: ReadingSummarySchema,
});
export type OpenMaintenanceOrder = z.infer<typeof OpenMaintenanceOrderSchema>;

export const RequestApprovalSchema = command('RequestApproval', {
  approvalId: EntityIdSchema,
  orderId: EntityIdSchema,
  machineId: EntityIdSchema,
  approver: PersonSchema,
  /** Index of the approver in the plant's escalation list, from 0. */
  level: z.number().int().min(0),
  expiresAt: IsoInstantSchema,
  /** The request this one replaces after a timeout, if it is an escalation. */
  supersedesApprovalId: EntityIdSchema.optional(),
});
export type RequestApproval = z.infer<typeof RequestApprovalSchema>;

export const RecordApprovalDecisionSchema = command('RecordApprovalDecision', {
  approvalId: EntityIdSchema,
  orderId: EntityIdSchema,
  decision: z.enum(['approved', 'rejected']),
  approver: PersonSchema,
  comment: z.string().max(2000).optional(),
  clientAddress: z.string().max(256),
  userAgent: z.string().max(1024),
});
export type RecordApprovalDecision = z.infer<typeof RecordApprovalDecisionSchema>;

export const AllocateResourcesSchema = command('AllocateResources', {
  orderId: EntityIdSchema,
  /** One available Technician and one available Equipment of the plant are allocated. */
  machineId: EntityIdSchema,
});
export type AllocateResources = z.infer<typeof AllocateResourcesSchema>;

export const ReleaseResourcesSchema = command('ReleaseResources', {
  orderId: EntityIdSchema,
});
export type ReleaseResources = z.infer<typeof ReleaseResourcesSchema>;

/** Who the caller says did or asked for it (free text, not verified); the actor is who called. */
const StatedBySchema = z.string().trim().min(1).max(256);

export const CompleteMaintenanceOrderSchema = command('CompleteMaintenanceOrder', {
  orderId: EntityIdSchema,
  /** What was done, in words (the console asks for it). */
  reason: z.string().trim().min(1).max(400).optional(),
  statedBy: StatedBySchema.optional(),
});
export type CompleteMaintenanceOrder = z.infer<typeof CompleteMaintenanceOrderSchema>;

export const CancelMaintenanceOrderSchema = command('CancelMaintenanceOrder', {
  orderId: EntityIdSchema,
  reason: z.string().trim().min(1).max(400),
  statedBy: StatedBySchema.optional(),
});
export type CancelMaintenanceOrder = z.infer<typeof CancelMaintenanceOrderSchema>;

export const RegisterResourceSchema = command('RegisterResource', {
  resourceId: EntityIdSchema,
  resourceType: z.enum(RESOURCE_TYPES),
  name: z.string().min(1).max(200),
});
export type RegisterResource = z.infer<typeof RegisterResourceSchema>;

/** The approver's decision, carried from the approval to the order by the workflow. */
export const RecordOrderDecisionSchema = command('RecordOrderDecision', {
  orderId: EntityIdSchema,
  approvalId: EntityIdSchema,
  decision: z.enum(['approved', 'rejected']),
  approver: PersonSchema,
  decidedAt: IsoInstantSchema,
  comment: z.string().max(2000).optional(),
});
export type RecordOrderDecision = z.infer<typeof RecordOrderDecisionSchema>;

/** No approver decided in time: the order ends Expired. */
export const ExpireMaintenanceOrderSchema = command('ExpireMaintenanceOrder', {
  orderId: EntityIdSchema,
});
export type ExpireMaintenanceOrder = z.infer<typeof ExpireMaintenanceOrderSchema>;

/** Resources allocated a technician and equipment to the order (sent by the resources service). */
export const RecordOrderResourcesAllocatedSchema = command('RecordOrderResourcesAllocated', {
  orderId: EntityIdSchema,
  technicianId: EntityIdSchema,
  equipmentId: EntityIdSchema,
});
export type RecordOrderResourcesAllocated = z.infer<typeof RecordOrderResourcesAllocatedSchema>;

/** The order waits for resources: none of a kind was free (sent by the resources service). */
export const MarkOrderAwaitingResourcesSchema = command('MarkOrderAwaitingResources', {
  orderId: EntityIdSchema,
  missing: z.array(z.enum(RESOURCE_TYPES)).min(1),
});
export type MarkOrderAwaitingResources = z.infer<typeof MarkOrderAwaitingResourcesSchema>;

/** The last approver's time ran out: the pending approval request ends Expired. */
export const ExpireApprovalSchema = command('ExpireApproval', {
  approvalId: EntityIdSchema,
  orderId: EntityIdSchema,
});
export type ExpireApproval = z.infer<typeof ExpireApprovalSchema>;

/** The order no longer needs a decision (it was cancelled): every pending request is withdrawn. */
export const WithdrawApprovalsSchema = command('WithdrawApprovals', {
  orderId: EntityIdSchema,
  /** In words, e.g. `order cancelled`. */
  reason: z.string().min(1).max(400),
});
export type WithdrawApprovals = z.infer<typeof WithdrawApprovalsSchema>;

export const CommandSchema = z.discriminatedUnion('type', [
  OpenMaintenanceOrderSchema,
  RequestApprovalSchema,
  RecordApprovalDecisionSchema,
  AllocateResourcesSchema,
  ReleaseResourcesSchema,
  CompleteMaintenanceOrderSchema,
  CancelMaintenanceOrderSchema,
  RegisterResourceSchema,
  RecordOrderDecisionSchema,
  ExpireMaintenanceOrderSchema,
  ExpireApprovalSchema,
  WithdrawApprovalsSchema,
  RecordOrderResourcesAllocatedSchema,
  MarkOrderAwaitingResourcesSchema,
]);
export type Command = z.infer<typeof CommandSchema>;
export type CommandType = Command['type'];
export type CommandOfType<Type extends CommandType> = Extract<Command, { type: Type }>;

export const COMMAND_TYPES = CommandSchema.options.map((option) => option.shape.type.value) as readonly CommandType[];

export const SERVICE_NAMES = ['ingest', 'workflow', 'maintenance', 'resources', 'approvals', 'projections'] as const;
export type ServiceName = (typeof SERVICE_NAMES)[number];

/** The service that handles each command; commands travel on `commandSubject(plantId, target, type)`. */
export const COMMAND_TARGETS: Readonly<Record<CommandType, ServiceName>> = {
  OpenMaintenanceOrder: 'maintenance',
  CompleteMaintenanceOrder: 'maintenance',
  CancelMaintenanceOrder: 'maintenance',
  RecordOrderDecision: 'maintenance',
  ExpireMaintenanceOrder: 'maintenance',
  ExpireApproval: 'approvals',
  WithdrawApprovals: 'approvals',
  RecordOrderResourcesAllocated: 'maintenance',
  MarkOrderAwaitingResources: 'maintenance',
  RequestApproval: 'approvals',
  RecordApprovalDecision: 'approvals',
  AllocateResources: 'resources',
  ReleaseResources: 'resources',
  RegisterResource: 'resources',
};
