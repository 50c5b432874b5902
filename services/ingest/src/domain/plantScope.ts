// Which plants this ingest instance accepts readings for: those in the plant configuration,
// narrowed by PLANTS. A reading from any other plant is a dead letter with that reason.

export interface PlantScope {
  configured: ReadonlySet<string>;
  /** Undefined: every configured plant. */
  served: ReadonlySet<string> | undefined;
}

/** Undefined when the plant is served; otherwise the reason to reject the reading. */
export function plantRejection(scope: PlantScope, plantId: string): string | undefined {
  if (!scope.configured.has(plantId)) {
    return `plant "${plantId}" is not in the plant configuration (known plants: ${[...scope.configured].join(', ')})`;
  }
  if (scope.served !== undefined && !scope.served.has(plantId)) {
    return `plant "${plantId}" is not served by this ingest instance (PLANTS=${[...scope.served].join(',')})`;
  }
  return undefined;
}

/** MQTT topic filters to subscribe to: one per served plant, or every plant. */
export function telemetryTopicFilters(served: readonly string[] | undefined): string[] {
  return served === undefined ? ['mes/+/+/telemetry'] : served.map((plantId) => `mes/${plantId}/+/telemetry`);
}
