// Runs the master and nodes as containers built from the Dockerfiles, on one private network.

import {
  GenericContainer,
  getContainerRuntimeClient,
  Network,
  type StartedNetwork,
  type StartedTestContainer,
  Wait,
} from "testcontainers";
import type { Harness, Service } from "./harness.ts";

const root = new URL("../../", import.meta.url).pathname;

/**
 * Resolves to why containers cannot run here, or `undefined` when a container runtime answers.
 * testcontainers rejects within milliseconds when it finds none.
 */
export async function containersUnavailable(): Promise<string | undefined> {
  try {
    await getContainerRuntimeClient();
    return undefined;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}

const images = new Map<string, Promise<GenericContainer>>(); // built once per test run

function image(service: "master" | "node"): Promise<GenericContainer> {
  let built = images.get(service);
  if (!built) {
    built = GenericContainer.fromDockerfile(root, `Dockerfile_${service}`)
      .build(`cache-${service}:e2e`, { deleteOnExit: false });
    images.set(service, built);
  }
  return built;
}

/** A harness whose services are containers; nodes reach the master as `http://master:8080`. */
export class Containers implements Harness {
  #network: Promise<StartedNetwork> | undefined;
  readonly #started: StartedTestContainer[] = [];
  #nodes = 0;

  masterAddress(): string {
    return "http://master:8080";
  }

  async master(options: { at?: string; args?: string[] } = {}): Promise<Service> {
    const container = (await image("master"))
      .withNetwork(await this.#networkStarted())
      .withNetworkAliases("master")
      .withExposedPorts(8080)
      .withCommand(options.args ?? []);
    return await this.#start(container, 8080, this.masterAddress());
  }

  async node(masterAddress: string, args: string[] = []): Promise<Service> {
    const alias = `node-${++this.#nodes}`;
    const address = `http://${alias}:8081`;
    const container = (await image("node"))
      .withNetwork(await this.#networkStarted())
      .withNetworkAliases(alias)
      .withExposedPorts(8081)
      .withEnvironment({ MASTER_URL: masterAddress, ADVERTISE_URL: address })
      .withCommand(["--heartbeat-ms", "100", ...args]);
    return await this.#start(container, 8081, address);
  }

  async stopAll(): Promise<void> {
    await Promise.allSettled(this.#started.splice(0).map((c) => c.stop({ timeout: 0 })));
    const network = this.#network;
    this.#network = undefined;
    if (network) await (await network).stop();
  }

  #networkStarted(): Promise<StartedNetwork> {
    this.#network ??= new Network().start();
    return this.#network;
  }

  async #start(container: GenericContainer, port: number, address: string): Promise<Service> {
    const started = await container
      .withWaitStrategy(Wait.forLogMessage(/"msg":"listening"/))
      .start();
    this.#started.push(started);
    const logs: Record<string, unknown>[] = [];
    (await started.logs()).on("data", (chunk: Uint8Array | string) => {
      for (const line of String(chunk).split("\n")) {
        try {
          logs.push(JSON.parse(line));
        } catch {
          // not a log line
        }
      }
    });
    return {
      url: `http://${started.getHost()}:${started.getMappedPort(port)}`,
      address,
      logs,
      stop: async (signal = "SIGTERM") => {
        const client = await getContainerRuntimeClient();
        const raw = client.container.getById(started.getId());
        await raw.kill({ signal });
        const { StatusCode } = await raw.wait();
        return StatusCode;
      },
    };
  }
}
