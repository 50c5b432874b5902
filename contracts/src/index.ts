export { ActorSchema, EventEnvelopeSchema, IsoInstantSchema } from './envelope.js';
export type { Actor, EventEnvelope } from './envelope.js';
export {
  COMMANDS_STREAM,
  COMMANDS_SUBJECT_PREFIX,
  DEAD_LETTERS_STREAM,
  DEAD_LETTERS_SUBJECT_PREFIX,
  EVENTS_STREAM,
  EVENTS_SUBJECT_PREFIX,
  IDENTIFIER_PATTERN,
  MACHINE_CONDITIONS_BUCKET,
  STREAM_CATEGORIES,
  TELEMETRY_STREAM,
  TELEMETRY_SUBJECT_PREFIX,
  UNKNOWN_PLANT,
  commandSubject,
  deadLetterSubject,
  parseStreamName,
  plantEventsFilter,
  streamName,
  telemetrySubject,
} from './names.js';
export type { ParsedStreamName, StreamCategory } from './names.js';
