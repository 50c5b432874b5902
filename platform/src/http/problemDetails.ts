// One shape for every error of the HTTP API: RFC 9457 problem details (`application/problem+json`)
// with a stable `code` beside the standard members, so a script branches on `code` and a person
// reads `detail`. The status codes stay what each route always answered.
import { STATUS_CODES } from 'node:http';
import type { FastifyReply } from 'fastify';

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

export interface ProblemDetails {
  /** `urn:mes:problem:{code}`: names the kind of problem; not meant to be fetched. */
  type: string;
  /** The same for every occurrence of the code. */
  title: string;
  status: number;
  /** This occurrence, in words: what was wrong and where. */
  detail: string;
  /** Stable, upper case, e.g. `ORDER_CLOSED`, `ORDER_NOT_FOUND`, `UNAUTHORIZED`. */
  code: string;
  [extension: string]: unknown;
}

/** Titles of the codes the platform and the services answer with; any other code takes its status's phrase. */
const TITLES: Record<string, string> = {
  INVALID_REQUEST: 'The request is not valid',
  UNAUTHORIZED: 'A credential is needed',
  NOT_FOUND: 'No such route',
  ORDER_NOT_FOUND: 'No such maintenance order',
  ORDER_CLOSED: 'The order has ended',
  PAYLOAD_TOO_LARGE: 'The request body is too large',
  UNSUPPORTED_MEDIA_TYPE: 'The request body has a type this route does not take',
  TOO_MANY_REQUESTS: 'Too many requests',
  INTERNAL_ERROR: 'Internal error',
  UNAVAILABLE: 'A dependency is unavailable',
};

/** The code a status stands for when nothing more specific is known (framework errors). */
export function codeOfStatus(status: number): string {
  switch (status) {
    case 400:
      return 'INVALID_REQUEST';
    case 401:
      return 'UNAUTHORIZED';
    case 404:
      return 'NOT_FOUND';
    case 413:
      return 'PAYLOAD_TOO_LARGE';
    case 415:
      return 'UNSUPPORTED_MEDIA_TYPE';
    case 429:
      return 'TOO_MANY_REQUESTS';
    case 503:
      return 'UNAVAILABLE';
    default:
      return status >= 500 ? 'INTERNAL_ERROR' : `HTTP_${status}`;
  }
}

export function problemType(code: string): string {
  return `urn:mes:problem:${code.toLowerCase().replaceAll('_', '-')}`;
}

export function problemDetails(status: number, code: string, detail: string, extensions: Record<string, unknown> = {}): ProblemDetails {
  const title = TITLES[code] ?? STATUS_CODES[status] ?? 'Error';
  return { ...extensions, type: problemType(code), title, status, detail, code };
}

/** Answers with a problem document; the status is the caller's (never changed here). */
export function sendProblem(reply: FastifyReply, status: number, code: string, detail: string, extensions: Record<string, unknown> = {}): FastifyReply {
  return reply.code(status).header('content-type', `${PROBLEM_CONTENT_TYPE}; charset=utf-8`).send(JSON.stringify(problemDetails(status, code, detail, extensions)));
}
