// An answer given as its parts: what the hottest routes return, written by the services' own
// server without building a Response and reading it back.

/** An answer as its status, content type (if any), extra headers and body. */
export interface WireAnswer {
  status: number;
  contentType?: string;
  body: string | Uint8Array;
  headers?: Record<string, string>;
}

/** What a hot route answers: a Response, or its parts. */
export type Answer = Response | WireAnswer;

/**
 * `answer` as a Response, for a server that takes only those (`Deno.serve`, the app's chain).
 *
 * @example
 * ```ts
 * import { toResponse } from "./answer.ts";
 * toResponse({ status: 200, contentType: "application/json", body: "{}" }).status; // 200
 * ```
 */
export function toResponse(answer: Answer): Response {
  if (answer instanceof Response) return answer;
  const headers: Record<string, string> = { ...answer.headers };
  if (answer.contentType) headers["content-type"] = answer.contentType;
  const { status } = answer;
  const bodiless = status === 204 || status === 205 || status === 304;
  return new Response(bodiless ? null : answer.body as BodyInit, { status, headers });
}

/**
 * `value` as a JSON answer's parts: for a route the services' own server answers, with no
 * Response built and read back.
 *
 * @example
 * ```ts
 * import { jsonAnswer } from "./answer.ts";
 * jsonAnswer({ applied: 2 }).body; // '{"applied":2}', with status 200 and type application/json
 * ```
 */
export function jsonAnswer(value: unknown, status = 200): WireAnswer {
  return { status, contentType: "application/json", body: JSON.stringify(value) };
}

/** 204 No Content, as parts. */
export const NO_CONTENT: Readonly<WireAnswer> = Object.freeze({ status: 204, body: "" });

const parts = new WeakMap<Response, WireAnswer>();

/**
 * `response`, remembered with the parts it was made of: a server can then write them as they are
 * instead of reading the body back. Only for a Response nothing changes afterwards.
 *
 * @example
 * ```ts
 * import { madeOf, partsOf } from "./answer.ts";
 * const body = '{"key":"k","value":"v"}';
 * const contentType = "application/json";
 * const answer = madeOf(new Response(body), { status: 200, contentType, body });
 * partsOf(answer)?.body; // the same string
 * ```
 */
export function madeOf(response: Response, answer: WireAnswer): Response {
  parts.set(response, answer);
  return response;
}

/** The parts `response` was made of, if {@link madeOf} remembered them. */
export function partsOf(response: Response): WireAnswer | undefined {
  return parts.get(response);
}
