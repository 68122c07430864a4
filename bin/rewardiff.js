#!/usr/bin/env node
// The command-line entry point: runs the compiled CLI (built by `npm install` via the prepare script).
import { main } from "../dist/cli/main.js";

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`rewardiff: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
