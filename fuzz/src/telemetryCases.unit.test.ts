import { validateTelemetry } from '@mes/contracts';
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { brokerMayRefuse, FUZZ_PLANTS, fuzzMessages, hasForbiddenChar, materialize, underIngestFilter, type FuzzMessage } from './telemetryCases.js';

const LIMIT = 64 * 1024;
const messages: FuzzMessage[] = [...fuzzMessages(5000, 7)];
const judged = messages
  .filter((m) => m.topic.length > 0 && !brokerMayRefuse(m.topic) && underIngestFilter(m.topic))
  .map((m) => ({ message: m, result: validateTelemetry(m.topic, m.payload, new Date()) }));
const reasons = judged.flatMap(({ result }) => (result.ok ? [] : [result.reason]));

describe('telemetry fuzz cases', () => {
  it('are the same for the same seed, and others for another', () => {
    const digest = (list: FuzzMessage[]) => list.map((m) => `${m.label} ${m.topic} ${createHash('sha256').update(m.payload).digest('hex')}`);
    expect(digest([...fuzzMessages(300, 7)])).toEqual(digest(messages.slice(0, 300)));
    expect([...fuzzMessages(300, 8)].map((m) => m.topic)).not.toEqual(messages.slice(0, 300).map((m) => m.topic));
  });

  it('mix accepted readings with rejected ones, mostly on topics ingest receives', () => {
    const accepted = judged.filter(({ result }) => result.ok && (FUZZ_PLANTS as readonly string[]).includes(result.reading.plantId));
    expect(accepted.length / messages.length).toBeGreaterThan(0.1);
    expect(reasons.length / messages.length).toBeGreaterThan(0.5);
    expect(judged.length / messages.length).toBeGreaterThan(0.8);
  });

  it('give no two acceptable readings of one machine the same messageId, so none is deduplicated away', () => {
    const keys = judged.flatMap(({ result }) => (result.ok && result.reading.messageId !== undefined ? [`${result.reading.plantId}/${result.reading.machineId}/${result.reading.messageId}`] : []));
    expect(keys.length).toBeGreaterThan(100);
    expect(new Set(keys).size).toBe(keys.length);
  });

  it('reach every kind of rule CONTRACT §1 has', () => {
    const all = reasons.join('\n');
    for (const rule of [
      /payload is \d+ bytes; the limit is 65536 bytes/,
      /payload is not valid UTF-8/,
      /payload is not valid JSON/,
      /payload must be a JSON object \(got an array\)/,
      /machineStatus: is required/,
      /machineStatus: must be one of/,
      /qualityTrend: must be one of/,
      /productionTarget: must be a number >= 0/,
      /productionActual: must be a number >= 0/,
      /timestamp: must be an ISO-8601 date-time/,
      /messageId: must be at most 128 characters/,
      /messageId: must not be empty/,
      /plantId "[^"]*" in the payload does not match/,
      /machineId: must be a string/,
      /topic ".*": plantId .* must be 1 to 64 characters/,
      /topic ".*": machineId .* must be 1 to 64 characters/,
    ]) {
      expect(all, String(rule)).toMatch(rule);
    }
  });

  it('hit the size limit from both sides, and send binary, BOMs, deep nesting and doubled fields', () => {
    const sizes = messages.map((m) => m.payload.byteLength);
    expect(sizes).toContain(LIMIT);
    expect(sizes).toContain(LIMIT + 1);
    // A payload of exactly 64 KiB that is otherwise valid is accepted.
    expect(judged.some(({ message, result }) => message.payload.byteLength === LIMIT && result.ok)).toBe(true);
    expect(messages.some((m) => m.payload[0] === 0xef && m.payload[1] === 0xbb && m.payload[2] === 0xbf)).toBe(true);
    expect(messages.some((m) => /^(\[{5000}|(\{"a":){5000})/.test(m.payload.toString('latin1')))).toBe(true);
    expect(messages.some((m) => (m.payload.toString().match(/"machineStatus"/g) ?? []).length > 1)).toBe(true);
    expect(messages.filter((m) => m.label.endsWith('/binary')).length).toBeGreaterThan(100);
  });

  it('send ids at their length limits, in topics and in messageId', () => {
    const topicIds = messages.flatMap((m) => m.topic.split('/').slice(1, 3));
    expect(topicIds.some((id) => id.length === 64)).toBe(true);
    expect(topicIds.some((id) => id.length === 65)).toBe(true);
    expect(topicIds.some((id) => id.length === 1)).toBe(true);
    expect(topicIds).toContain(FUZZ_PLANTS[2]);
    const accepted = judged.flatMap(({ result }) => (result.ok ? [result.reading] : []));
    expect(accepted.some((reading) => reading.messageId?.length === 128)).toBe(true);
    expect(accepted.some((reading) => reading.plantId.length === 64 && reading.machineId.length === 64)).toBe(true);
  });

  it('include topics the broker refuses and topics nobody subscribes to', () => {
    expect(messages.filter((m) => brokerMayRefuse(m.topic)).length).toBeGreaterThan(50);
    expect(messages.filter((m) => !brokerMayRefuse(m.topic) && !underIngestFilter(m.topic)).length).toBeGreaterThan(100);
    expect(messages.some((m) => m.topic.startsWith('mes/') && m.topic.split('/').length === 5)).toBe(true);
  });

  it('tell which topics MQTT forbids', () => {
    expect(brokerMayRefuse('mes/+/M-1/telemetry')).toBe(true);
    expect(brokerMayRefuse('mes/P1/#')).toBe(true);
    expect(brokerMayRefuse('')).toBe(true);
    expect(hasForbiddenChar('mes/P1/M\u0000/telemetry')).toBe(true);
    expect(hasForbiddenChar('mes/P1/M\u0085/telemetry')).toBe(true);
    expect(hasForbiddenChar('mes/P1/M\u{1FFFF}/telemetry')).toBe(true);
    expect(brokerMayRefuse('mes/P1/M\ufeff\u{1F600}/telemetry')).toBe(false);
    expect(underIngestFilter('mes/P1/M-1/telemetry')).toBe(true);
    expect(underIngestFilter('mes//M-1/telemetry')).toBe(true);
    expect(underIngestFilter('mes/P1/M-1/telemetry/x')).toBe(false);
  });

  it('carry the message index in ids that must be unique', () => {
    const spec = { topic: { kind: 'telemetry' as const, plant: { kind: 'configured' as const, index: 0 }, machine: { kind: 'max' as const } }, payload: { kind: 'text' as const, text: 'x' } };
    expect(materialize(spec, 35).topic).toBe(`mes/P1/${'Fz'.padEnd(64, '_')}/telemetry`);
    expect(materialize(spec, 36).topic).not.toBe(materialize(spec, 35).topic);
  });
});
