// Registration, heartbeat and deregistration of nodes, and the views of the membership.

import { NODE_TIME_HEADER, type NodeClocks } from "@cache/protocol/node_clocks";
import { Election } from "../election.ts";
import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { getConnInfo } from "hono/deno";
import { ErrorBody, errors, json } from "@cache/protocol/route_parts";
import { boundAddress } from "@cache/service/auth";
import { HttpError } from "@cache/protocol/errors";
import { RECOVERING, stillRecovering } from "../../membership/recovery.ts";
import {
  Address,
  decimal,
  KeyParam,
  LEASE_HEADER,
  NodeList,
  RegisterRequest,
  RingView,
} from "@cache/protocol/wire";
import type { Follower } from "../../membership/follower.ts";
import type { Registry } from "../../membership/registry.ts";
import { relay } from "../relay.ts";

const register = createRoute({
  method: "post",
  path: "/register",
  summary: "Register or heartbeat",
  description: "A node calls this on start and then every heartbeat. With no body, the node's " +
    "address is the caller's IP with port 8080. Answers the current ring; the leading master " +
    "also answers `x-lease-ms`, the milliseconds from sending this heartbeat for which the node " +
    "may act as a primary of that ring, less the time since the master last reached the node " +
    "(0 once that is longer than the lease).",
  tags: ["membership"],
  request: {
    query: z.object({
      movingFrom: z.enum(["true", "false"]).optional().meta({
        description: "`true` names the rings keys move from in the answer (`movingFrom`): a " +
          "follower forwarding a registration takes the ring answered",
      }),
    }),
    body: { ...json(RegisterRequest, "The node's address"), required: false },
  },
  responses: {
    201: json(RingView, "A node the master did not know is registered"),
    200: json(
      RingView,
      "A known node's heartbeat is recorded, or a leaving node the master does not know is " +
        "kept out of the ring",
    ),
    409: json(
      ErrorBody.extend({ term: z.number().int().min(0) }).openapi("Rejoin"),
      "The node was marked down: it must drop its keys and register again, unless the " +
        "answer's `term` is older than the ring it has",
    ),
    ...errors({
      400: "The address is not a URL, not https in a cluster that runs over TLS, or a master's " +
        "(its `/live` names the service)",
      403: "The node token is bound to another address",
      415: "The body is not application/json",
      502: "The master cannot call the node at its address (unreachable, or a certificate " +
        "the master does not trust): it does not join the ring",
      503: "A follower could not pass a registration change to a leader, a master that just " +
        "started is still learning the last ring from its nodes, or a leaving node marked down " +
        "beats while a flush's first round is under way: beat again",
    }),
  },
});

const deregister = createRoute({
  method: "delete",
  path: "/register/{address}",
  summary: "Deregister a node",
  description: "Removes a node, URL-encoded in the path, from the cluster.",
  tags: ["membership"],
  request: {
    params: z.object({
      // .meta(), as Address is a plain zod schema: .openapi() exists only on schemas made after
      // @hono/zod-openapi was loaded, which depends on import order.
      address: Address.meta({
        param: { name: "address", in: "path" },
        example: "http%3A%2F%2F127.0.0.1%3A8081",
      }),
    }),
  },
  responses: {
    204: { description: "Removed" },
    ...errors({
      400: "The address is not a URL",
      403: "The node token is bound to another address",
      404: "The node is not registered",
      503: "A follower could not pass the change to a leader",
    }),
  },
});

const nodes = createRoute({
  method: "get",
  path: "/nodes",
  summary: "List nodes",
  description: "Every node the master knows, up or down, with the ring epoch.",
  tags: ["membership"],
  responses: {
    200: json(NodeList, "The nodes"),
    ...errors({ 503: RECOVERING }),
  },
});

/** The longest a `GET /ring` long poll waits. */
export const MAX_RING_WAIT_MS = 30_000;

const ring = createRoute({
  method: "get",
  path: "/ring",
  summary: "The ring",
  description:
    "The up nodes and ring settings; with the shared ring module they place every key. " +
    "With `term`, `epoch` (and `settled`, `version`) of the ring the caller has, the answer " +
    "waits up to `waitMs` for a change (a long poll: followers track the leader this way). " +
    "`movingFrom=true` adds the rings keys may still be moving from.",
  tags: ["membership"],
  request: {
    query: z.object({
      term: decimal(z.number().int().min(0)).optional(),
      epoch: decimal(z.number().int().min(0)).optional(),
      settled: z.enum(["true", "false"]).optional(),
      version: decimal(z.number().int().min(0)).optional(),
      waitMs: decimal(z.number().int().min(0).max(MAX_RING_WAIT_MS)).optional(),
      movingFrom: z.enum(["true", "false"]).optional(),
    }),
  },
  responses: {
    200: json(RingView, "The ring of the current epoch"),
    ...errors({
      400: "A query parameter is not a whole number in range",
      503: RECOVERING,
    }),
  },
});

const leader = createRoute({
  method: "get",
  path: "/leader",
  summary: "The leader",
  description: "Which master leads and in which term, as this master sees it.",
  tags: ["membership"],
  responses: { 200: json(Election, "The election as this master sees it") },
});

const owners = createRoute({
  method: "get",
  path: "/ring/owners/{key}",
  summary: "Owners of a key",
  description: "The nodes that own a key in the current ring: its primary, then its backups.",
  tags: ["membership"],
  request: { params: KeyParam },
  responses: {
    200: json(
      z.object({ key: z.string(), epoch: z.number().int(), owners: z.array(z.string()) })
        .openapi("Owners"),
      "The owners, primary first",
    ),
    ...errors({
      400: "The key is not valid",
      503: RECOVERING,
    }),
  },
});

/** What the membership routes serve from. */
export interface RegisterDeps {
  registry: Registry;
  /**
   * Resolves once the master can call the node at an address (throws HttpError saying why not):
   * a node joins the ring only then. None: every node is taken at its word.
   */
  reach?: (address: string) => Promise<void>;
  /** The cluster serves TLS: a node must register an `https://` address. */
  tls?: boolean;
  /** Learns each node's clock from the time its heartbeats carry, until its answers tell better. */
  clocks?: NodeClocks;
  /** A follower's link to the leader; none without election. */
  follower?: Follower;
  /** The election as this master sees it. */
  election: () => Election;
}

/** Serves `/register`, `/nodes`, `/ring`, `/ring/owners/{key}` and `/leader`. */
export function addRegisterRoutes(app: OpenAPIHono, deps: RegisterDeps): void {
  const { registry, follower } = deps;
  app.openapi(register, async (c) => {
    const beat = c.req.valid("json");
    const address = beat.address ?? callerAddress(c);
    checkBound(c.req.raw, address);
    if (deps.tls && !address.startsWith("https://")) {
      throw new HttpError(
        400,
        `Cannot register node ${address}: this cluster runs over TLS, so its address must be https`,
      );
    }
    // A leaving node joins nowhere: no need to check that it can be called.
    const joining = registry.leading && !beat.leaving &&
      (registry.status(address) ?? "down") === "down";
    if (joining && deps.reach) await deps.reach(address); // only a node the master can call
    const outcome = registry.heartbeat(address, beat);
    // Only from a heartbeat taken: one refused above may not speak for the address's clock.
    deps.clocks?.seed(address, c.req.header(NODE_TIME_HEADER) ?? null, deps.clocks.now());
    if (outcome === "forward" && follower) {
      const body = JSON.stringify({ ...beat, address });
      const headers = { "content-type": "application/json" };
      const init = { method: "POST", body, headers };
      return relay(follower.forward("/register?movingFrom=true", init));
    }
    if (outcome === "rejoin") {
      return c.json(
        { error: `Node ${address} was marked down: rejoin empty`, term: registry.term },
        409,
      );
    }
    if (outcome === "recovering") throw stillRecovering();
    if (outcome === "flushing") {
      // A leaving node marked down: whether the flush empties it is known after its first round.
      throw new HttpError(503, "A flush is under way: beat again once its first round is over");
    }
    // Only the leader grants a lease: a follower's answer does not show it still owns its keys.
    const lease = registry.leading
      ? { [LEASE_HEADER]: String(registry.leaseMsFor(address)) }
      : undefined;
    const movingFrom = c.req.valid("query").movingFrom === "true";
    return c.json(registry.view({ movingFrom }), outcome === "new" ? 201 : 200, lease);
  });

  app.openapi(deregister, (c) => {
    const { address } = c.req.valid("param");
    checkBound(c.req.raw, address);
    if (!registry.leading && follower) {
      const path = `/register/${encodeURIComponent(address)}`;
      return relay(follower.forward(path, { method: "DELETE" }));
    }
    if (!registry.deregister(address)) {
      return c.json({ error: `Node ${address} is not registered` }, 404);
    }
    return c.body(null, 204);
  });

  app.openapi(nodes, (c) => {
    if (registry.recovering) throw stillRecovering(); // an empty list would read as no node
    return c.json(registry.list(), 200);
  });
  app.openapi(ring, async (c) => {
    // Not a ring to follow: an empty one would tell every node to drop what it holds.
    if (registry.recovering) throw stillRecovering();
    const { term, epoch, settled, version, waitMs, movingFrom } = c.req.valid("query");
    const same = term === registry.term && epoch === registry.epoch &&
      (settled === undefined || settled === String(registry.settled)) &&
      (version === undefined || version === registry.version);
    if (same && waitMs) {
      await registry.changed(waitMs);
    }
    return c.json(registry.view({ movingFrom: movingFrom === "true" }), 200);
  });
  app.openapi(leader, (c) => c.json(deps.election(), 200));
  app.openapi(owners, (c) => {
    if (registry.recovering) throw stillRecovering();
    const { key } = c.req.valid("param");
    const found = registry.ring.owners(key, registry.replicas);
    return c.json({ key, epoch: registry.epoch, owners: found }, 200);
  });
}

/** Throws 403 when the request's node token is bound to another address than `address`. */
function checkBound(request: Request, address: string): void {
  const bound = boundAddress(request);
  if (bound !== undefined && bound !== address) {
    throw new HttpError(
      403,
      `This node token is bound to ${bound}: it may not speak for ${address}`,
    );
  }
}

/** The caller's IP with port 8080, as a node address. */
function callerAddress(c: Context): string {
  let ip: string | undefined;
  try {
    ip = getConnInfo(c).remote.address;
  } catch {
    ip = undefined; // not served by Deno.serve, e.g. app.request() in a test
  }
  if (!ip) {
    throw new HttpError(400, "Cannot register: no address given and the caller's IP is unknown");
  }
  if (ip.startsWith("::ffff:")) ip = ip.slice("::ffff:".length);
  return ip.includes(":") ? `http://[${ip}]:8080` : `http://${ip}:8080`;
}
