// What the telemetry fuzzer sends: fast-check arbitraries for MQTT topics and payloads, random and
// structure-aware (every field missing, wrong, at its limits or doubled; deep nesting; huge and
// tiny numbers; unicode and BOMs; sizes around the 64 KiB limit; binary), as plain specs that
// `materialize` turns into bytes. Pure: one seed gives the same messages.
//
// Ingest processes a repeated messageId of one machine once (CONTRACT §1), so a repeat would be
// neither stored nor dead-lettered and break the fuzzer's count. Every messageId that could be
// valid therefore carries the message's index, which makes each (machine, messageId) unique.
// One file on purpose (over 300 lines): the whole catalogue of generated cases, read at once.
import fc from 'fast-check';

/** Plants in the fuzzer's plant configuration, one of them with an id at the 64-character limit. */
export const FUZZ_PLANTS = ['P1', 'P2', `P${'x'.repeat(62)}9`] as const;

export const FUZZ_PLANTS_YAML = `plants:\n${FUZZ_PLANTS.map(
  (id) => `  ${id}:
    approvers: [{ email: fuzz@plant.example, name: Fuzz }]
    approvalTimeout: PT30M
    resources: []
    rules:
      - { when: { machineStatus: Fault }, action: none, reason: "Fuzzed fault" }
`,
).join('')}`;

const LIMIT = 64 * 1024;

/** An id in a topic level. `unique` and `max` carry the message index. */
export type IdSpec =
  | { kind: 'unique' }
  | { kind: 'max' }
  | { kind: 'tooLong' }
  | { kind: 'single'; char: string }
  | { kind: 'empty' }
  | { kind: 'text'; text: string };

export type PlantSpec = { kind: 'configured'; index: number } | { kind: 'unknown' } | Exclude<IdSpec, { kind: 'unique' | 'max' }>;

export type TopicSpec =
  | { kind: 'telemetry'; plant: PlantSpec; machine: IdSpec }
  /** Accepted by the broker, but not under ingest's filter `mes/+/+/telemetry`: nobody receives it. */
  | { kind: 'offFilter'; variant: 'extraLevel' | 'missingLevel' | 'prefixCase' | 'suffixCase' | 'leadingSlash' | 'trailingSlash' | 'otherRoot' }
  /** Topics MQTT forbids in a PUBLISH: the broker (or the client) refuses them. */
  | { kind: 'forbidden'; variant: 'plus' | 'hash' | 'nul' | 'control' | 'nonCharacter' | 'empty' | 'tooLong' }
  | { kind: 'random'; text: string };

/** A JSON value as raw text, or a value only the materializer knows (it carries the message index). */
export type FieldValue =
  | { raw: string }
  | { placeholder: 'uniqueMessageId' | 'maxMessageId' | 'unicodeMessageId' | 'tooLongMessageId' | 'topicPlant' | 'topicMachine' };

export interface FieldEntry {
  name: string;
  value: FieldValue;
}

export type PayloadSpec =
  | { kind: 'reading'; fields: FieldEntry[]; bom: boolean; size: 'natural' | 'atLimit' | 'overLimit' | 'wayOver'; whitespace: string }
  | { kind: 'json'; text: string }
  | { kind: 'text'; text: string }
  | { kind: 'binary'; bytes: Uint8Array }
  | { kind: 'nested'; depth: number; open: string; close: string };

export interface CaseSpec {
  topic: TopicSpec;
  payload: PayloadSpec;
}

export interface FuzzMessage {
  index: number;
  topic: string;
  payload: Buffer;
  /** Where it came from, for the figures: `telemetry/reading`, `forbidden/json`, … */
  label: string;
}

const ID_CHARS = [...'ABCXYZabcxyz0123456789_-'];
const raw = (value: unknown): FieldValue => ({ raw: JSON.stringify(value) });

const idSpec = (): fc.Arbitrary<IdSpec> =>
  fc.oneof(
    { weight: 40, arbitrary: fc.constant({ kind: 'unique' as const }) },
    { weight: 3, arbitrary: fc.constant({ kind: 'max' as const }) },
    { weight: 1, arbitrary: fc.constant({ kind: 'tooLong' as const }) },
    { weight: 1, arbitrary: fc.constantFrom(...ID_CHARS).map((char) => ({ kind: 'single' as const, char })) },
    { weight: 1, arbitrary: fc.constant({ kind: 'empty' as const }) },
    {
      weight: 2,
      arbitrary: fc
        .oneof(
          fc.constantFrom('bad.id', 'M 1', 'M\u00e9', '\ufeffM-1', 'M\u00a0', '\u{1F600}', 'M\ud800', 'M-1\u200b', '_unknown', 'M\\1', 'M"1', "M'1", 'M%2F1'),
          fc.string({ unit: 'grapheme', minLength: 1, maxLength: 12 }).filter((text) => !/[/+#]/.test(text) && !hasForbiddenChar(text)),
        )
        .map((text) => ({ kind: 'text' as const, text })),
    },
  );

const plantSpec = (): fc.Arbitrary<PlantSpec> =>
  fc.oneof<fc.WeightedArbitrary<PlantSpec>[]>(
    { weight: 40, arbitrary: fc.integer({ min: 0, max: FUZZ_PLANTS.length - 1 }).map((index) => ({ kind: 'configured' as const, index })) },
    { weight: 2, arbitrary: fc.constant({ kind: 'unknown' as const }) },
    { weight: 3, arbitrary: idSpec().filter((id): id is Exclude<IdSpec, { kind: 'unique' | 'max' }> => id.kind !== 'unique' && id.kind !== 'max') },
  );

const topicSpec = (): fc.Arbitrary<TopicSpec> =>
  fc.oneof(
    { weight: 90, arbitrary: fc.record({ kind: fc.constant('telemetry' as const), plant: plantSpec(), machine: idSpec() }) },
    {
      weight: 4,
      arbitrary: fc
        .constantFrom('extraLevel', 'missingLevel', 'prefixCase', 'suffixCase', 'leadingSlash', 'trailingSlash', 'otherRoot')
        .map((variant) => ({ kind: 'offFilter' as const, variant })),
    },
    { weight: 2, arbitrary: fc.constantFrom('plus', 'hash', 'nul', 'control', 'nonCharacter', 'empty', 'tooLong').map((variant) => ({ kind: 'forbidden' as const, variant })) },
    { weight: 4, arbitrary: fc.string({ unit: 'binary', maxLength: 80 }).map((text) => ({ kind: 'random' as const, text })) },
  );

const STATUSES = ['Running', 'Idle', 'Fault', 'Maintenance', 'Offline'];
const TRENDS = ['Improving', 'Stable', 'Declining'];

/** Numbers at and past every edge JSON and the schema have, as raw JSON text. */
const edgeNumber = fc.constantFrom(
  '0', '-0', '0.0', '1e-320', '5e-324', '-5e-324', '1e308', '1.7976931348623157e308', '1e309', '-1e309', '-1', '-0.0000001',
  '9007199254740993', '123456789012345678901234567890', '1E2', '0x10', 'NaN', 'Infinity', '-Infinity', '01', '.5', '+1', '1.', '1e', '--1',
);

/** Values of the wrong type, or of the right type but wrong, as raw JSON text. */
const wrongValue = fc.oneof(
  edgeNumber,
  fc.constantFrom('null', 'true', 'false', '""', '[]', '{}', '"running"', '"RUNNING"', '"Running "', '"Fault\\u0000"', '"\\ud800"', '"Déclining"', '"100"', '[100]', '{"value":100}'),
  fc.jsonValue({ maxDepth: 3 }).map((value) => JSON.stringify(value) ?? 'null'),
  fc.string({ unit: 'binary', maxLength: 40 }).map((text) => JSON.stringify(text)),
);

const validNumber = fc.oneof(fc.integer({ min: 0, max: 10_000 }).map(String), fc.double({ min: 0, max: 1e6, noNaN: true, noDefaultInfinity: true }).map((n) => JSON.stringify(n)), edgeNumber.filter((n) => ['0', '-0', '0.0', '1e-320', '5e-324', '1e308', '1E2', '9007199254740993'].includes(n)));

const validTimestamp = fc.oneof(
  fc.constantFrom('"2026-11-25T10:00:00Z"', '"2026-11-25T11:00:00.123+01:00"', '"2026-11-25T10:00:00.123456789Z"', '0', '8640000000000000', '1764064800000'),
  fc.date({ min: new Date('1970-01-01T00:00:00Z'), max: new Date('2100-01-01T00:00:00Z'), noInvalidDate: true }).map((date) => JSON.stringify(date.toISOString())),
);
const wrongTimestamp = fc.oneof(
  fc.constantFrom('"2026-11-25T10:00:00"', '"2026-02-30T10:00:00Z"', '"2026-11-25 10:00:00Z"', '"yesterday"', '"2026-11-25T25:00:00Z"', '8640000000000001', '-1', '1.5', '"1764064800000"', '""'),
  wrongValue,
);

type FieldChoice = 'valid' | 'missing' | 'wrong';
const choice = (weights: [number, number, number]): fc.Arbitrary<FieldChoice> =>
  fc.oneof({ weight: weights[0], arbitrary: fc.constant('valid' as const) }, { weight: weights[1], arbitrary: fc.constant('missing' as const) }, { weight: weights[2], arbitrary: fc.constant('wrong' as const) });

const fieldFor = (name: string, what: FieldChoice, valid: fc.Arbitrary<FieldValue>, wrong: fc.Arbitrary<FieldValue>): fc.Arbitrary<FieldEntry[]> =>
  what === 'missing' ? fc.constant([]) : (what === 'valid' ? valid : wrong).map((value) => [{ name, value }]);

/** A telemetry object, each field valid, missing or wrong, some doubled, with extra keys now and then. */
const readingFields = (): fc.Arbitrary<FieldEntry[]> =>
  fc
    .record({
      machineStatus: choice([60, 1, 2]),
      qualityTrend: choice([60, 1, 2]),
      productionTarget: choice([60, 1, 2]),
      productionActual: choice([60, 1, 2]),
      timestamp: choice([14, 6, 1]),
      messageId: choice([14, 6, 1]),
      plantId: choice([4, 14, 1]),
      machineId: choice([4, 14, 1]),
    })
    .chain((choices) =>
      fc.tuple(
        fieldFor('machineStatus', choices.machineStatus, fc.constantFrom(...STATUSES).map(raw), wrongValue.map((r) => ({ raw: r }))),
        fieldFor('qualityTrend', choices.qualityTrend, fc.constantFrom(...TRENDS).map(raw), wrongValue.map((r) => ({ raw: r }))),
        fieldFor('productionTarget', choices.productionTarget, validNumber.map((r) => ({ raw: r })), wrongValue.map((r) => ({ raw: r }))),
        fieldFor('productionActual', choices.productionActual, validNumber.map((r) => ({ raw: r })), wrongValue.map((r) => ({ raw: r }))),
        fieldFor('timestamp', choices.timestamp, validTimestamp.map((r) => ({ raw: r })), wrongTimestamp.map((r) => ({ raw: r }))),
        fieldFor(
          'messageId',
          choices.messageId,
          fc.constantFrom('uniqueMessageId', 'maxMessageId', 'unicodeMessageId').map((placeholder) => ({ placeholder })),
          fc.oneof(fc.constant({ placeholder: 'tooLongMessageId' as const }), fc.constantFrom('""', '123', 'null', '["m"]', '{"id":"m"}').map((r) => ({ raw: r }))),
        ),
        fieldFor('plantId', choices.plantId, fc.constant({ placeholder: 'topicPlant' as const }), fc.constantFrom('"P9"', '"p1"', '1', 'null', '""').map((r) => ({ raw: r }))),
        fieldFor('machineId', choices.machineId, fc.constant({ placeholder: 'topicMachine' as const }), fc.constantFrom('"M-0"', '1', 'null', '""', '"M\\u0000"').map((r) => ({ raw: r }))),
        // Keys the schema does not know: ignored when the rest is valid, however deep.
        fc.array(
          fc.record({
            name: fc.oneof(fc.constantFrom('extra', 'Machinestatus', '__proto__', 'constructor', ''), fc.string({ unit: 'grapheme', maxLength: 10 })),
            value: fc.oneof(fc.jsonValue({ maxDepth: 4 }).map((value) => ({ raw: JSON.stringify(value) ?? 'null' })), fc.integer({ min: 1, max: 2000 }).map((depth) => ({ raw: `${'['.repeat(depth)}${']'.repeat(depth)}` }))),
          }),
          { maxLength: 2 },
        ),
        // A field written twice: JSON.parse keeps the last, the reading must still be judged as a whole.
        fc.option(
          fc.record({
            name: fc.constantFrom('machineStatus', 'qualityTrend', 'productionTarget', 'productionActual', 'timestamp', 'plantId'),
            value: fc.oneof(wrongValue.map((r) => ({ raw: r })), fc.constantFrom(...STATUSES, ...TRENDS).map(raw), validNumber.map((r) => ({ raw: r }))),
          }),
          { freq: 12 },
        ),
      ),
    )
    .chain(([status, trend, target, actual, timestamp, messageId, plantId, machineId, extras, doubled]) => {
      const entries = [...status, ...trend, ...target, ...actual, ...timestamp, ...messageId, ...plantId, ...machineId, ...extras];
      if (doubled !== null) entries.push(doubled);
      return fc.shuffledSubarray(entries, { minLength: entries.length, maxLength: entries.length });
    });

const payloadSpec = (): fc.Arbitrary<PayloadSpec> =>
  fc.oneof(
    {
      weight: 70,
      arbitrary: fc.record({
        kind: fc.constant('reading' as const),
        fields: readingFields(),
        bom: fc.oneof({ weight: 30, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
        size: fc.oneof(
          { weight: 400, arbitrary: fc.constant('natural' as const) },
          { weight: 2, arbitrary: fc.constant('atLimit' as const) },
          { weight: 2, arbitrary: fc.constant('overLimit' as const) },
          { weight: 1, arbitrary: fc.constant('wayOver' as const) },
        ),
        // JSON allows space, tab, CR and LF between tokens; no-break space and U+2028 it does not.
        whitespace: fc.oneof({ weight: 60, arbitrary: fc.constantFrom('', ' ', '\n', '\t', '\r\n') }, { weight: 1, arbitrary: fc.constantFrom('\u00a0', '\u2028') }),
      }),
    },
    { weight: 10, arbitrary: fc.jsonValue({ maxDepth: 5 }).map((value) => ({ kind: 'json' as const, text: JSON.stringify(value) ?? 'null' })) },
    { weight: 8, arbitrary: fc.string({ unit: 'binary', maxLength: 300 }).map((text) => ({ kind: 'text' as const, text })) },
    { weight: 8, arbitrary: fc.uint8Array({ maxLength: 600 }).map((bytes) => ({ kind: 'binary' as const, bytes })) },
    {
      weight: 4,
      arbitrary: fc.record({
        kind: fc.constant('nested' as const),
        depth: fc.oneof({ weight: 5, arbitrary: fc.integer({ min: 1, max: 1000 }) }, { weight: 1, arbitrary: fc.integer({ min: 1000, max: LIMIT / 2 }) }),
        open: fc.constantFrom('[', '{"a":'),
        close: fc.constantFrom(']', '}'),
      }),
    },
  );

/** Every message the fuzzer sends: a topic and a payload, each random or shaped like telemetry. */
export const caseSpec = (): fc.Arbitrary<CaseSpec> => fc.record({ topic: topicSpec(), payload: payloadSpec() });

/** Characters Mosquitto refuses in a topic: control characters and Unicode non-characters. */
export function hasForbiddenChar(topic: string): boolean {
  for (const char of topic) {
    const code = char.codePointAt(0)!;
    if (code <= 0x1f || (code >= 0x7f && code <= 0x9f)) return true;
    if (code >= 0xfdd0 && code <= 0xfdef) return true;
    if ((code & 0xffff) === 0xfffe || (code & 0xffff) === 0xffff) return true;
  }
  return false;
}

/**
 * Whether the broker (or the MQTT client) may refuse to take this topic at all: wildcards, an
 * empty name, more than 65,535 bytes, or characters MQTT forbids. The fuzzer publishes these on a
 * connection of their own, since the broker drops the connection that sent one.
 */
export function brokerMayRefuse(topic: string): boolean {
  return topic.length === 0 || /[+#]/.test(topic) || hasForbiddenChar(topic) || Buffer.byteLength(topic) > 65_535;
}

/** Whether ingest's subscription `mes/+/+/telemetry` takes this topic. */
export function underIngestFilter(topic: string): boolean {
  const levels = topic.split('/');
  return levels.length === 4 && levels[0] === 'mes' && levels[3] === 'telemetry';
}

function idText(spec: IdSpec | PlantSpec, index: number, prefix: string): string {
  const tag = index.toString(36);
  switch (spec.kind) {
    case 'configured':
      return FUZZ_PLANTS[spec.index]!;
    case 'unknown':
      return `PU${tag}`;
    case 'unique':
      return `${prefix}${tag}`;
    case 'max':
      return `${prefix}${tag}`.padEnd(64, '_');
    case 'tooLong':
      return `${prefix}${tag}`.padEnd(65, '_');
    case 'single':
      return spec.char;
    case 'empty':
      return '';
    case 'text':
      return spec.text;
    default: {
      const _exhaustive: never = spec;
      return _exhaustive;
    }
  }
}

function topicText(spec: TopicSpec, index: number): { topic: string; plant: string; machine: string } {
  const machine = `F${index.toString(36)}`;
  switch (spec.kind) {
    case 'telemetry': {
      const plant = idText(spec.plant, index, 'P');
      const machineId = idText(spec.machine, index, 'F');
      return { topic: `mes/${plant}/${machineId}/telemetry`, plant, machine: machineId };
    }
    case 'offFilter': {
      const topic = {
        extraLevel: `mes/P1/${machine}/telemetry/extra`,
        missingLevel: `mes/P1/telemetry`,
        prefixCase: `MES/P1/${machine}/telemetry`,
        suffixCase: `mes/P1/${machine}/Telemetry`,
        leadingSlash: `/mes/P1/${machine}/telemetry`,
        trailingSlash: `mes/P1/${machine}/telemetry/`,
        otherRoot: `factory/P1/${machine}/telemetry`,
      }[spec.variant];
      return { topic, plant: 'P1', machine };
    }
    case 'forbidden': {
      const topic = {
        plus: `mes/+/${machine}/telemetry`,
        hash: `mes/P1/#`,
        nul: `mes/P1/${machine}\u0000/telemetry`,
        control: `mes/P1/${machine}\u0007/telemetry`,
        nonCharacter: `mes/P1/${machine}\uffff/telemetry`,
        empty: '',
        tooLong: `mes/P1/${machine.padEnd(70_000, 'x')}/telemetry`,
      }[spec.variant];
      return { topic, plant: 'P1', machine };
    }
    case 'random':
      return { topic: spec.text, plant: '', machine: '' };
    default: {
      const _exhaustive: never = spec;
      return _exhaustive;
    }
  }
}

function fieldText(value: FieldValue, index: number, topic: { plant: string; machine: string }): string {
  if ('raw' in value) return value.raw;
  const tag = index.toString(36);
  switch (value.placeholder) {
    case 'uniqueMessageId':
      return JSON.stringify(`m-${tag}`);
    case 'maxMessageId':
      return JSON.stringify(`m-${tag}-`.padEnd(128, 'z'));
    case 'unicodeMessageId':
      return JSON.stringify(`m-${tag}-é\u{1F600}\ufeff`);
    case 'tooLongMessageId':
      return JSON.stringify(`m-${tag}-`.padEnd(129, 'z'));
    case 'topicPlant':
      return JSON.stringify(topic.plant);
    case 'topicMachine':
      return JSON.stringify(topic.machine);
    default: {
      const _exhaustive: never = value.placeholder;
      return _exhaustive;
    }
  }
}

/** Adds a `pad` key in front of a JSON object's other keys so that its text takes exactly `bytes` bytes. */
function padTo(objectText: string, hasFields: boolean, bytes: number): string {
  const rest = objectText.slice(1);
  const fixed = Buffer.byteLength('{"pad":""') + (hasFields ? 1 : 0) + Buffer.byteLength(rest);
  return `{"pad":"${'p'.repeat(Math.max(0, bytes - fixed))}"${hasFields ? ',' : ''}${rest}`;
}

function payloadBytes(spec: PayloadSpec, index: number, topic: { plant: string; machine: string }): Buffer {
  switch (spec.kind) {
    case 'reading': {
      const ws = spec.whitespace;
      const body = `{${ws}${spec.fields.map((field) => `${JSON.stringify(field.name)}${ws}:${ws}${fieldText(field.value, index, topic)}`).join(`,${ws}`)}${ws}}`;
      const has = spec.fields.length > 0;
      const sized = spec.size === 'natural' ? body : padTo(body, has, { atLimit: LIMIT, overLimit: LIMIT + 1, wayOver: 3 * LIMIT }[spec.size]);
      return Buffer.from(spec.bom ? `\ufeff${sized}` : sized);
    }
    case 'json':
    case 'text':
      return Buffer.from(spec.text);
    case 'binary':
      return Buffer.from(spec.bytes);
    case 'nested':
      return Buffer.from(`${spec.open.repeat(spec.depth)}1${spec.close.repeat(spec.depth)}`);
    default: {
      const _exhaustive: never = spec;
      return _exhaustive;
    }
  }
}

/** The message a spec stands for, as the `index`-th of a run. */
export function materialize(spec: CaseSpec, index: number): FuzzMessage {
  const topic = topicText(spec.topic, index);
  return { index, topic: topic.topic, payload: payloadBytes(spec.payload, index, topic), label: `${spec.topic.kind}/${spec.payload.kind}` };
}

/** `count` messages from `seed`, made a thousand at a time so a long run never holds them all. */
export function* fuzzMessages(count: number, seed: number): Generator<FuzzMessage> {
  const chunk = 1000;
  for (let start = 0; start < count; start += chunk) {
    const specs = fc.sample(caseSpec(), { numRuns: Math.min(chunk, count - start), seed: (seed + start) | 0 });
    for (let i = 0; i < specs.length; i++) yield materialize(specs[i]!, start + i);
  }
}
