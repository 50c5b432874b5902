export { findOrder, start } from './application/startMaintenance.js';
export type { OrderIndexEntry } from './application/startMaintenance.js';
export { maintenanceOrderDecider, orderIdFor, orderStatus } from './domain/maintenanceOrder.js';
export type { MaintenanceOrderState, OrderEvent, OrderState, OrderStatus } from './domain/maintenanceOrder.js';
