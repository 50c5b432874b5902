export { listDeadLetters, readDeadLetters } from './adapters/deadLetterLog.js';
export type { DeadLetterPage, ListDeadLettersOptions, StoredDeadLetter } from './adapters/deadLetterLog.js';
export { start, startIngest } from './application/startIngest.js';
export type { IngestDeps, IngestMetrics, IngestOptions, IngestService } from './application/startIngest.js';
export type { DeadLetterRecord } from './domain/deadLetter.js';
