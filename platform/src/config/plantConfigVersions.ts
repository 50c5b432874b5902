// Versioned plant configuration (CONTRACT §3): each applied version of a plant's configuration is
// an event in the plant's config stream, with who applied it (the envelope's actor), when, the whole
// validated configuration and what changed since the version before. `mes config reload` and the
// start-up of every service process record the file's configuration this way when it differs
// from the newest recorded version; the workflow service starts each incident under the newest.
import {
  configChanges,
  plantConfigOf,
  plantConfigStream,
  PlantConfigEntrySchema,
  type Actor,
  type ConfigChange,
  type PlantConfig,
  type PlantConfigEntry,
  type PlantConfigVersionRecorded,
  type PlantsConfig,
} from '@mes/contracts';
import { uuidV5 } from '../domain/deterministicId.js';
import { parseRecordedEvent, WrongExpectedRevisionError, type EventStore, type RecordedEvent } from '../eventStore/eventStore.js';

/** A plant's configuration as a version recorded it. */
export interface RecordedPlantConfig {
  plantId: string;
  version: number;
  config: PlantConfig;
  recordedAt: string;
  eventId: string;
}

/** What recording did for one plant. */
export interface PlantConfigRecording {
  plantId: string;
  /** The newest version after recording: the one recorded, or the one the file equals. */
  version: number;
  recorded: boolean;
  /** Since the version before (every key for a first version); empty when nothing was recorded. */
  changes: ConfigChange[];
}

export interface RecordPlantConfigOptions {
  /** Plants to record (default: every plant of the configuration). */
  plantIds?: readonly string[];
  /** Who applies it: the person running `mes config reload`, or the service process starting. */
  actor: Actor;
  /** Where the configuration was read from (MES_CONFIG). */
  source: string;
  /** How, e.g. `mes config reload` or `start-up of workflow`. */
  via: string;
  now?: () => Date;
}

const CONFIG_VERSION_NAMESPACE = '9b3e4f0a-6c1d-4e8b-a2f7-5d9c0e1b7a36';
/** Two copies that record at once conflict; the loser reads again and finds its version recorded (or records after it). */
const MAX_ATTEMPTS = 5;

/** The file's entry of a plant, without the values the services derive from it (e.g. approvalTimeoutMs). */
export function plantConfigEntry(plant: PlantConfig): PlantConfigEntry {
  const written = Object.fromEntries(Object.entries(plant).filter(([key]) => Object.hasOwn(PlantConfigEntrySchema.shape, key)));
  return PlantConfigEntrySchema.parse(written);
}

function recordedVersion(event: RecordedEvent): PlantConfigVersionRecorded['data'] {
  const parsed = parseRecordedEvent(event);
  if (parsed.type !== 'PlantConfigVersionRecorded') {
    throw new Error(`stream ${event.stream} holds a ${parsed.type} event (${event.eventId}); a plant's config stream holds only PlantConfigVersionRecorded`);
  }
  return parsed.data;
}

/**
 * Records, for each plant, the configuration as a new version when it differs from the newest
 * recorded one (or none is recorded yet). Safe to run from many copies at once: the appends state
 * the stream revision they read, and a version is recorded once.
 */
export async function recordPlantConfigVersions(store: EventStore, plants: PlantsConfig, options: RecordPlantConfigOptions): Promise<PlantConfigRecording[]> {
  const now = options.now ?? (() => new Date());
  const results: PlantConfigRecording[] = [];
  for (const plantId of options.plantIds ?? Object.keys(plants.plants)) {
    const plant = plants.plants[plantId];
    if (plant === undefined) throw new Error(`plant ${plantId} is not in the plant configuration ${options.source}`);
    const entry = plantConfigEntry(plant);
    const stream = plantConfigStream(plantId);
    for (let attempt = 1; ; attempt++) {
      const { revision, events } = await store.readStream(stream);
      const last = events.at(-1);
      const previous = last === undefined ? undefined : recordedVersion(last);
      const changes = configChanges(previous?.config ?? null, entry);
      if (previous !== undefined && changes.length === 0) {
        results.push({ plantId, version: previous.version, recorded: false, changes: [] });
        break;
      }
      const version = (previous?.version ?? 0) + 1;
      const data: PlantConfigVersionRecorded['data'] = { plantId, version, config: entry, changes, source: options.source, via: options.via, recordedAt: now().toISOString() };
      try {
        const appended = await store.appendToStream(stream, [{
          // The same content as the same version is the same event, however many copies record it.
          eventId: uuidV5(`${plantId}\n${version}\n${JSON.stringify(entry)}`, CONFIG_VERSION_NAMESPACE),
          type: 'PlantConfigVersionRecorded',
          version: 1,
          occurredAt: data.recordedAt,
          correlationId: `config-${plantId}-${version}`,
          causationId: null,
          actor: options.actor,
          data,
        }], { expectedRevision: revision });
        // A duplicate: another copy recorded the same version at the same moment.
        results.push(appended.duplicate ? { plantId, version, recorded: false, changes: [] } : { plantId, version, recorded: true, changes });
        break;
      } catch (err) {
        if (!(err instanceof WrongExpectedRevisionError) || attempt >= MAX_ATTEMPTS) throw err;
      }
    }
  }
  return results;
}

/**
 * The newest recorded configuration of each plant, read when asked (one read of the stream's last
 * event), so an incident that starts after a reload runs under the reloaded version in every copy.
 */
export class PlantConfigVersions {
  private readonly parsed = new Map<string, RecordedPlantConfig>();

  constructor(private readonly store: EventStore) {}

  /** The plant's newest recorded version; undefined when none is recorded. */
  async newest(plantId: string): Promise<RecordedPlantConfig | undefined> {
    const last = await this.store.lastEvent(plantConfigStream(plantId));
    if (last === undefined) return undefined;
    const known = this.parsed.get(plantId);
    if (known?.eventId === last.eventId) return known;
    const data = recordedVersion(last);
    const recorded: RecordedPlantConfig = { plantId, version: data.version, config: plantConfigOf(data.config), recordedAt: data.recordedAt, eventId: last.eventId };
    this.parsed.set(plantId, recorded);
    return recorded;
  }
}
