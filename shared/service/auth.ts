// Bearer tokens with roles: parsed from a file or the environment, kept only as SHA-256 digests.

import type { MiddlewareHandler } from "hono";
import { parseOrigin } from "@cache/protocol/origin";
import { Sha256 } from "./sha256.ts";

/** What a token may do: client (keys), node (membership and peer routes), admin (everything). */
export type Role = "client" | "node" | "admin";

/** Every role. */
export const ROLES: readonly Role[] = ["client", "node", "admin"];

/** A token's role, stored as the SHA-256 digest of the token. */
interface Grant {
  role: Role;
  digest: Uint8Array;
  /** A node token bound to one node: it may register (and deregister) only this address. */
  address?: string;
}

/** A parsed token: its role, the token, and for a node token, the address it is bound to. */
export type Token = [role: Role, token: string, address?: string];

/** A token file or `AUTH_TOKENS` value that cannot be read; the message says where. */
export class AuthConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "AuthConfigError";
  }
}

/**
 * Whether two digests of one length are equal, looking at every byte whatever differs: constant
 * time, as `timingSafeEqual()` of node:crypto is, at 9.5-12.5 ns against its 580-790 ns (a call
 * into the runtime per grant, on every request with a token; `shared/service/auth_bench.ts`).
 */
export function sameDigest(a: Uint8Array, b: Uint8Array): boolean {
  let difference = a.length ^ b.length;
  for (let i = 0; i < a.length; i++) difference |= a[i] ^ b[i];
  return difference === 0;
}

/**
 * Parses tokens: JSON (`{"admin": ["t1"], "client": ["t2", "t3"]}` or
 * `[{"role": "admin", "token": "t1"}]`, where a node token may carry the one `address` it may
 * register), or one `role:token` per line or per comma.
 *
 * @example
 * ```ts
 * import { parseTokens } from "./auth.ts";
 * parseTokens("admin:s3cret\nclient:abc"); // [["admin", "s3cret"], ["client", "abc"]]
 * ```
 */
export function parseTokens(text: string): Token[] {
  const trimmed = text.trim();
  if (trimmed === "") return [];
  let pairs: [string, string, string?][];
  if (trimmed.startsWith("{") || trimmed.startsWith("[")) {
    let data: unknown;
    try {
      data = JSON.parse(trimmed);
    } catch (error) {
      // Not the parser's message: it quotes the text around the fault, tokens and all.
      const at = /position (\d+)/.exec((error as Error).message)?.[1];
      throw new AuthConfigError(`Tokens are not valid JSON${at ? ` (at character ${at})` : ""}`);
    }
    pairs = Array.isArray(data)
      ? data.map((entry, i) =>
        [
          stringField(entry?.role, `entry ${i}'s "role"`),
          stringField(entry?.token, `entry ${i}'s "token"`),
          ...(entry?.address === undefined
            ? []
            : [stringField(entry.address, `entry ${i}'s "address"`)]),
        ] as [string, string, string?]
      )
      : Object.entries(data as Record<string, unknown>).flatMap(([role, tokens]) =>
        (Array.isArray(tokens) ? tokens : [tokens]).map((token) =>
          [role, stringField(token, `a "${role}" token`)] as [string, string]
        )
      );
  } else {
    pairs = trimmed.split(/[\n,]/).map((line) => line.trim()).filter((line) =>
      line && !line.startsWith("#")
    )
      .map((line, i) => {
        const colon = line.indexOf(":");
        // Named by place, not by what it holds: it may be a token, and this message is printed.
        if (colon < 1) throw new AuthConfigError(`Token ${i + 1} is not role:token`);
        return [line.slice(0, colon).trim(), line.slice(colon + 1).trim()];
      });
  }
  return pairs.map(([role, token, address], i) => {
    if (!ROLES.includes(role as Role)) {
      throw new AuthConfigError(`Token ${i + 1}'s role is not client, node or admin`);
    }
    if (token.length < 8) throw new AuthConfigError(`A ${role} token is shorter than 8 characters`);
    if (address === undefined) return [role as Role, token];
    if (role !== "node") throw new AuthConfigError(`Only a node token is bound to an address`);
    // In the form registrations are compared in: "http://Node-0:80/" is "http://node-0".
    const origin = parseOrigin(address);
    if (origin === undefined) {
      throw new AuthConfigError(
        `A node token's address "${address.slice(0, 60)}" is not an http(s) URL with no path`,
      );
    }
    return [role as Role, token, origin];
  });
}

/**
 * The tokens a service accepts. With none, the service is open and every request is admin.
 *
 * @example
 * ```ts
 * import { Auth } from "./auth.ts";
 * const auth = await Auth.from([["admin", "s3cret-admin"]]);
 * await auth.role("Bearer s3cret-admin"); // "admin"
 * ```
 */
export class Auth {
  readonly #grants: Grant[];
  // Digests each token a request presents, in JavaScript: 1.4-1.6x faster than node:crypto's
  // createHash() in each run, and a whole check of three tokens 1.4-1.9 us against 3.0-4.1 with it
  // (`shared/service/auth_bench.ts`).
  readonly #sha: Sha256;

  private constructor(grants: Grant[], sha: Sha256) {
    this.#grants = grants;
    this.#sha = sha;
  }

  /** An Auth holding the digests of `tokens`; the tokens themselves are not kept. */
  static from(tokens: Token[]): Promise<Auth> {
    const sha = new Sha256();
    const grants = tokens.map(([role, token, address]) => ({
      role,
      digest: sha.digest(token),
      ...(address === undefined ? {} : { address }),
    }));
    return Promise.resolve(new Auth(grants, sha));
  }

  /** Whether any token is configured; without one, the service runs open. */
  get enabled(): boolean {
    return this.#grants.length > 0;
  }

  /** The role of the bearer token in an `Authorization` header, or undefined. */
  role(authorization: string | undefined): Role | undefined {
    if (!this.enabled) return "admin";
    return this.#grant(authorization)?.role;
  }

  #grant(authorization: string | undefined): Grant | undefined {
    if (authorization === undefined) return undefined;
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
    if (!match) return undefined;
    const digest = this.#sha.digest(match[1]);
    let found: Grant | undefined;
    // Compare with every grant, in constant time each, so timing does not tell which matched.
    for (const grant of this.#grants) {
      if (sameDigest(digest, grant.digest) && found === undefined) found = grant;
    }
    return found;
  }

  /**
   * Middleware that lets a request through only with a token of one of `roles` (admin always
   * passes): 401 with `WWW-Authenticate: Bearer` without a valid token, 403 with the wrong role.
   */
  require(...roles: Role[]): MiddlewareHandler {
    return async (c, next) => {
      const refused = this.admit(c.req.raw, roles, c.req.path);
      if (refused) return refused;
      await next();
    };
  }

  /**
   * Checks `request`'s token against `roles` (admin always passes): undefined when it may go on,
   * remembered for {@link roleOf}, or the 401 or 403 answer it gets. The app's middleware and the
   * hot path both check with it. `request` may be only a method and its headers' `authorization`.
   */
  admit(
    request: { method: string; headers: { get(name: string): string | null } },
    roles: readonly Role[],
    path: string,
  ): Response | undefined {
    const header = request.headers.get("authorization") ?? undefined;
    const grant = this.#grant(header);
    const role = grant?.role;
    if (role === undefined) {
      const error = header
        ? "The bearer token is not one this cluster knows"
        : "A bearer token is required";
      return Response.json({ error }, {
        status: 401,
        headers: { "www-authenticate": 'Bearer realm="cache"' },
      });
    }
    if (role !== "admin" && !roles.includes(role)) {
      return Response.json({ error: `A ${role} token may not ${request.method} ${path}` }, {
        status: 403,
      });
    }
    granted.set(request, grant!);
    return undefined;
  }
}

// By the request object let in: a Request, or the head the hot path was given.
const granted = new WeakMap<object, Grant>();

/**
 * The role of the token a request was let through with, or undefined on a service without
 * tokens (or on a path no rule guards).
 *
 * @example
 * ```ts
 * import { roleOf } from "./auth.ts";
 * const role = roleOf(c.req.raw); // "client", "node", "admin" or undefined
 * ```
 */
export function roleOf(request: object): Role | undefined {
  return granted.get(request)?.role;
}

/** The one node address the request's token may register, if the token is bound to one. */
export function boundAddress(request: object): string | undefined {
  return granted.get(request)?.address;
}

/** Which roles may use which paths (Hono patterns); admin may use every path. */
export type AccessRules = [paths: string[], roles: Role[]][];

/**
 * Guards `app`'s paths by `rules`; paths no rule names stay open (probes, documents). Does nothing
 * when no token is configured.
 */
export function protect(
  app: { use: (path: string, handler: MiddlewareHandler) => unknown },
  auth: Auth | undefined,
  rules: AccessRules,
): void {
  if (!auth?.enabled) return;
  for (const [paths, roles] of rules) {
    for (const path of paths) app.use(path, auth.require(...roles));
  }
}

/**
 * The roles `rules` let use `path` (a route's path, as `/keys/{key}`), or undefined when no rule
 * names it and it is open. A rule's `/x/*` covers `/x` and everything under it.
 *
 * @example
 * ```ts
 * import { rolesFor } from "./auth.ts";
 * rolesFor([[["/keys/*"], ["client"]]], "/keys/{key}"); // ["client"]
 * ```
 */
export function rolesFor(rules: AccessRules, path: string): Role[] | undefined {
  const covers = (pattern: string) =>
    pattern === path ||
    (pattern.endsWith("/*") &&
      (path === pattern.slice(0, -2) || path.startsWith(pattern.slice(0, -1))));
  return rules.find(([paths]) => paths.some(covers))?.[1];
}

/** `value` when it is a string; else an AuthConfigError naming `what` (a field left out, say). */
function stringField(value: unknown, what: string): string {
  if (typeof value === "string") return value;
  throw new AuthConfigError(
    `Tokens: ${what} is ${value === undefined ? "missing" : "not a string"}`,
  );
}
