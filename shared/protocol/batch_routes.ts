// The batch routes both services serve, declared once: mget and mset of up to 1000 keys.

import { createRoute } from "@hono/zod-openapi";
import { errors, json } from "./route_parts.ts";
import { writeErrors } from "./key_routes.ts";
import { MAX_BATCH, MGetRequest, MGetResponse, MSetRequest } from "./wire.ts";

/** `POST /mget` and `POST /mset`. */
export const batchRoutes = {
  mget: createRoute({
    method: "post",
    path: "/mget",
    summary: "Get many keys",
    description: `Reads 1 to ${MAX_BATCH} keys in one call. Found items come in request order, ` +
      "repeats included; keys not stored are listed in `missing`. An answer carries values of " +
      "16 Mi characters in all at most.",
    tags: ["batch"],
    request: { body: { ...json(MGetRequest, "The keys"), required: true } },
    responses: {
      200: json(MGetResponse, "The items found and the keys missing"),
      ...errors({
        400: "The body is not valid",
        413: "The body is over its limit, or the values found are over 16 Mi characters in all " +
          "(a value's limit, when that is more): ask for fewer keys at once",
        415: "The body is not application/json",
      }),
    },
  }),
  mset: createRoute({
    method: "post",
    path: "/mset",
    summary: "Set many keys",
    description: `Writes 1 to ${MAX_BATCH} items, each with an optional ttl. One invalid item ` +
      "refuses the whole batch and nothing is written.",
    tags: ["batch"],
    request: { body: { ...json(MSetRequest, "The items"), required: true } },
    responses: { 204: { description: "Stored" }, ...errors(writeErrors) },
  }),
};
