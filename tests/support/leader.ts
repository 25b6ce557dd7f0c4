// Which master leads, as the masters under test see it: for the election tests.

import { type ProcessService, waitFor } from "./process.ts";

/** What a master's `GET /leader` answers. */
export interface Election {
  self: string;
  leader: string | null;
  leading: boolean;
  term: number;
}

/** The election as the master at `url` sees it. */
export async function election(url: string): Promise<Election> {
  return await (await fetch(`${url}/leader`)).json();
}

/** The master every live master of `masters` names as leader, once they agree. */
export async function leaderOf(masters: ProcessService[], ms = 10_000): Promise<ProcessService> {
  return await waitFor(
    async () => {
      const seen = await Promise.all(masters.map((m) => election(m.url)));
      const leader = seen.find((e) => e.leading);
      if (!leader || !seen.every((e) => e.leader === leader.self)) return undefined;
      return masters.find((m) => m.url === leader.self);
    },
    "one leader all masters agree on",
    ms,
  );
}
