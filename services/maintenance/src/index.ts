export { start } from './application/startMaintenance.js';
export { maintenanceOrderDecider, orderStatus } from './domain/maintenanceOrder.js';
export type { MaintenanceOrderState, OrderEvent, OrderState } from './domain/maintenanceOrder.js';
