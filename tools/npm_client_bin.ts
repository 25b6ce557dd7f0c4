#!/usr/bin/env node
// The npm package's bin, `cache` (tools/npm_client.ts bundles it as cli.js): the command line on
// the process that runs it, Node or Deno. cli.ts's own `import.meta.main` is false in the bundle,
// and Node before 24 has none.

import process from "node:process";
import { main } from "@cache/client/cli";

process.exit(await main(process.argv.slice(2)));
