export { start, workflowIdFor } from './application/startWorkflow.js';
export type { WorkflowServiceOptions } from './application/startWorkflow.js';
export { maintenanceWorkflowDecider, workflowEffects, workflowIds } from './domain/maintenanceWorkflow.js';
export type { ApprovalPolicy, WorkflowEffect, WorkflowEvent, WorkflowInput, WorkflowPhase, WorkflowState } from './domain/maintenanceWorkflow.js';
