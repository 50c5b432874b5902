// When a machine's condition counts as changed: its status, its quality trend, or which side of
// each of its plant's `productionRatioBelow` thresholds its output is on (the band the rules look
// at). Output moving within a band the rules do not distinguish is no change: re-evaluating the
// rules could not give another answer, and each change costs a KV write and an event.
import { machineConditionOf, productionRatio } from '@mes/contracts';
import type { MachineCondition, PlantConfig, PlantsConfig, TelemetryReading } from '@mes/contracts';

/** A machine's condition as ingest compares it: contracts' condition plus the plant-specific production edge. */
export interface ObservedCondition {
  condition: MachineCondition;
  /**
   * The lowest `productionRatioBelow` threshold of the plant's rules that the ratio is below; null
   * when the ratio is at or above every threshold, or unknown (target 0).
   */
  productionBelow: number | null;
}

type ConditionInput = Pick<TelemetryReading, 'machineStatus' | 'qualityTrend' | 'productionTarget' | 'productionActual'>;

/** Ascending, distinct production thresholds of one plant's rules. */
export function productionEdgesFor(plant: Pick<PlantConfig, 'rules'>): number[] {
  const edges = new Set<number>();
  for (const rule of plant.rules) {
    if (rule.when.productionRatioBelow !== undefined) edges.add(rule.when.productionRatioBelow);
  }
  return [...edges].sort((a, b) => a - b);
}

/** `productionEdgesFor` for every plant of the configuration, by plant id. */
export function productionEdgesByPlant(plants: PlantsConfig): Map<string, number[]> {
  return new Map(Object.entries(plants.plants).map(([plantId, plant]) => [plantId, productionEdgesFor(plant)]));
}

export function observeCondition(reading: ConditionInput, edges: readonly number[]): ObservedCondition {
  const ratio = productionRatio(reading);
  const productionBelow = ratio === null ? null : (edges.find((edge) => ratio < edge) ?? null);
  return { condition: machineConditionOf(reading), productionBelow };
}

export function sameCondition(a: ObservedCondition, b: ObservedCondition): boolean {
  return (
    a.condition.machineStatus === b.condition.machineStatus &&
    a.condition.qualityTrend === b.condition.qualityTrend &&
    a.productionBelow === b.productionBelow
  );
}

export type ConditionDecision =
  | { changed: false; current: ObservedCondition }
  | { changed: true; previous: ObservedCondition | null; current: ObservedCondition };

/** Reading times (ISO instants) of the reading that set the machine's last condition and of the new one. */
export interface ReadingTimes {
  previousReadingAt: string;
  readingAt: string;
}

/**
 * A machine seen for the first time (`previous` null) has changed condition too. A reading not
 * newer than the one that set the last condition changes nothing (`times`): copies and MQTT
 * redeliveries hand a machine's readings over out of order (a normal reading queued for a killed
 * copy arrives after the fault the device sent next), and a repeat of that very reading must not
 * report its change a second time.
 */
export function decideConditionChange(previous: ObservedCondition | null, reading: ConditionInput, edges: readonly number[], times?: ReadingTimes): ConditionDecision {
  const current = observeCondition(reading, edges);
  if (previous !== null && times !== undefined && notAfter(times.readingAt, times.previousReadingAt)) return { changed: false, current };
  if (previous !== null && sameCondition(previous, current)) return { changed: false, current };
  return { changed: true, previous, current };
}

/**
 * Whether instant `a` is not after `b`. Two in toISOString's form with a four-digit year
 * (`2026-11-25T10:00:00.000Z`, which is what readings carry) compare as text, without parsing.
 */
export function notAfter(a: string, b: string): boolean {
  if (a.length === 24 && b.length === 24 && isDigit(a.charCodeAt(0)) && isDigit(b.charCodeAt(0)) && a.endsWith('Z') && b.endsWith('Z')) return a <= b;
  return Date.parse(a) <= Date.parse(b);
}

function isDigit(code: number): boolean {
  return code >= 48 && code <= 57;
}
