import { startService } from "./serve.ts";
import { createLogger } from "@cache/log/log";
const log = createLogger("test");
const service = startService(
  "test",
  {
    host: "127.0.0.1",
    port: 0,
    httpServer: "own",
    maxConnections: 0,
    headerTimeoutMs: 1000,
    idleTimeoutMs: 1000,
    minBodyRate: 1024,
  },
  undefined,
  log,
);
service.onStop(() => new Promise(() => {}), 300);
console.log("ready");
