// The projections service, and the read side the `mes` command line (cli/) is built on: the audit
// trail, the rebuild of the reporting tables and the order index. The CLI uses nothing else.
export { createProjectionsService, start } from './application/startProjections.js';
export type { ProjectionsOptions } from './application/startProjections.js';
export { auditMachine, auditOrder, auditOrderWithChain, auditPlantConfigs, AuditSubjectNotFoundError, verifyOrderChains } from './application/audit.js';
export type { ChainVerification, ChainVerifier, CheckedOrderAudit, MachineAudit, OrderAudit, OrderChainCheck, OrderIndex } from './application/audit.js';
export { AUDIT_FORMATS, auditFormatProblem, exportOrderAudit, isAuditFormat, renderAuditFile } from './adapters/auditExport.js';
export type { AuditFile, AuditFileFormat, AuditFormat, ExportContext } from './adapters/auditExport.js';
export { rebuildReportingTables, RebuildError } from './application/rebuildReportingTables.js';
export type { RebuildDeps, RebuildOptions, RebuildProgress, RebuildReport, TelemetryLog } from './application/rebuildReportingTables.js';
export { CHECKPOINTS_TABLE, LIVE_TABLES, REPORTING_MIGRATIONS } from './application/reportingSchema.js';
export { rebuildDeps } from './adapters/rebuildSources.js';
export { formatAuditLine } from './domain/auditTrail.js';
export type { AuditChange, AuditEntry } from './domain/auditTrail.js';
