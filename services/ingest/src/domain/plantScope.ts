// Which readings this ingest instance accepts: from plants in the plant configuration, narrowed by
// PLANTS, and from the machines a plant lists when it lists them (CONTRACT §3). Any other reading
// is a dead letter with the reason.

export interface PlantScope {
  configured: ReadonlySet<string>;
  /** Undefined: every configured plant. */
  served: ReadonlySet<string> | undefined;
  /** The machines of plants that list theirs; a plant not in this map accepts any machine. */
  machines?: ReadonlyMap<string, ReadonlySet<string>>;
}

/** The dead-letter reason of a reading from a machine its plant does not list (CONTRACT §3). */
export const UNKNOWN_MACHINE_REASON = 'unknown machine';

/** Undefined when the reading's plant and machine are served; otherwise the reason to reject it. */
export function plantRejection(scope: PlantScope, plantId: string, machineId: string): string | undefined {
  if (!scope.configured.has(plantId)) {
    return `plant "${plantId}" is not in the plant configuration (known plants: ${[...scope.configured].join(', ')})`;
  }
  if (scope.served !== undefined && !scope.served.has(plantId)) {
    return `plant "${plantId}" is not served by this ingest instance (PLANTS=${[...scope.served].join(',')})`;
  }
  const listed = scope.machines?.get(plantId);
  if (listed !== undefined && !listed.has(machineId)) return UNKNOWN_MACHINE_REASON;
  return undefined;
}

/** MQTT topic filters to subscribe to: one per served plant, or every plant. */
export function telemetryTopicFilters(served: readonly string[] | undefined): string[] {
  return served === undefined ? ['mes/+/+/telemetry'] : served.map((plantId) => `mes/${plantId}/+/telemetry`);
}
