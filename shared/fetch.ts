// The fetch signature services take as a dependency, so tests can route calls to an in-process app.

/** A `fetch`: the global one, or a stand-in that calls an app directly. */
export type Fetch = (input: string | URL | Request, init?: RequestInit) => Promise<Response>;
