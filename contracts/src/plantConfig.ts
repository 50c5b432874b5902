// The plant configuration of CONTRACT §3: approvers, approval timeout, resources and the rules
// that decide whether a machine's new condition needs maintenance.
import { z } from 'zod';
import { IDENTIFIER_PATTERN } from './names.js';
import { MACHINE_STATUSES, QUALITY_TRENDS, requiredOr } from './telemetry.js';
import type { MachineStatus, QualityTrend } from './telemetry.js';

export const RESOURCE_TYPES = ['Technician', 'Equipment'] as const;
export type ResourceType = (typeof RESOURCE_TYPES)[number];

export const RULE_ACTIONS = ['maintenance', 'none'] as const;
export type RuleAction = (typeof RULE_ACTIONS)[number];

/**
 * How an approver signs a decision (CONTRACT §3, §4): `link`, the signed link alone, or `link+pin`,
 * an electronic signature of two components (21 CFR 11.200): the signed link and a PIN only the
 * approver knows.
 */
export const SIGNATURE_METHODS = ['link', 'link+pin'] as const;
export type SignatureMethod = (typeof SIGNATURE_METHODS)[number];

const MS_PER_SECOND = 1000;
const MS_PER_MINUTE = 60 * MS_PER_SECOND;
const MS_PER_HOUR = 60 * MS_PER_MINUTE;
const MS_PER_DAY = 24 * MS_PER_HOUR;
const MS_PER_WEEK = 7 * MS_PER_DAY;

// Years and months are matched only to refuse them with a useful reason.
const DURATION_PATTERN =
  /^P(?!$)(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?(?:T(?!$)(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)(?:[.,](\d{1,3}))?S)?)?$/;

const DURATION_FORMAT = 'must be an ISO-8601 duration such as PT30M, PT1H30M, P1D or P1W (PnW, PnDTnHnMnS; seconds may have up to 3 decimals)';

/** Milliseconds of an ISO-8601 duration, or the rule it breaks (without the text itself). */
function durationToMs(text: string): { ms: number } | { problem: string } {
  const match = DURATION_PATTERN.exec(text);
  if (match === null) return { problem: DURATION_FORMAT };
  const [, years, months, weeks, days, hours, minutes, seconds, fraction] = match;
  if (years !== undefined || months !== undefined) {
    const hint = months !== undefined && years === undefined ? ` (for ${months} minute${months === '1' ? '' : 's'} write PT${months}M)` : '';
    return { problem: `must not use years or months, whose length varies; use weeks, days, hours, minutes or seconds, e.g. P30D${hint}` };
  }
  const count = (digits: string | undefined): number => (digits === undefined ? 0 : Number(digits));
  const ms =
    count(weeks) * MS_PER_WEEK +
    count(days) * MS_PER_DAY +
    count(hours) * MS_PER_HOUR +
    count(minutes) * MS_PER_MINUTE +
    count(seconds) * MS_PER_SECOND +
    (fraction === undefined ? 0 : Number(fraction.padEnd(3, '0')));
  if (ms === 0) return { problem: 'must be longer than zero' };
  if (!Number.isSafeInteger(ms)) return { problem: 'is too long' };
  return { ms };
}

/** Milliseconds in an ISO-8601 duration like `PT30M`; throws an Error saying what is wrong. */
export function parseIsoDuration(text: string): number {
  const result = durationToMs(text);
  if ('problem' in result) throw new Error(`duration ${JSON.stringify(text)} ${result.problem}`);
  return result.ms;
}

const IsoDurationSchema = z.string({ error: requiredOr(DURATION_FORMAT) }).superRefine((text, context) => {
  const result = durationToMs(text);
  if ('problem' in result) context.addIssue({ code: 'custom', message: result.problem });
});

const IdentifierSchema = z
  .string({ error: requiredOr('must be a string') })
  .regex(IDENTIFIER_PATTERN, { error: 'must be 1 to 64 characters of A-Z a-z 0-9 _ -' });

function nonEmptyText(max: number) {
  return z
    .string({ error: requiredOr('must be a text') })
    .trim()
    .min(1, { error: 'must not be empty' })
    .max(max, { error: `must be at most ${String(max)} characters` });
}

const ApproverSchema = z.strictObject({
  email: z.email({ error: requiredOr('must be an email address') }).max(256, { error: 'must be at most 256 characters' }),
  name: nonEmptyText(200),
});

const ResourceSchema = z.strictObject({
  id: IdentifierSchema,
  type: z.enum(RESOURCE_TYPES, { error: requiredOr(`must be one of ${RESOURCE_TYPES.join(', ')}`) }),
  name: nonEmptyText(200),
});

/** Conditions of one rule; every condition given must hold. */
export const RuleConditionSchema = z
  .strictObject({
    machineStatus: z.enum(MACHINE_STATUSES, { error: `must be one of ${MACHINE_STATUSES.join(', ')}` }).optional(),
    qualityTrend: z.enum(QUALITY_TRENDS, { error: `must be one of ${QUALITY_TRENDS.join(', ')}` }).optional(),
    /** Matches when the target is above 0 and actual / target is below this value. */
    productionRatioBelow: z
      .number({ error: 'must be a number above 0 and at most 1' })
      .gt(0, { error: 'must be a number above 0 and at most 1' })
      .max(1, { error: 'must be a number above 0 and at most 1' })
      .optional(),
  }, { error: requiredOr('must be an object of conditions') })
  .refine(
    (when) => when.machineStatus !== undefined || when.qualityTrend !== undefined || when.productionRatioBelow !== undefined,
    { error: 'must give at least one of machineStatus, qualityTrend, productionRatioBelow' },
  );
export type RuleCondition = z.infer<typeof RuleConditionSchema>;

export const PlantRuleSchema = z.strictObject({
  when: RuleConditionSchema,
  action: z.enum(RULE_ACTIONS, { error: requiredOr(`must be one of ${RULE_ACTIONS.join(', ')}`) }),
  // The order's Reason column (CONTRACT §2) holds 400 characters.
  reason: nonEmptyText(400),
});
export type PlantRule = z.infer<typeof PlantRuleSchema>;

function listOf<T extends z.ZodType>(item: T) {
  return z.array(item, { error: requiredOr('must be a list') });
}

/** Refuses a value listed twice; `field` names the item's key that must be unique (none for a list of values). */
function refuseDuplicates<T>(list: string, field: string | undefined, key: (item: T) => string) {
  return (items: T[], context: z.RefinementCtx<T[]>): void => {
    const firstIndex = new Map<string, number>();
    const at = (index: number) => (field === undefined ? `${list}.${String(index)}` : `${list}.${String(index)}.${field}`);
    items.forEach((item, index) => {
      const value = key(item);
      const earlier = firstIndex.get(value);
      if (earlier === undefined) firstIndex.set(value, index);
      else context.addIssue({ code: 'custom', path: field === undefined ? [index] : [index, field], message: `${JSON.stringify(value)} is listed twice (also ${at(earlier)})` });
    });
  };
}

const PlantSchema = z
  .strictObject({
    /** In order of escalation. */
    approvers: listOf(ApproverSchema)
      .min(1, { error: 'must list at least one approver' })
      .superRefine(refuseDuplicates('approvers', 'email', (approver) => approver.email.toLowerCase())),
    approvalTimeout: IsoDurationSchema,
    resources: listOf(ResourceSchema).superRefine(refuseDuplicates('resources', 'id', (resource) => resource.id)),
    rules: listOf(PlantRuleSchema).min(1, { error: 'must list at least one rule' }),
    /** When present, the only machines whose readings the plant accepts (CONTRACT §3). */
    machines: listOf(IdentifierSchema)
      .min(1, { error: 'must list at least one machine, or be left out to accept any machine' })
      .superRefine(refuseDuplicates('machines', undefined, (machineId: string) => machineId))
      .optional(),
    /** Left out: `link` (see `plantSignatureMethod`). */
    signature: z.enum(SIGNATURE_METHODS, { error: 'must be link (the default) or link+pin' }).optional(),
  }, { error: requiredOr('must be an object with approvers, approvalTimeout, resources and rules') })
  .transform((plant) => ({ ...plant, approvalTimeoutMs: parseIsoDuration(plant.approvalTimeout) }));

export const PlantsConfigSchema = z
  .strictObject({
    plants: z
      .record(z.string().regex(IDENTIFIER_PATTERN, { error: 'plant id must be 1 to 64 characters of A-Z a-z 0-9 _ -' }), PlantSchema, {
        error: requiredOr('must be a map of plant id to plant'),
      })
      .refine((plants) => Object.keys(plants).length > 0, { error: 'must list at least one plant' })
      // ResourceID is the primary key of the Resources table (CONTRACT §2), so ids are unique
      // across plants, not only within one.
      .superRefine((plants, context) => {
        const owner = new Map<string, string>();
        for (const [plantId, plant] of Object.entries(plants)) {
          plant.resources.forEach((resource, index) => {
            const other = owner.get(resource.id);
            if (other === undefined) owner.set(resource.id, plantId);
            else if (other !== plantId) {
              context.addIssue({
                code: 'custom',
                path: [plantId, 'resources', index, 'id'],
                message: `resource id ${JSON.stringify(resource.id)} is already used by plant ${other}; resource ids must be unique across plants`,
              });
            }
          });
        }
      }),
  }, { error: 'must be a YAML mapping with a plants key' });

/** The configuration as written in the file. */
export type PlantsConfigInput = z.input<typeof PlantsConfigSchema>;
/** The validated configuration; each plant also carries `approvalTimeoutMs`. */
export type PlantsConfig = z.output<typeof PlantsConfigSchema>;
export type PlantConfig = PlantsConfig['plants'][string];
export type PlantApprover = PlantConfig['approvers'][number];
export type PlantResource = PlantConfig['resources'][number];

/** How the plant's approvers sign their decisions: `link` unless the plant says `signature: link+pin`. */
export function plantSignatureMethod(plant: Pick<PlantConfig, 'signature'>): SignatureMethod {
  return plant.signature ?? 'link';
}

export interface RuleMatch {
  rule: PlantRule;
  index: number;
}

export interface RuleInput {
  machineStatus: MachineStatus;
  qualityTrend: QualityTrend;
  productionTarget: number;
  productionActual: number;
}

function ruleHolds(when: RuleCondition, reading: RuleInput): boolean {
  if (when.machineStatus !== undefined && when.machineStatus !== reading.machineStatus) return false;
  if (when.qualityTrend !== undefined && when.qualityTrend !== reading.qualityTrend) return false;
  if (when.productionRatioBelow !== undefined) {
    if (!(reading.productionTarget > 0)) return false;
    if (!(reading.productionActual / reading.productionTarget < when.productionRatioBelow)) return false;
  }
  return true;
}

/** The first rule whose conditions all hold for the reading, or undefined. */
export function evaluateRules(rules: readonly PlantRule[], reading: RuleInput): RuleMatch | undefined {
  const index = rules.findIndex((rule) => ruleHolds(rule.when, reading));
  const rule = rules[index];
  return rule === undefined ? undefined : { rule, index };
}
