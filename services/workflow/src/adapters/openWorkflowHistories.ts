// The start-up pass reads what every open workflow has recorded. Reading each workflow's stream on
// its own costs a few requests to the NATS server per workflow (about 3 s per 10,000 requests here,
// the server's limit, not ours); reading the workflow events recorded since the oldest open claim
// is one consumer per plant. The claims' times come from the server's clock, like the events', so
// the pass begins a margin before the oldest claim; a stream whose first event is not in the pass
// (begun before it, whatever the clocks said) is simply left to be read on its own.
import { streamName } from '@mes/contracts';
import type { EventStore, Logger, RecordedEvent } from '@mes/platform';
import type { OpenWorkflow } from './openWorkflowClaims.js';

export interface OpenWorkflowHistoriesOptions {
  /** How long before the oldest open claim the pass begins. */
  marginMs: number;
  /** A plant's pass that would read more than this many events per open workflow (at least `minEvents`) is given up. */
  eventsPerOpen: number;
  minEvents: number;
  logger: Logger;
}

/**
 * Each open workflow's events, by stream name, for those whose whole history the pass saw (from
 * the start that every workflow stream begins with); empty when the store cannot start a read at
 * a time. A plant whose open workflows began behind a long history (the pass would read more than
 * the limit) is left out whole: its workflows are read stream by stream.
 */
export async function readOpenWorkflowHistories(store: EventStore, open: readonly OpenWorkflow[], options: OpenWorkflowHistoriesOptions): Promise<Map<string, RecordedEvent[]>> {
  const histories = new Map<string, RecordedEvent[]>();
  if (!store.readCategorySince) return histories;
  for (const plantId of new Set(open.map((o) => o.plantId))) {
    const ofPlant = open.filter((o) => o.plantId === plantId);
    const streams = new Set(ofPlant.map((o) => streamName(plantId, 'workflow', o.workflowId)));
    const oldestClaim = ofPlant.reduce((oldest, o) => Math.min(oldest, Date.parse(o.claimedAt)), Infinity);
    const since = new Date(oldestClaim - options.marginMs);
    const limit = Math.max(options.minEvents, ofPlant.length * options.eventsPerOpen);
    const found = new Map<string, RecordedEvent[]>();
    let read = 0;
    for await (const event of store.readCategorySince(plantId, 'workflow', since)) {
      if (++read > limit) break;
      if (!streams.has(event.stream)) continue;
      const events = found.get(event.stream);
      if (events) events.push(event);
      else if (event.type === 'WorkflowStarted') found.set(event.stream, [event]);
    }
    if (read > limit) {
      options.logger.info({ plantId, open: ofPlant.length, since: since.toISOString(), limit }, 'open workflows of this plant began behind a long history: reading them stream by stream');
      continue;
    }
    for (const [stream, events] of found) histories.set(stream, events);
  }
  return histories;
}
