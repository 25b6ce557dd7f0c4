// A stand-in for the Kubernetes API server's Lease endpoints, for tests: it keeps Leases in
// memory and answers as the API server does, including 409 on a stale resourceVersion and 400 on
// a MicroTime without six fractional digits. It is not Kubernetes; minikube runs the real thing.

const PREFIX = "/apis/coordination.k8s.io/v1/namespaces/";
const MICRO_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/;

interface Lease {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace: string; resourceVersion: string };
  spec: Record<string, unknown>;
}

/** A running stand-in on 127.0.0.1, and every request it answered. */
export interface LeaseStandIn {
  url: string;
  token: string;
  /** Method and path of each request, in order. */
  requests: string[];
  leases: Map<string, Lease>;
  close(): Promise<void>;
}

/** Starts the stand-in on a free port; requests need `Bearer <token>`. */
export function startLeaseStandIn(token = "stand-in-token"): LeaseStandIn {
  const leases = new Map<string, Lease>();
  const requests: string[] = [];
  let version = 100;
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    async (request) => {
      const path = new URL(request.url).pathname;
      requests.push(`${request.method} ${path}`);
      if (request.headers.get("authorization") !== `Bearer ${token}`) {
        return status(401, "Unauthorized", "Unauthorized");
      }
      const match = path.startsWith(PREFIX) &&
        path.slice(PREFIX.length).match(/^([^/]+)\/leases(?:\/([^/]+))?$/);
      if (!match) {
        return status(404, "NotFound", "the server could not find the requested resource");
      }
      const [, namespace, name] = match;
      if (request.method === "GET" && name) {
        const lease = leases.get(`${namespace}/${name}`);
        return lease ? Response.json(lease) : status(404, "NotFound", `leases "${name}" not found`);
      }
      const body = await request.json() as Lease;
      const invalid = ["acquireTime", "renewTime"].find((field) => {
        const value = body.spec?.[field];
        return value !== undefined && !(typeof value === "string" && MICRO_TIME.test(value));
      });
      if (invalid) {
        return status(400, "BadRequest", `spec.${invalid}: parsing time as MicroTime failed`);
      }
      const key = `${namespace}/${name ?? body.metadata.name}`;
      const current = leases.get(key);
      if (request.method === "POST" && !name) {
        if (current) return status(409, "AlreadyExists", `leases "${body.metadata.name}" exists`);
      } else if (request.method === "PUT" && name) {
        if (!current) return status(404, "NotFound", `leases "${name}" not found`);
        if (body.metadata.resourceVersion !== current.metadata.resourceVersion) {
          return status(
            409,
            "Conflict",
            "the object has been modified; please apply your changes " +
              "to the latest version and try again",
          );
        }
      } else return status(405, "MethodNotAllowed", "method not allowed");
      const stored: Lease = {
        apiVersion: "coordination.k8s.io/v1",
        kind: "Lease",
        metadata: {
          name: name ?? body.metadata.name,
          namespace,
          resourceVersion: String(++version),
        },
        spec: body.spec,
      };
      leases.set(key, stored);
      return Response.json(stored, { status: request.method === "POST" ? 201 : 200 });
    },
  );
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    token,
    requests,
    leases,
    close: () => server.shutdown(),
  };
}

function status(code: number, reason: string, message: string): Response {
  return Response.json(
    { kind: "Status", apiVersion: "v1", status: "Failure", message, reason, code },
    { status: code },
  );
}
