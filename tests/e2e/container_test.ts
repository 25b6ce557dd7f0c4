// The same end-to-end scenarios as the process tests, on containers built from the Dockerfiles.
// With no container runtime (as on this project's CI), every one is reported as ignored.

import { Containers, containersUnavailable } from "../support/containers.ts";
import { scenarios } from "../support/scenarios.ts";

const unavailable = await containersUnavailable();
if (unavailable) {
  console.log(`Container scenarios ignored: no container runtime (${unavailable})`);
}

for (const scenario of scenarios) {
  Deno.test({
    name: `[containers] ${scenario.name}`,
    ignore: unavailable !== undefined,
    // testcontainers keeps sockets to the container runtime open between tests.
    sanitizeResources: false,
    sanitizeOps: false,
    async fn() {
      const containers = new Containers();
      try {
        await scenario.run(containers);
      } finally {
        await containers.stopAll();
      }
    },
  });
}
