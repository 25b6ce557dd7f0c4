// The runtime's ceiling for the load benchmark: Deno.serve answering a fixed JSON body.

const body = JSON.stringify({ key: "key:00000000001", value: "v".repeat(100) });
const server = Deno.serve(
  { hostname: "127.0.0.1", port: Number(Deno.args[0] ?? 0), onListen: () => {} },
  () => new Response(body, { headers: { "content-type": "application/json" } }),
);
console.log(JSON.stringify({ msg: "listening", url: `http://127.0.0.1:${server.addr.port}` }));
