// What `cache --help` prints: the commands, the forms of mset's items, the flags and exit codes.

import { DEFAULT_INTERVAL_MS, DEFAULT_URL } from "./cli_args.ts";
import { MAX_INTERVAL_MS, MIN_INTERVAL_MS } from "./cli_values.ts";

/** What `cache --help` prints. */
export const HELP = `cache: read, write and watch a cache cluster through its master

Usage: cache <command> [arguments] [flags]

Commands:
  get <key>            Print the value of <key>; nothing, and exit 1, when it is not stored
                       (--json adds its version and the seconds it has left)
  set <key> <value>    Store <value> under <key> (--ttl <seconds> to expire it); prints OK.
                       With --nx, --xx or --if-version, prints NOT SET and exits 1 when the
                       condition does not hold
  del <key>            Delete <key>; prints 1, or 0 (and exit 1) when it was not stored
  incr <key> [by]      Add <by> (default 1) to the integer under <key>, 0 when not stored;
                       prints the new value
  decr <key> [by]      Take <by> (default 1) from the integer under <key>; prints the new value
  touch <key> <ttl>    Make <key> live <ttl> seconds from now, or forever with "none"; prints 1,
                       or 0 (and exit 1) when it is not stored
  mget <key>...        Print one line per key, "key<TAB>value", or "key<TAB>(nil)" when it is
                       not stored (exit 1 if any is not)
  mset                 Store the items of --file <path>, or of standard input; prints OK
  scan [prefix]        Print every key, or those that start with <prefix>, one per line
  flush --yes          Delete every key of the cluster; prints OK
  stats                The master's GET /stats: the cluster's counters, then each node's
  nodes                The master's GET /nodes: every node it knows, up or down
  owners <key>         The nodes that own <key>, one per line, primary first (GET /ring)
  top                  A live view per node: operations and reads per second, hit rate,
                       keys and memory, redrawn every --interval-ms; Ctrl-C ends it

Items of mset, in either form ("ttl", in seconds, is optional):
  JSON lines, one item per line:  {"key":"a","value":"1","ttl":60}
  one JSON array of items:        [{"key":"a","value":"1"},{"key":"b","value":"2"}]

Flags:
  --url <url>          The master, or several separated by commas (env CACHE_URL;
                       default ${DEFAULT_URL})
  --token <token>      Sent as a bearer token (env CACHE_TOKEN)
  --json               Print one JSON document per command (one line per refresh for top)
  --proxy              Send key commands through the master, not to each key's node
  --ttl <seconds>      set, incr, decr: seconds the key lives
  --nx                 set: only if <key> is not stored
  --xx                 set: only if <key> is stored
  --if-version <v>     set: only if <key> is still at version <v> (get --json prints it)
  --request-id <id>    incr, decr: the id that makes sending it again apply it once, for
                       2 minutes (default a new one, reused by its own retries)
  --retry              incr, decr with --request-id: it was sent before; refused (exit 3)
                       rather than applied twice when the cluster cannot tell
  --count <n>          scan: keys per page, 1 to 1000 (default 100)
  --yes                flush: yes, delete every key
  --file <path>        mset: read the items from this file instead of standard input
  --interval-ms <ms>   top: milliseconds between refreshes, ${MIN_INTERVAL_MS} to ${MAX_INTERVAL_MS} (default ${DEFAULT_INTERVAL_MS})
  --once               top: print one refresh, over one interval, and exit
  -h, --help           Print this help

Exit codes: 0 done, 1 a key was not found or a condition did not hold, 2 usage error,
3 the cluster failed or refused.
An argument that starts with "-" goes after "--": cache set k -- -1, cache incr k -- -5
`;
