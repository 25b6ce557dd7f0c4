// The election as one master sees it: what `/leader` and the dashboard report.

import { z } from "@hono/zod-openapi";

/** Who leads the masters, as one master sees it. */
export const Election = z.object({
  mode: z.enum(["none", "kubernetes", "etcd"]),
  self: z.string().openapi({ description: "This master's advertised URL" }),
  leader: z.string().nullable().openapi({ description: "The leader's URL; null while none" }),
  leading: z.boolean(),
  term: z.number().int().min(0),
}).openapi("Election");

/** Who leads the masters, as one master sees it. */
export type Election = z.infer<typeof Election>;
