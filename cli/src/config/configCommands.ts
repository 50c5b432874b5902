// `mes config reload` (CONTRACT §3: versioned configuration under change control): it records
// each changed plant's validated configuration as a new version, with who ran it (MES_OPERATOR,
// else the OS user at this host), when and what changed; the workflow service starts every
// incident after that under the newest version (`mes config history` lists them).
import { describeConfigChange, type PlantsConfig } from '@mes/contracts';
import { recordPlantConfigVersions, type Config, type EventStore } from '@mes/platform';
import { hostname, userInfo } from 'node:os';
import { resolve } from 'node:path';

/** Longest actor id the event envelope holds. */
const MAX_OPERATOR_LENGTH = 256;

/**
 * Who runs a `mes` command, as the event log records them: MES_OPERATOR (e.g. an email) when set,
 * else the OS user at this host (`maria@eng-laptop-3`). A shared OS account names nobody: set
 * MES_OPERATOR per person where people share one.
 */
export function operatorOf(env: NodeJS.ProcessEnv): string {
  const named = env.MES_OPERATOR?.trim();
  if (named) {
    if (named.length > MAX_OPERATOR_LENGTH) throw new Error(`MES_OPERATOR is ${named.length} characters long; at most ${MAX_OPERATOR_LENGTH} (a name or an email)`);
    return named;
  }
  let user: string;
  try {
    user = userInfo().username;
  } catch {
    user = env.USER ?? env.USERNAME ?? 'unknown-user';
  }
  return `${user}@${hostname()}`.slice(0, MAX_OPERATOR_LENGTH);
}

export interface ReloadDeps {
  store: EventStore;
  /** The validated file (checked before anything was connected). */
  plants: PlantsConfig;
  config: Config;
  env: NodeJS.ProcessEnv;
  print(text: string): void;
}

export async function reloadPlantConfig(deps: ReloadDeps): Promise<void> {
  const { plants, config } = deps;
  const plantIds = config.plants ?? Object.keys(plants.plants);
  const missing = plantIds.filter((plantId) => !Object.hasOwn(plants.plants, plantId));
  if (missing.length > 0) {
    throw new Error(`PLANTS names ${missing.join(', ')}, not in ${config.plantConfigPath} (MES_CONFIG), which has ${Object.keys(plants.plants).join(', ')}; nothing was recorded`);
  }
  const operator = operatorOf(deps.env);
  const results = await recordPlantConfigVersions(deps.store, plants, {
    plantIds,
    actor: { kind: 'person', id: operator },
    source: resolve(config.plantConfigPath),
    via: 'mes config reload',
  });
  for (const result of results) {
    if (!result.recorded) {
      deps.print(`${result.plantId}: unchanged, still version ${result.version}`);
      continue;
    }
    const count = result.changes.length;
    deps.print(`${result.plantId}: version ${result.version} recorded by ${operator}, ${count} change${count === 1 ? '' : 's'}${result.version === 1 ? ' (the first version)' : ''}:`);
    for (const change of result.changes) deps.print(`  ${describeConfigChange(change)}`);
  }
  if (results.some((result) => result.recorded)) {
    deps.print(
      'Incidents that start from now on run under the new version; open workflows finish under the version they started with. ' +
        'A machines list, resources and the productionRatioBelow thresholds ingest compares readings against are read when ingest and resources start: restart them for those.',
    );
  }
}
