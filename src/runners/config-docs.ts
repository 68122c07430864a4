/**
 * docs/config.md's method tables, rendered from the registered method modules' schemas (their JSON
 * Schema): one table per kind with every key, the values it accepts and its default, so that the page
 * cannot disagree with the code (`npm run docs:config` writes them; test/runner-config-docs.test.ts
 * fails when the page differs).
 */
import * as z from "zod";
import { METHOD_MODULES } from "./methods/registry.js";

/** The markers between which docs/config.md holds the generated tables. */
export const DOCS_BEGIN = "<!-- method tables: generated from the method schemas by `npm run docs:config`; do not edit -->";
export const DOCS_END = "<!-- end of generated method tables -->";

interface JsonField {
  type?: string;
  enum?: unknown[];
  const?: unknown;
  default?: unknown;
  description?: string;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  minLength?: number;
  items?: JsonField;
}

const show = (v: unknown): string => `\`${typeof v === "string" ? v : JSON.stringify(v)}\``;

/** "whole number ≥ 1", "number in [0, 1)", "`a` \| `b`", … */
function values(f: JsonField): string {
  if (f.enum) return f.enum.map(show).join(" \\| ");
  if (f.type === "array") return `list of ${f.items ? values(f.items).replace(/^number$/, "numbers") : "values"}`;
  if (f.type === "string") return "text";
  if (f.type === "boolean") return "true \\| false";
  if (f.type === "object") return "object";
  if (f.type !== "number" && f.type !== "integer") return "any";
  const what = f.type === "integer" ? "whole number" : "number";
  const lo = f.minimum !== undefined ? { v: f.minimum, open: false } : f.exclusiveMinimum !== undefined ? { v: f.exclusiveMinimum, open: true } : undefined;
  const big = f.maximum !== undefined && f.maximum >= Number.MAX_SAFE_INTEGER;
  const hi = f.maximum !== undefined && !big ? { v: f.maximum, open: false } : f.exclusiveMaximum !== undefined ? { v: f.exclusiveMaximum, open: true } : undefined;
  if (lo && hi) return `${what} in ${lo.open ? "(" : "["}${lo.v}, ${hi.v}${hi.open ? ")" : "]"}`;
  if (lo) return `${what} ${lo.open ? ">" : "≥"} ${lo.v}`;
  if (hi) return `${what} ${hi.open ? "<" : "≤"} ${hi.v}`;
  return what;
}

function defaultOf(key: string, f: JsonField): string {
  if (f.default !== undefined) return show(f.default);
  if (f.description) return f.description.replace(/^default: /, "");
  return key === "label" ? "the kind (`kind#i` when repeated)" : "absent";
}

/** The generated tables (the text between the markers, without them). */
export function renderMethodTables(): string {
  const out: string[] = ["| kind | what it does |", "|---|---|"];
  for (const m of METHOD_MODULES) out.push(`| [\`${m.kind}\`](#${m.kind}) | ${m.summary.replace(/\|/g, "\\|")} |`);
  out.push("");
  for (const m of METHOD_MODULES) {
    const js = z.toJSONSchema(m.schema, { unrepresentable: "any", io: "input" }) as { properties: Record<string, JsonField> };
    out.push(`#### \`${m.kind}\``, "", `${m.summary}.`, "");
    const keys = Object.entries(js.properties).filter(([k]) => k !== "kind");
    const needs = [
      m.requires.taskReward ? "the task's reward" : "",
      m.requires.taskKinds ? `task.kind ${m.requires.taskKinds.kinds.map(show).join(" or ")}` : "",
      m.requires.stochasticSampler ? `stochastic sampler steps, not DDIM with η = 0 (${m.requires.stochasticSampler.why})` : "",
    ].filter(Boolean);
    if (needs.length > 0) out.push(`Needs ${needs.join("; ")}.`, "");
    out.push("| key | values | default |", "|---|---|---|");
    for (const [k, f] of keys) out.push(`| \`${k}\` | ${values(f)} | ${defaultOf(k, f)} |`);
    out.push("");
  }
  return out.join("\n");
}

/** `page` with the text between the markers replaced by the generated tables. */
export function withMethodTables(page: string): string {
  const a = page.indexOf(DOCS_BEGIN);
  const b = page.indexOf(DOCS_END);
  if (a < 0 || b < a) throw new Error(`docs/config.md: the markers of the generated method tables are missing`);
  return `${page.slice(0, a + DOCS_BEGIN.length)}\n\n${renderMethodTables()}\n${page.slice(b)}`;
}
