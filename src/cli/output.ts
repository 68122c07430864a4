/** Output-path rules: never overwrite a user's results silently. */
import { existsSync, readdirSync, statSync } from "node:fs";

/** Refuses an output folder that already holds results, unless `force`. */
export function checkOutDir(dir: string, force: boolean): void {
  if (!existsSync(dir)) return;
  if (!statSync(dir).isDirectory()) throw new Error(`${dir}: exists and is not a folder`);
  const results = readdirSync(dir).filter((f) => /^(report\.(json|html)|samples.*\.csv|model.*\.(safetensors|json))$/.test(f));
  if (results.length > 0 && !force) {
    throw new Error(`${dir}: already holds results (${results.slice(0, 3).join(", ")}); choose another --out or pass --force to replace them`);
  }
}

/** Refuses an output file that exists, unless `force`. */
export function checkOutFile(path: string, force: boolean): void {
  if (existsSync(path) && !force) throw new Error(`${path}: already exists; choose another path or pass --force to replace it`);
}
