/**
 * Row labels of a run (report.json `label`; docs/report.md): a method entry's `label`, else its module's
 * default (the kind, or e.g. "rcgdm-low-rank"), with "#i" (i = its index in the config) when several
 * entries would get the same default. Labels name the rows, the samples files and the fine-tuned
 * checkpoints, so they must be unique: a duplicate is refused before any work.
 */
import { methodsOf, type MethodEntry } from "./config-schemas.js";
import { methodModule } from "./methods/registry.js";

/** The label of every method entry of a config, in order. */
export function methodLabels(cfg: { method: MethodEntry | MethodEntry[] }): string[] {
  const methods = methodsOf(cfg);
  const defaults = methods.map((m) => methodModule(m.kind).defaultLabel?.(m) ?? m.kind);
  return methods.map((m, i) => {
    if (m.label !== undefined) return m.label;
    const same = methods.filter((x, j) => x.label === undefined && defaults[j] === defaults[i]).length;
    return same > 1 ? `${defaults[i]}#${i}` : defaults[i]!;
  });
}

/** Refuses, with one line naming `method[i].label`, a config whose rows would share a label. */
export function checkUniqueLabels(cfg: { method: MethodEntry | MethodEntry[] }, where: string): void {
  const labels = methodLabels(cfg);
  const list = Array.isArray(cfg.method);
  labels.forEach((label, i) => {
    const j = labels.indexOf(label);
    if (j === i) return;
    const key = (k: number) => (list ? `method[${k}]` : "method");
    throw new Error(`${where}: ${key(i)}.label: "${label}" is already the label of ${key(j)}; row labels must be unique in a run`);
  });
}
