// Reads the plant configuration (CONTRACT §3) once at start-up; any problem stops the process with
// the file, the key path and the reason.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { PlantsConfigSchema, validationIssues } from '@mes/contracts';
import type { PlantsConfig, ValidationIssue } from '@mes/contracts';
import { parseDocument } from 'yaml';

export class PlantConfigError extends Error {
  override readonly name = 'PlantConfigError';
  readonly code = 'PLANT_CONFIG_INVALID';

  constructor(
    /** The file (or other source) the configuration came from. */
    readonly source: string,
    /** One entry per problem; `path` is the dotted key path, '' for the file as a whole. */
    readonly issues: readonly ValidationIssue[],
    summary = 'invalid plant configuration',
  ) {
    const lines = issues.map(({ path, message }) => `  - ${path === '' ? message : `${path}: ${message}`}`);
    super([`${source}: ${summary}${issues.length > 1 ? ` (${String(issues.length)} problems)` : ''}:`, ...lines].join('\n'));
  }
}

function yamlToValue(text: string, sourceName: string): unknown {
  const document = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (document.errors.length > 0) {
    const issues = document.errors.map((error) => {
      const position = error.linePos?.[0];
      // The pretty message repeats the position and quotes the line; keep the first sentence.
      const reason = (error.message.split('\n')[0] ?? error.message).replace(/ at line \d+, column \d+:?$/, '');
      const where = position === undefined ? '' : `line ${String(position.line)}, column ${String(position.col)}: `;
      return { path: '', message: `${where}${reason}` };
    });
    throw new PlantConfigError(sourceName, issues, 'YAML syntax error');
  }
  try {
    return document.toJS({ maxAliasCount: 100 });
  } catch (error) {
    // e.g. an alias whose anchor is missing, or an alias bomb.
    throw new PlantConfigError(sourceName, [{ path: '', message: error instanceof Error ? error.message : String(error) }], 'YAML error');
  }
}

/** Parses and validates configuration text; `sourceName` names it in errors (usually the path). */
export function parsePlantConfigText(text: string, sourceName: string): PlantsConfig {
  const value = yamlToValue(text, sourceName);
  const result = PlantsConfigSchema.safeParse(value, { reportInput: true });
  if (!result.success) throw new PlantConfigError(sourceName, validationIssues(result.error));
  return result.data;
}

/** Reads the file MES_CONFIG points to. Synchronous: it runs once, before anything starts. */
export function loadPlantConfigFile(path: string): PlantsConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const problem =
      code === 'ENOENT' ? 'file not found' :
      code === 'EISDIR' ? 'is a directory, not a file' :
      code === 'EACCES' || code === 'EPERM' ? 'permission denied' :
      error instanceof Error ? error.message : String(error);
    const absolute = resolve(path);
    const where = absolute === path ? '' : ` (resolved to ${absolute})`;
    throw new PlantConfigError(path, [{ path: '', message: `${problem}${where}; MES_CONFIG points to this file: set it to the path of a plants YAML file` }], 'cannot read the plant configuration');
  }
  return parsePlantConfigText(text, path);
}
