/**
 * `npm run playground`: builds the playground (./build.ts) and serves it on 127.0.0.1 with a strict
 * Content-Security-Policy ('wasm-unsafe-eval' is the one allowance jax-js needs: it compiles wasm at run
 * time; docs/browser.md). Prints the URL.
 *   npm run playground -- [--port N] [--no-build] [--dir folder]
 */
import { createReadStream, existsSync, statSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { basename, dirname, extname, join, normalize, resolve, sep } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { buildPlayground } from "./build.js";

/** The policy the playground is served with: its own scripts and workers, wasm compilation, nothing else. */
export const PLAYGROUND_CSP = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; worker-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'";

/**
 * The molecule panel's worker only (docs/browser.md, "Molecule panel"): RDKit MinimalLib's Emscripten
 * bindings (embind) build their call wrappers with `new Function`, so that worker's script also needs
 * 'unsafe-eval'. A dedicated worker runs under the policy its own script is served with; the page keeps
 * the strict one.
 */
export const MOLECULE_WORKER_CSP = PLAYGROUND_CSP.replace("'wasm-unsafe-eval'", "'wasm-unsafe-eval' 'unsafe-eval'");

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json",
  ".safetensors": "application/octet-stream",
  ".png": "image/png",
  ".wasm": "application/wasm",
};

/** Serves `dir` on 127.0.0.1:`port` (0: any free port); resolves with the server and its URL. */
export function servePlayground(dir: string, port = 0): Promise<{ server: Server; url: string }> {
  const root = resolve(dir);
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? "/", "http://127.0.0.1").pathname);
    const file = normalize(join(root, path.endsWith("/") ? `${path}index.html` : path));
    const refuse = (code: number, text: string) => res.writeHead(code, { "content-type": "text/plain" }).end(`${text}\n`);
    if (req.method !== "GET" && req.method !== "HEAD") return refuse(405, "method not allowed");
    if (file !== root && !file.startsWith(root + sep)) return refuse(403, "outside the site");
    let size = -1;
    try {
      const st = statSync(file);
      if (st.isFile()) size = st.size;
    } catch {
      size = -1;
    }
    if (size < 0) return refuse(404, "not found");
    res.writeHead(200, {
      "content-type": TYPES[extname(file)] ?? "application/octet-stream",
      "content-length": size,
      "content-security-policy": basename(file) === "molecule-worker.js" ? MOLECULE_WORKER_CSP : PLAYGROUND_CSP,
      "x-content-type-options": "nosniff",
      "cache-control": "no-cache",
    });
    if (req.method === "HEAD") res.end();
    else createReadStream(file).pipe(res);
  });
  return new Promise((resolvePromise, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => {
      const a = server.address();
      resolvePromise({ server, url: `http://127.0.0.1:${typeof a === "object" && a ? a.port : port}/` });
    });
  });
}

async function main(argv: string[]): Promise<void> {
  const at = (flag: string) => (argv.includes(flag) ? argv[argv.indexOf(flag) + 1] : undefined);
  const port = Number(at("--port") ?? 5180);
  if (!(Number.isInteger(port) && port >= 0 && port < 65536)) throw new Error(`--port must be a port number, got ${at("--port")}`);
  let dir = at("--dir");
  if (!argv.includes("--no-build")) dir = (await buildPlayground(dir)).dir;
  const site = dir ?? join(dirname(fileURLToPath(import.meta.url)), "dist");
  if (!existsSync(join(site, "index.html"))) throw new Error(`${site} has no index.html (build it: drop --no-build)`);
  const { url } = await servePlayground(site, port);
  process.stdout.write(`rewardiff playground: ${url}  (Ctrl-C stops)\n`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  main(process.argv.slice(2)).catch((e: unknown) => {
    process.stderr.write(`rewardiff: playground: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  });
}
