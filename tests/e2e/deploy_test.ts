// Static checks of what cannot be built here: the Dockerfiles, the Kubernetes manifests, skaffold.

import assert from "node:assert/strict";
import { validate as lintDockerfile } from "dockerfile-utils";
import { parse, parseAllDocuments } from "yaml";
import { ConfigMap, Service, ServiceAccount } from "kubernetes-models/v1";
import { Role, RoleBinding } from "kubernetes-models/rbac.authorization.k8s.io/v1";
import { Deployment, StatefulSet } from "kubernetes-models/apps/v1";
import { PodDisruptionBudget } from "kubernetes-models/policy/v1";
import { DRAIN_TIMEOUT_MS, masterSettings } from "../../master/config.ts";
import { loadConfig, nodeSettings, STOP_AFTER_HANDOVER_MS } from "../../node/config.ts";
import { SCALAR_BUNDLE_PATH } from "@cache/service/api";
import { HARD_STOP_MS } from "@cache/service/serve";
import { DOCUMENTS, renderDocuments } from "../../tools/openapi.ts";

const root = new URL("../../", import.meta.url);
const read = (path: string) => Deno.readTextFileSync(new URL(path, root));

const services = {
  master: {
    image: "cache-master",
    port: 8080,
    settings: masterSettings,
    document: DOCUMENTS.master,
  },
  node: { image: "cache-node", port: 8081, settings: nodeSettings, document: DOCUMENTS.node },
} as const;
type ServiceName = keyof typeof services;

/** Source of a service's binary: its folder and shared/, tests and benchmarks left out. */
function sources(service: ServiceName): string {
  const texts: string[] = [];
  const walk = (dir: string) => {
    for (const entry of Deno.readDirSync(new URL(`${dir}/`, root))) {
      const path = `${dir}/${entry.name}`;
      if (entry.isDirectory) walk(path);
      else if (path.endsWith(".ts") && !/_(test|bench)\.ts$/.test(path)) texts.push(read(path));
    }
  };
  walk(service);
  walk("shared");
  return texts.join("\n");
}

for (const [name, service] of Object.entries(services) as [ServiceName, typeof services.master][]) {
  Deno.test(`Dockerfile_${name} compiles ${name}/main.ts in one stage and runs it alone as non-root`, () => {
    const dockerfile = read(`Dockerfile_${name}`);
    const stages = dockerfile.match(/^FROM .+$/gm) ?? [];
    assert.equal(stages.length, 2, "a build stage and a final stage");
    assert.match(stages[0], /^FROM denoland\/deno:2\.9\.6 AS build$/);
    assert.match(stages[1], /^FROM (gcr\.io\/distroless\/cc|debian:[\w.-]+-slim)/);
    assert.match(dockerfile, /RUN deno install --frozen/);
    const compile = /RUN deno compile([\s\S]+?)\n\n/.exec(dockerfile)?.[1] ?? "";
    assert.match(compile, new RegExp(`--output /out/${name} ${name}/main\\.ts`));
    assert.ok(compile.includes(`--include ${SCALAR_BUNDLE_PATH}`), "embeds the Scalar bundle");
    assert.doesNotMatch(compile, /--allow-all|-A\b|--allow-run|--allow-write|--allow-ffi/);

    const final = dockerfile.slice(dockerfile.indexOf(stages[1]));
    assert.deepEqual(final.match(/^COPY .+$/gm), [`COPY --from=build /out/${name} /app/${name}`]);
    const user = /^USER (\S+)/m.exec(final)?.[1] ?? "root";
    assert.ok(!/^(root|0)(:|$)/.test(user), `runs as ${user}`);
    assert.match(final, new RegExp(`^EXPOSE ${service.port}$`, "m"));
    assert.match(final, new RegExp(`^ENTRYPOINT \\["/app/${name}"\\]$`, "m"));
  });

  Deno.test(`Dockerfile_${name} grants every permission ${name}'s code uses`, () => {
    const code = sources(name);
    const compile = /RUN deno compile([\s\S]+?)\n\n/.exec(read(`Dockerfile_${name}`))?.[1] ?? "";
    const needs: [RegExp, string][] = [
      [/Deno\.env\.|Deno\.env\b/, "--allow-env"],
      [/Deno\.serve\(|\bfetch\b/, "--allow-net"],
      [/Deno\.readFile|Deno\.readTextFile/, "--allow-read"],
    ];
    for (const [use, flag] of needs) {
      if (use.test(code)) {
        assert.ok(compile.includes(flag), `${name} uses ${use} but lacks ${flag}`);
      }
    }
    assert.doesNotMatch(code, /Deno\.Command|Deno\.writeFile|Deno\.writeTextFile|Deno\.dlopen/);
  });

  Deno.test(`Dockerfile_${name} installs what ${name} runs on and none of the tests' packages`, async () => {
    // deno compile embeds the whole node_modules directory: a plain install put a browser driver
    // and a container client in both binaries. The install step is run as the image runs it.
    const dockerfile = read(`Dockerfile_${name}`);
    const install = /^RUN (deno install [\s\S]+?[^\\])\n/m.exec(dockerfile)?.[1]
      .replace(/\\\n\s*/g, "").split(/\s+/) ?? [];
    const scalar = JSON.parse(read("deno.json")).imports["@scalar/api-reference"];
    assert.deepEqual(install, [
      "deno",
      "install",
      "--frozen",
      "--unstable-npm-lazy-caching",
      "--entrypoint",
      `${name}/main.ts`,
      scalar,
    ]);
    const copied = dockerfile.indexOf(`COPY ${name}/`);
    assert.ok(copied >= 0 && copied < dockerfile.indexOf("RUN deno install"), "copied first");
    const build = await Deno.makeTempDir();
    try {
      const run = async (command: string, args: string[]) => {
        const done = await new Deno.Command(command, { args, cwd: build, stderr: "piped" })
          .output();
        assert.ok(
          done.success,
          `${command} ${args.join(" ")}: ${new TextDecoder().decode(done.stderr)}`,
        );
      };
      const copied = ["deno.json", "deno.lock", "shared", name].map((path) => new URL(path, root));
      await run("cp", ["-r", ...copied.map((url) => url.pathname), "."]);
      await run(Deno.execPath(), install.slice(1));
      // Linked at the top, and their files under node_modules/.deno, which is embedded too.
      const names = (dir: string) => [...Deno.readDirSync(dir)].map((entry) => entry.name);
      const installed = [
        ...names(`${build}/node_modules`),
        ...names(`${build}/node_modules/.deno`),
      ];
      for (const tests of ["playwright-core", "testcontainers", "kubernetes-models", "ioredis"]) {
        const found = installed.filter((entry) => entry === tests || entry.startsWith(`${tests}@`));
        assert.deepEqual(found, [], `${tests} installed`);
      }
      assert.ok(Deno.statSync(`${build}/${SCALAR_BUNDLE_PATH}`).isFile, "the Scalar bundle");
      await run(Deno.execPath(), ["run", "--cached-only", "-A", `${name}/main.ts`, "--help"]);
    } finally {
      await Deno.remove(build, { recursive: true });
    }
  });
}

Deno.test("both Dockerfiles pass the Dockerfile linter with no finding", () => {
  for (const name of Object.keys(services)) {
    const findings = lintDockerfile(read(`Dockerfile_${name}`), { deprecatedMaintainer: 1 });
    assert.deepEqual(findings.map((f) => `${f.range.start.line + 1}: ${f.message}`), [], name);
  }
  // The linter does find mistakes.
  assert.ok(lintDockerfile("FROM x\nEXPOSE eighty\n").length > 0);
});

Deno.test("deno task compile builds both binaries with the Dockerfiles' flags", () => {
  const task: string = JSON.parse(read("deno.json")).tasks.compile;
  for (const name of Object.keys(services)) {
    assert.match(task, new RegExp(`--output dist/${name} ${name}/main\\.ts`));
    // Every flag up to the output, the files it embeds included (the etcd client's proto/ too).
    const dockerFlags = /deno compile (--frozen[\s\S]+?) --output/.exec(
      read(`Dockerfile_${name}`),
    )![1]
      .replace(/\\\n\s*/g, "").replace(/\s+/g, " ").trim();
    assert.ok(dockerFlags.includes(`--include ${SCALAR_BUNDLE_PATH}`), name);
    assert.ok(task.includes(`${dockerFlags} --output dist/${name}`), `${name}: ${dockerFlags}`);
  }
});

Deno.test(".dockerignore keeps tests, docs and .git out of the build", () => {
  const ignored = read(".dockerignore").split("\n").map((line) => line.trim());
  for (const entry of [".git", "docs", "tests", "node_modules", "**/*_test.ts"]) {
    assert.ok(ignored.includes(entry), `${entry} is not ignored`);
  }
});

// deno-lint-ignore no-explicit-any
type Manifest = any;

function manifests(): { file: string; doc: Manifest }[] {
  const found: { file: string; doc: Manifest }[] = [];
  for (
    const entry of [...Deno.readDirSync(new URL("k8s/", root))].sort((a, b) =>
      a.name < b.name ? -1 : 1
    )
  ) {
    if (!entry.name.endsWith(".yaml")) continue;
    for (const doc of parseAllDocuments(read(`k8s/${entry.name}`))) {
      assert.deepEqual(doc.errors, [], `k8s/${entry.name} is not valid YAML`);
      found.push({ file: entry.name, doc: doc.toJS() });
    }
  }
  return found;
}

const models: Record<string, new (data: Manifest) => { validate(): void }> = {
  "v1/ConfigMap": ConfigMap,
  "v1/Service": Service,
  "apps/v1/Deployment": Deployment,
  "apps/v1/StatefulSet": StatefulSet,
  "policy/v1/PodDisruptionBudget": PodDisruptionBudget,
  "v1/ServiceAccount": ServiceAccount,
  "rbac.authorization.k8s.io/v1/Role": Role,
  "rbac.authorization.k8s.io/v1/RoleBinding": RoleBinding,
};

Deno.test("every manifest in k8s/ is valid against the Kubernetes schemas", () => {
  const all = manifests();
  assert.ok(all.length >= 6);
  for (const { file, doc } of all) {
    const Model = models[`${doc.apiVersion}/${doc.kind}`];
    assert.ok(Model, `${file}: no schema for ${doc.apiVersion} ${doc.kind}`);
    new Model(doc).validate();
  }
  // The schemas do catch mistakes: a port given as words is refused.
  const [master] = all.filter(({ doc }) => doc.kind === "Deployment");
  const broken = structuredClone(master.doc);
  broken.spec.template.spec.containers[0].ports[0].containerPort = "eighty";
  assert.throws(() => new Deployment(broken).validate());
});

function workloads() {
  return manifests().filter(({ doc }) => doc.kind === "Deployment" || doc.kind === "StatefulSet")
    .map(({ doc }) => {
      const container = doc.spec.template.spec.containers[0];
      const name = (Object.keys(services) as ServiceName[])
        .find((n) => services[n].image === container.image);
      assert.ok(name, `unknown image ${container.image}`);
      return { doc, container, name: name!, service: services[name!] };
    });
}

Deno.test("manifests use the images skaffold builds from the two Dockerfiles", () => {
  const skaffold = parse(read("skaffold.yaml"));
  assert.match(skaffold.apiVersion, /^skaffold\/v4beta\d+$/);
  const built = Object.fromEntries(
    skaffold.build.artifacts.map((a: Manifest) => [a.image, a.docker.dockerfile]),
  );
  assert.deepEqual(built, { "cache-master": "Dockerfile_master", "cache-node": "Dockerfile_node" });
  assert.deepEqual(skaffold.manifests.rawYaml, ["k8s/*.yaml"]);
  assert.deepEqual(workloads().map((w) => w.container.image).sort(), [
    "cache-master",
    "cache-node",
  ]);
});

Deno.test("probes and ports match routes and defaults the services really have", async () => {
  const documents = await renderDocuments();
  for (const { container, service } of workloads()) {
    const paths = parse(documents[service.document]).paths;
    assert.equal(container.readinessProbe.httpGet.path, "/ready");
    assert.equal(container.livenessProbe.httpGet.path, "/live");
    for (const probe of [container.readinessProbe, container.livenessProbe]) {
      assert.ok(paths[probe.httpGet.path]?.get, `${probe.httpGet.path} is not a route`);
      const port = container.ports.find((p: Manifest) => p.name === probe.httpGet.port);
      assert.equal(port.containerPort, service.port);
    }
    const env = Object.fromEntries(container.env.map((e: Manifest) => [e.name, e.value]));
    assert.equal(Number(env.PORT), service.port);
  }
  const all = manifests().map(({ doc }) => doc);
  const masterService = all.find((d) =>
    d.kind === "Service" && d.metadata.name === "master-service"
  );
  assert.equal(masterService.spec.type, "NodePort");
  assert.equal(masterService.spec.ports[0].port, 8080);
  const statefulSet = all.find((d) => d.kind === "StatefulSet");
  const headless = all.find((d) =>
    d.kind === "Service" && d.metadata.name === statefulSet.spec.serviceName
  );
  assert.equal(headless.spec.clusterIP, "None");
  const node = workloads().find((w) => w.name === "node")!.container;
  const env = Object.fromEntries(node.env.map((e: Manifest) => [e.name, e.value]));
  assert.equal(env.ADVERTISE_URL, `http://$(POD_NAME).${headless.metadata.name}:8081`);
  const mastersHeadless = all.find((d) =>
    d.kind === "Service" && d.metadata.name === "master-headless"
  );
  assert.equal(mastersHeadless.spec.clusterIP, "None");
  assert.equal(mastersHeadless.spec.publishNotReadyAddresses, true, "nodes reach unready masters");
  assert.equal(env.MASTER_URL, `http://${mastersHeadless.metadata.name}:8080`);
  // The store's bound is a share of the container's limit, which the node is given in bytes.
  const limit = node.env.find((e: Manifest) => e.name === "MEMORY_LIMIT").valueFrom;
  assert.deepEqual(limit, {
    resourceFieldRef: { containerName: "node", resource: "limits.memory" },
  });
  const limitBytes = quantityBytes(node.resources.limits.memory);
  const config = loadConfig({ MAX_MEMORY: env.MAX_MEMORY, MEMORY_LIMIT: String(limitBytes) }, []);
  assert.ok(
    config.maxMemoryBytes >= Math.floor(0.7 * limitBytes),
    `MAX_MEMORY is ${env.MAX_MEMORY}`,
  );
});

Deno.test("every resourceFieldRef divisor is one the API server accepts", () => {
  // Kubernetes takes only these for memory (validContainerResourceDivisorForMemory).
  const accepted = [
    "1",
    "1k",
    "1M",
    "1G",
    "1T",
    "1P",
    "1E",
    "1Ki",
    "1Mi",
    "1Gi",
    "1Ti",
    "1Pi",
    "1Ei",
  ];
  for (const { container, name } of workloads()) {
    for (const env of container.env) {
      const divisor = env.valueFrom?.resourceFieldRef?.divisor;
      if (divisor !== undefined) {
        assert.ok(accepted.includes(String(divisor)), `${name}: ${divisor}`);
      }
    }
  }
});

/** Bytes of a Kubernetes memory quantity in binary units: `512Mi`, `1Gi`. */
function quantityBytes(quantity: string): number {
  const match = /^(\d+)(Ki|Mi|Gi)$/.exec(quantity);
  assert.ok(match, `not a binary quantity: ${quantity}`);
  return Number(match[1]) * 1024 ** (["Ki", "Mi", "Gi"].indexOf(match[2]) + 1);
}

Deno.test("every env name in the manifests is one the services' config loaders read", () => {
  const all = manifests().map(({ doc }) => doc);
  const read = (name: ServiceName) =>
    new Set(Object.values(services[name].settings).map((s) => s.env));
  for (const { container, name } of workloads()) {
    const values = container.env.map((e: Manifest) => e.value ?? "").join(" ");
    for (const { name: env } of container.env) {
      const helper = values.includes(`$(${env})`); // only feeds another variable
      assert.ok(read(name).has(env) || helper, `${name} does not read ${env}`);
    }
  }
  const config = all.find((d) => d.kind === "ConfigMap");
  for (const key of Object.keys(config.data)) {
    assert.ok(read("master").has(key) || read("node").has(key), `nothing reads ${key}`);
  }
});

Deno.test("pods run as non-root with a read-only root and no privileges", () => {
  for (const { doc, container } of workloads()) {
    const pod = doc.spec.template.spec;
    assert.equal(pod.securityContext.runAsNonRoot, true);
    assert.ok(pod.terminationGracePeriodSeconds >= 25, "room for a graceful leave");
    // A service's whole shutdown, until it ends itself regardless, fits in its grace period:
    // a node's handover and what follows it.
    const grace = pod.terminationGracePeriodSeconds * 1000;
    const handover = container.env.find((e: { name: string }) => e.name === "HANDOVER_TIMEOUT_MS");
    if (handover) {
      assert.ok(Number(handover.value) + STOP_AFTER_HANDOVER_MS + HARD_STOP_MS <= grace);
    }
    assert.deepEqual(container.securityContext, {
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ["ALL"] },
    });
    // Requested as limited: a node fills 70 % of its limit by design, and a pod above its request
    // is the first the kubelet evicts under memory pressure.
    assert.ok(container.resources.limits.memory, "a memory limit");
    assert.equal(container.resources.requests.memory, container.resources.limits.memory);
    // A master stops listening at once on SIGTERM: it waits for its endpoints to drop first, and
    // that wait and its drain fit in the grace period.
    if (doc.metadata.name === "master") {
      const wait = container.lifecycle?.preStop?.sleep?.seconds ?? 0;
      assert.ok(wait >= 5, `a preStop wait of ${wait} s`);
      assert.ok(wait * 1000 + DRAIN_TIMEOUT_MS + HARD_STOP_MS <= grace);
    }
  }
  const budgets = manifests().map(({ doc }) => doc).filter((d) => d.kind === "PodDisruptionBudget");
  const budget = (name: string) =>
    budgets.find((d) => d.spec.selector.matchLabels["app.kubernetes.io/name"] === name);
  assert.equal(budget("node").spec.maxUnavailable, 1, "nodes leave one at a time");
  assert.equal(budget("master").spec.minAvailable, 1, "a master always routes");
});

Deno.test("the masters elect through a Lease their service account may get, create and update", () => {
  const all = manifests().map(({ doc }) => doc);
  const master = workloads().find((w) => w.name === "master")!;
  const pod = master.doc.spec.template.spec;
  assert.ok(master.doc.spec.replicas >= 2, "more than one master");
  const env = Object.fromEntries(master.container.env.map((e: Manifest) => [e.name, e.value]));
  assert.equal(env.ELECTION, "kubernetes");
  assert.equal(env.ADVERTISE_URL, "http://$(POD_IP):8080");
  const account = all.find((d) => d.kind === "ServiceAccount");
  assert.equal(pod.serviceAccountName, account.metadata.name);
  const binding = all.find((d) => d.kind === "RoleBinding");
  assert.deepEqual(binding.subjects, [{ kind: "ServiceAccount", name: account.metadata.name }]);
  const role = all.find((d) => d.kind === "Role" && d.metadata.name === binding.roleRef.name);
  const verbs = role.rules.filter((r: Manifest) =>
    r.apiGroups.includes("coordination.k8s.io") && r.resources.includes("leases") &&
    (!r.resourceNames || r.resourceNames.includes(env.ELECTION_NAME))
  ).flatMap((r: Manifest) => r.verbs);
  assert.deepEqual(verbs.sort(), ["create", "get", "update"]);
});
