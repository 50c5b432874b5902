import { describe, expect, it } from 'vitest';
import { plantRejection, telemetryTopicFilters } from './plantScope.js';

describe('plant scope', () => {
  const configured = new Set(['P1', 'P2']);

  it('accepts a configured plant when every plant is served', () => {
    expect(plantRejection({ configured, served: undefined }, 'P1', 'M-1')).toBeUndefined();
  });

  it('rejects a plant missing from the configuration, naming the known ones', () => {
    expect(plantRejection({ configured, served: undefined }, 'P9', 'M-1')).toBe('plant "P9" is not in the plant configuration (known plants: P1, P2)');
  });

  it('rejects a configured plant outside PLANTS', () => {
    expect(plantRejection({ configured, served: new Set(['P1']) }, 'P2', 'M-1')).toBe('plant "P2" is not served by this ingest instance (PLANTS=P1)');
  });

  it('rejects a machine its plant does not list as an unknown machine; a plant without a list accepts any', () => {
    const scope = { configured, served: undefined, machines: new Map([['P1', new Set(['M-1', 'M-2'])]]) };
    expect(plantRejection(scope, 'P1', 'M-2')).toBeUndefined();
    expect(plantRejection(scope, 'P1', 'M-9')).toBe('unknown machine');
    expect(plantRejection(scope, 'P2', 'M-9')).toBeUndefined();
  });

  it('subscribes to every plant, or to each served plant', () => {
    expect(telemetryTopicFilters(undefined)).toEqual(['mes/+/+/telemetry']);
    expect(telemetryTopicFilters(['P1', 'P2'])).toEqual(['mes/P1/+/telemetry', 'mes/P2/+/telemetry']);
  });
});
