/**
 * A WebGPU adapter for tests in Node: the `webgpu` package (Dawn) with Chromium's SwiftShader Vulkan
 * driver (Debian's `chromium` ships `libvk_swiftshader.so` and `vk_swiftshader_icd.json`; the Vulkan
 * loader is Debian's `libvulkan1`). Installs `navigator.gpu` and the WebGPU globals, so that
 * `ensureBackend({ device: "webgpu" })` finds an adapter. Returns why not, where it cannot.
 */
import { existsSync } from "node:fs";

const SWIFTSHADER_ICDS = ["/usr/lib/chromium/vk_swiftshader_icd.json", "/usr/lib/chromium-browser/vk_swiftshader_icd.json"];

/** Undefined when an adapter is installed; otherwise the reason there is none. */
export async function provideNodeWebgpu(): Promise<string | undefined> {
  const g = globalThis as { navigator?: { gpu?: { requestAdapter(): Promise<unknown> } } };
  if (!g.navigator?.gpu) {
    if (!process.env.VK_ICD_FILENAMES) {
      const icd = SWIFTSHADER_ICDS.find((p) => existsSync(p));
      if (!icd) return "no SwiftShader Vulkan driver (install Debian's chromium and libvulkan1) and VK_ICD_FILENAMES is unset";
      process.env.VK_ICD_FILENAMES = icd;
    }
    // Mesa's implicit device-select layer, if installed, only prints warnings here.
    process.env.NODEVICE_SELECT ??= "1";
    let mod: { create(flags: string[]): unknown; globals: Record<string, unknown> };
    try {
      const name = "webgpu"; // not a literal: the package is an optional dev dependency
      mod = (await import(name)) as typeof mod;
    } catch (e) {
      return `the \`webgpu\` npm package cannot be loaded (${(e as Error).message.split("\n")[0]})`;
    }
    Object.assign(globalThis, mod.globals);
    const gpu = mod.create([]);
    if (g.navigator) Object.defineProperty(g.navigator, "gpu", { value: gpu, configurable: true });
    else g.navigator = { gpu, userAgent: "node" } as unknown as typeof g.navigator;
  }
  const adapter = await g.navigator!.gpu!.requestAdapter();
  if (!adapter) return `navigator.gpu gave no adapter (is Debian's libvulkan1 installed? VK_ICD_FILENAMES=${process.env.VK_ICD_FILENAMES ?? ""})`;
  return undefined;
}
