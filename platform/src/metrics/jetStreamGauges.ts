// Gauges read from NATS when /metrics is scraped: the lag of every durable consumer of the
// project's streams, and the open workflows per plant (the keys of mes_open_workflows).
import { COMMANDS_STREAM, DEAD_LETTERS_STREAM, EVENTS_STREAM, OPEN_WORKFLOWS_BUCKET, TELEMETRY_STREAM, TIMERS_STREAM } from '@mes/contracts';
import { JetStreamApiCodes, JetStreamApiError, jetstreamManager, type ConsumerInfo } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import type { GaugeSample, MesMetrics } from './metrics.js';

const STREAMS = [EVENTS_STREAM, COMMANDS_STREAM, TIMERS_STREAM, TELEMETRY_STREAM, DEAD_LETTERS_STREAM];

/** The plant a consumer serves: the token after the prefix of its filter (`es.P1.>` -> P1), `all` without one. */
export function consumerPlant(filterSubject: string | undefined): string {
  const token = filterSubject?.split('.')[1];
  return token === undefined || token === '*' || token === '>' ? 'all' : token;
}

async function durableConsumers(nc: NatsConnection): Promise<{ stream: string; info: ConsumerInfo }[]> {
  const jsm = await jetstreamManager(nc);
  const found: { stream: string; info: ConsumerInfo }[] = [];
  for (const stream of STREAMS) {
    try {
      for (const info of await jsm.consumers.list(stream).next()) {
        // Ordered and listing consumers are ephemeral: their lag is nobody's backlog.
        if (info.config.durable_name) found.push({ stream, info });
      }
    } catch (err) {
      if (err instanceof JetStreamApiError && err.code === JetStreamApiCodes.StreamNotFound) continue;
      throw err;
    }
  }
  return found;
}

export function registerJetStreamGauges(metrics: MesMetrics, nc: NatsConnection): void {
  // One listing serves both gauges of a scrape (they are collected one after the other).
  let listing: { at: number; consumers: Promise<{ stream: string; info: ConsumerInfo }[]> } | undefined;
  const consumers = () => {
    if (listing === undefined || Date.now() - listing.at > 1_000) listing = { at: Date.now(), consumers: durableConsumers(nc) };
    return listing.consumers;
  };
  const samples = (pick: (info: ConsumerInfo) => number) => async (): Promise<GaugeSample[]> =>
    (await consumers()).map(({ stream, info }) => ({
      labels: { stream, consumer: info.config.durable_name ?? info.name, plant: consumerPlant(info.config.filter_subject) },
      value: pick(info),
    }));
  metrics.consumerPending.readFrom(samples((info) => info.num_pending));
  metrics.consumerAckPending.readFrom(samples((info) => info.num_ack_pending));

  metrics.openWorkflows.readFrom(async () => {
    const bucket = await new Kvm(nc).open(OPEN_WORKFLOWS_BUCKET);
    const perPlant = new Map<string, number>();
    for await (const key of await bucket.keys()) {
      const plant = key.split('.')[0] ?? key;
      perPlant.set(plant, (perPlant.get(plant) ?? 0) + 1);
    }
    return [...perPlant].map(([plant, value]) => ({ labels: { plant }, value }));
  });
}
