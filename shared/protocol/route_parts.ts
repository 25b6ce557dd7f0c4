// The pieces route declarations are built from: the error body and JSON bodies for `createRoute`.

import { z } from "@hono/zod-openapi";

/**
 * The body of every error response. Declared with `.openapi()`, not `.meta()`: a route that
 * extends it (the master's `Rejoin`) is documented as `allOf` this schema and its own fields.
 */
export const ErrorBody = z.object({
  error: z.string().openapi({ example: 'Key "user:42" not found' }),
}).openapi("Error");

/** An error body. */
export type ErrorBody = z.infer<typeof ErrorBody>;

/** The error body of a write sent to a node that is not its key's primary in its ring (421). */
export const MisdirectedBody = ErrorBody.extend({
  epoch: z.number().int().optional().meta({
    description: "The ring epoch the node knows: route by that ring",
  }),
  owner: z.string().optional().meta({ description: "The key's primary in that ring" }),
}).openapi("Misdirected");

/** The error body of copies a node has no room for (413, 507 of `/replicate`): it took the rest. */
export const CopiesRefusedBody = ErrorBody.extend({
  refused: z.array(z.string()).optional().meta({
    description: "The keys of the copies refused; every other entry was applied or was not newer",
  }),
}).openapi("CopiesRefused");

/** The error body of a write that failed on its way to, or at, a key's owners (502, 504). */
export const WriteFailureBody = ErrorBody.extend({
  unreplicated: z.array(z.string()).optional().meta({
    description: "Keys stored on their primary that a backup did not take",
  }),
  late: z.boolean().optional().meta({
    description: "true: refused as come past its sender's deadline, nothing applied",
  }),
}).openapi("WriteFailure");

/**
 * {@link errors}' declarations with `schemas` in place of the shared error body, for the statuses
 * they name.
 *
 * @example
 * ```ts
 * import { errors, MisdirectedBody, withBodies } from "./route_parts.ts";
 * withBodies(errors({ 421: "Not this node's key" }), { 421: MisdirectedBody });
 * ```
 */
export function withBodies<D extends Record<number, { description: string }>>(
  declared: D,
  schemas: Partial<Record<keyof D, z.ZodType>>,
): D {
  const out: Record<number, unknown> = { ...declared };
  for (const [status, schema] of Object.entries(schemas) as [string, z.ZodType][]) {
    const answer = (declared as Record<number, { description: string }>)[Number(status)];
    if (answer) out[Number(status)] = json(schema, answer.description);
  }
  return out as D;
}

/**
 * Error responses for a route, each with the shared error body.
 *
 * @example
 * ```ts
 * import { errors } from "./route_parts.ts";
 * const responses = { ...errors({ 400: "The key is not valid", 404: "The key is not stored" }) };
 * ```
 */
export function errors<S extends number>(described: Record<S, string>) {
  const entries = Object.entries(described).map(([status, description]) => [
    status,
    { description, content: { "application/json": { schema: ErrorBody } } },
  ]);
  return Object.fromEntries(entries) as Record<
    S,
    { description: string; content: { "application/json": { schema: typeof ErrorBody } } }
  >;
}

/**
 * A JSON body or response declaration for `createRoute`.
 *
 * @example
 * ```ts
 * import { json } from "./route_parts.ts";
 * import { KeyValue } from "./wire.ts";
 * const ok = { 200: json(KeyValue, "The key and its value") };
 * ```
 */
export function json<T extends z.ZodType>(schema: T, description: string) {
  return { description, content: { "application/json": { schema } } };
}
