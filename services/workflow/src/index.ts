export { start, workflowIdFor } from './application/startWorkflow.js';
export type { WorkflowServiceOptions } from './application/startWorkflow.js';
export { maintenanceWorkflowDecider, workflowIds } from './domain/maintenanceWorkflow.js';
export type { ApprovalPolicy, WorkflowEvent, WorkflowInput, WorkflowPhase, WorkflowState } from './domain/maintenanceWorkflow.js';
export { workflowEffects } from './domain/workflowEffects.js';
export type { WorkflowEffect } from './domain/workflowEffects.js';
