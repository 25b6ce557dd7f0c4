// Fake nodes and placements the routing tests share: nodes answer through a fetch, no socket.

import type { Fetch } from "@cache/http1/fetch";
import { Ring } from "@cache/ring/ring";

/** Two nodes, `http://a:1` and `http://b:1`. */
export const ring = new Ring(["http://a:1", "http://b:1"]);

/** A settled placement on `r` in epoch 7, one copy of each key. */
export const placement = (r: Ring) => ({ ring: r, epoch: 7, replicas: 1, unsettledRings: [] });

/** A settled placement on one node, `http://a:1`, in epoch 7. */
export const oneNode = {
  ring: new Ring(["http://a:1"]),
  epoch: 7,
  replicas: 1,
  unsettledRings: [],
};

/** A node that holds every answer until the test lets it go, recording each call. */
export function heldNode(answer: (method: string, path: string, body: string) => Response) {
  const calls: string[] = [];
  const gates: (() => void)[] = [];
  const fetch: Fetch = async (input, init) => {
    const path = new URL(String(input)).pathname;
    const body = typeof init?.body === "string" ? init.body : "";
    calls.push(`${init?.method ?? "GET"} ${path}${body ? ` ${body}` : ""}`);
    await new Promise<void>((resolve) => gates.push(resolve));
    return answer(init?.method ?? "GET", path, body);
  };
  const release = () => gates.splice(0).forEach((go) => go());
  return { calls, fetch, release };
}
