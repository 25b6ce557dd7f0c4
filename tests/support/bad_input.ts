// Requests every service must refuse with a 4xx {"error"}: shared by in-process and process tests.

/** Sends a request to a service, over a socket or straight into an app. */
export type Send = (path: string, init?: RequestInit) => Promise<Response>;

/** A request that must be refused, and how. */
export interface BadInput {
  name: string;
  path: string;
  init: RequestInit;
  status: number;
  error: RegExp;
}

const json = { "content-type": "application/json" };
const post = (body: BodyInit, headers: HeadersInit = json): RequestInit => ({
  method: "POST",
  body,
  headers,
});

/** Every bad input of the key API: accepted, each would write or read key "k", or flush. */
export function badInputs(maxValueBytes: number): BadInput[] {
  return [
    {
      name: "malformed JSON",
      path: "/keys",
      init: post('{"key": "k",'),
      status: 400,
      error: /Malformed JSON/,
    },
    {
      name: "missing value",
      path: "/keys",
      init: post('{"key":"k"}'),
      status: 400,
      error: /value/,
    },
    {
      name: "value not a string",
      path: "/keys",
      init: post('{"key":"k","value":5}'),
      status: 400,
      error: /value/,
    },
    {
      name: "empty key",
      path: "/keys",
      init: post('{"key":"","value":"v"}'),
      status: 400,
      error: /Key must not be empty/,
    },
    {
      name: "key a URL path cannot carry",
      path: "/keys",
      init: post('{"key":"..","value":"v"}'),
      status: 400,
      error: /Key must not be "\." or "\.\."/,
    },
    {
      name: "key over 1024 bytes",
      path: "/keys",
      init: post(JSON.stringify({ key: "é".repeat(513), value: "v" })),
      status: 400,
      error: /1024/,
    },
    {
      name: "value over the limit",
      path: "/keys",
      init: post(JSON.stringify({ key: "k", value: "v".repeat(maxValueBytes + 1) })),
      status: 413,
      error: new RegExp(`limit of ${maxValueBytes} bytes`),
    },
    {
      name: "body far over the limit",
      path: "/keys",
      init: post(JSON.stringify({ key: "k", value: "v".repeat(maxValueBytes * 7 + 70_000) })),
      status: 413,
      error: /larger than/,
    },
    {
      name: "wrong content type",
      path: "/keys",
      init: post("key=k&value=v", { "content-type": "application/x-www-form-urlencoded" }),
      status: 415,
      error: /application\/json/,
    },
    {
      name: "JSON array body",
      path: "/keys",
      init: post('["k","v"]'),
      status: 400,
      error: /expected object/,
    },
    {
      name: "key over 1024 bytes in the path",
      path: `/keys/${"k".repeat(1025)}`,
      init: {},
      status: 400,
      error: /1024/,
    },
    {
      name: "key with a lone surrogate",
      path: "/keys",
      init: post('{"key":"k\\ud800","value":"v"}'),
      status: 400,
      error: /lone surrogate/,
    },
    {
      name: "body that is not UTF-8",
      path: "/keys",
      init: post(
        new Uint8Array([...new TextEncoder().encode('{"key":"k","value":"'), 0xff, 0x22, 0x7d]),
      ),
      status: 400,
      error: /not valid UTF-8/,
    },
    {
      name: "path escape that is not UTF-8",
      path: "/keys/k%ff",
      init: {},
      status: 400,
      error: /percent-encoding is malformed, or not of UTF-8/,
    },
    {
      name: "path escape that is not one, before escapes of one",
      path: "/keys/%%34%31",
      init: {},
      status: 400,
      error: /percent-encoding is malformed, or not of UTF-8/,
    },
    {
      name: "path escape of a lone surrogate",
      path: "/keys/k%ED%A0%80",
      init: { method: "DELETE" },
      status: 400,
      error: /percent-encoding is malformed, or not of UTF-8/,
    },
    {
      name: "unknown condition",
      path: "/keys",
      init: post('{"key":"k","value":"v","if":"maybe"}'),
      status: 400,
      error: /if/,
    },
    {
      name: "empty ifVersion",
      path: "/keys",
      init: post('{"key":"k","value":"v","ifVersion":""}'),
      status: 400,
      error: /ifVersion/,
    },
    {
      name: "replace of a key not stored",
      path: "/keys",
      init: post('{"key":"k","value":"v","if":"present"}'),
      status: 412,
      error: /Key "k" is not stored: "if": "present" does not hold/,
    },
    {
      name: "compare-and-set of a key not stored",
      path: "/keys",
      init: post('{"key":"k","value":"v","ifVersion":"0.1"}'),
      status: 412,
      error: /Key "k" is not stored/,
    },
    {
      name: "increment by a fraction",
      path: "/keys/k/incr",
      init: post('{"by":1.5}'),
      status: 400,
      error: /by must be a whole number/,
    },
    {
      name: "increment by a string",
      path: "/keys/k/incr",
      init: post('{"by":"1"}'),
      status: 400,
      error: /by must be a whole number/,
    },
    {
      name: "increment past the safe integers",
      path: "/keys/k/incr",
      init: post('{"by":9007199254740992}'),
      status: 400,
      error: /^by: by must be a safe integer \(at most 2\^53 - 1 either way\)$/, // and nothing else
    },
    {
      name: "increment with an unknown field",
      path: "/keys/k/incr",
      init: post('{"by":1,"value":"5"}'),
      status: 400,
      error: /value/,
    },
    {
      name: "increment with a zero ttl",
      path: "/keys/k/incr",
      init: post('{"by":1,"ttl":0}'),
      status: 400,
      error: /ttl must be > 0 seconds/,
    },
    {
      // Applied as a first attempt, such a "retry" counted twice.
      name: "an increment's retry with no request id",
      path: "/keys/k/incr",
      init: post('{"by":1,"retry":true}'),
      status: 400,
      error: /^retry: A retry needs the requestId of the increment it sends again$/,
    },
    {
      name: "touch without a ttl",
      path: "/keys/k/touch",
      init: post("{}"),
      status: 400,
      error: /ttl/,
    },
    {
      name: "scan with a count not a number",
      path: "/keys?count=5&count=6",
      init: {},
      status: 400,
      error: /^count: count must be a whole number$/,
    },
    {
      name: "scan with count 0",
      path: "/keys?count=0",
      init: {},
      status: 400,
      error: /count must be at least 1/,
    },
    {
      name: "scan with count over 1000",
      path: "/keys?count=1001",
      init: {},
      status: 400,
      error: /count must be at most 1000/,
    },
    {
      name: "scan with a count in hexadecimal",
      path: "/keys?count=0x10",
      init: {},
      status: 400,
      error: /^count: count must be a whole number$/,
    },
    {
      name: "scan with a count in exponent notation",
      path: "/keys?count=1e2",
      init: {},
      status: 400,
      error: /^count: count must be a whole number$/,
    },
    {
      name: "scan with a prefix escape that is not UTF-8",
      path: "/keys?prefix=%ff",
      init: {},
      status: 400,
      error: /query's percent-encoding is malformed, or not of UTF-8/,
    },
    {
      name: "write with a version floor that is not a version",
      path: "/keys",
      init: post('{"key":"k","value":"v"}', { ...json, "x-version-above": "0x10" }),
      status: 400,
      error: /x-version-above must be a version/,
    },
    {
      name: "scan with a prefix longer than any key",
      path: `/keys?prefix=${"%C3%A9".repeat(513)}`,
      init: {},
      status: 400,
      error: /prefix is longer than 1024 UTF-8 bytes/,
    },
    {
      name: "scan with a cursor no scan answered",
      path: "/keys?cursor=abc",
      init: {},
      status: 400,
      error: /cursor must be one a scan answered/,
    },
    {
      // Dropped, it made a conditional write of every item unconditional.
      name: "a condition in an /mset item",
      path: "/mset",
      init: post('{"items":[{"key":"k","value":"v","if":"absent"}]}'),
      status: 400,
      error: /\/mset takes no condition/,
    },
    {
      name: "a version condition in a large /mset",
      path: "/mset",
      init: post(
        JSON.stringify({
          items: [{ key: "k", value: "v".repeat(20_000), ifVersion: "1.2" }],
        }),
      ),
      status: 400,
      error: /\/mset takes no condition/,
    },
    {
      // Dropped, a misspelled condition made a compare-and-set a plain overwrite.
      name: "a write with a misspelled condition",
      path: "/keys",
      init: post('{"key":"k","value":"v","ifversion":"1.2"}'),
      status: 400,
      error: /Unrecognized key: "ifversion"/,
    },
    {
      name: "a write with a misspelled ttl",
      path: "/keys",
      init: post('{"key":"k","value":"v","tll":30}'),
      status: 400,
      error: /Unrecognized key: "tll"/,
    },
    {
      name: "an /mset item with a misspelled ttl",
      path: "/mset",
      init: post('{"items":[{"key":"k","value":"v","tll":30}]}'),
      status: 400,
      error: /Unrecognized key: "tll"/,
    },
    {
      // Answered 404 "No route", as if the path named nothing.
      name: "a write with PUT",
      path: "/keys",
      init: { ...post('{"key":"k","value":"v"}'), method: "PUT" },
      status: 405,
      error: /^PUT is not allowed on \/keys: use POST, GET, HEAD, DELETE$/,
    },
    {
      name: "a key written with PUT",
      path: "/keys/k",
      init: { ...post('{"value":"v"}'), method: "PUT" },
      status: 405,
      error: /^PUT is not allowed on \/keys\/k: use GET, HEAD, DELETE$/,
    },
    {
      // Taken for a filter, it emptied every key.
      name: "a flush with a prefix",
      path: "/keys?prefix=k",
      init: { method: "DELETE" },
      status: 400,
      error: /^DELETE \/keys empties every key and takes no prefix$/,
    },
    {
      name: "a flush with a parameter of no name",
      path: "/keys?=",
      init: { method: "DELETE" },
      status: 400,
      error: /^DELETE \/keys empties every key and takes no unnamed$/,
    },
    {
      name: "a flush with a body",
      path: "/keys",
      // With its length, which an in-process request does not get.
      init: { ...post('{"prefix":"k"}', { ...json, "content-length": "14" }), method: "DELETE" },
      status: 400,
      error: /^A DELETE takes no body$/,
    },
    {
      name: "unknown route",
      path: "/kyes/k",
      init: {},
      status: 404,
      error: /No route for GET \/kyes\/k/,
    },
  ];
}

/** Sends each bad input and returns a description of every answer that is not as expected. */
export async function refusals(send: Send, maxValueBytes: number): Promise<string[]> {
  const wrong: string[] = [];
  // A key stored before, which a refused flush must not empty.
  const kept = await send("/keys", post('{"key":"kept","value":"v"}'));
  if (kept.status !== 204) wrong.push(`key "kept" was not stored: ${kept.status}`);
  await kept.body?.cancel();
  for (const bad of badInputs(maxValueBytes)) {
    const answer = await send(bad.path, bad.init);
    const text = await answer.text();
    let error: unknown;
    try {
      error = JSON.parse(text).error;
    } catch {
      error = undefined;
    }
    if (answer.status !== bad.status || typeof error !== "string" || !bad.error.test(error)) {
      wrong.push(`${bad.name}: ${answer.status} ${text.slice(0, 200)}`);
    }
  }
  const after = await send("/keys/k");
  if (after.status !== 404) {
    wrong.push(`key "k" was written: ${after.status} ${await after.text()}`);
  }
  const still = await send("/keys/kept");
  if (still.status !== 200) wrong.push(`key "kept" is gone: ${still.status} ${await still.text()}`);
  await still.body?.cancel();
  return wrong;
}
