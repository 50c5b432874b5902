// What changed between two versions of a plant's configuration (CONTRACT §3: configuration under
// change control), key path by key path, and the same in words. Pure.
import type { ConfigChange } from './events.js';

type Json = ConfigChange['after'];

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function same(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((item, index) => same(item, b[index]));
  if (isPlainObject(a) && isPlainObject(b)) {
    const keys = Object.keys(a).filter((key) => a[key] !== undefined);
    return keys.length === Object.keys(b).filter((key) => b[key] !== undefined).length && keys.every((key) => same(a[key], b[key]));
  }
  return false;
}

function changesAt(path: string, before: unknown, after: unknown, into: ConfigChange[]): void {
  if (same(before, after)) return;
  const at = (key: string | number) => (path === '' ? String(key) : `${path}.${String(key)}`);
  if (isPlainObject(before) && isPlainObject(after)) {
    const keys = [...Object.keys(before), ...Object.keys(after).filter((key) => !Object.hasOwn(before, key))];
    for (const key of keys) changesAt(at(key), before[key], after[key], into);
    return;
  }
  // Lists compare by position: the order of approvers is their order of escalation, and of rules
  // the order they are tried in, so a move is a change.
  if (Array.isArray(before) && Array.isArray(after)) {
    for (let index = 0; index < Math.max(before.length, after.length); index++) changesAt(at(index), before[index], after[index], into);
    return;
  }
  into.push({ path, ...(before === undefined ? {} : { before: before as Json }), ...(after === undefined ? {} : { after: after as Json }) });
}

/**
 * The differences from `before` to `after` (JSON values: plain objects, lists, strings, numbers,
 * booleans, null), at the deepest key path where they differ; `before` null: everything is added.
 */
export function configChanges(before: object | null, after: object): ConfigChange[] {
  const changes: ConfigChange[] = [];
  changesAt('', before ?? {}, after, changes);
  return changes;
}

/** One change for a person: `approvers.1.email: "bob@p.example" -> "carol@p.example"`. */
export function describeConfigChange(change: ConfigChange): string {
  const shown = (value: Json) => JSON.stringify(value);
  if (change.before === undefined) return `${change.path}: added ${shown(change.after)}`;
  if (change.after === undefined) return `${change.path}: removed (was ${shown(change.before)})`;
  return `${change.path}: ${shown(change.before)} -> ${shown(change.after)}`;
}
