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
