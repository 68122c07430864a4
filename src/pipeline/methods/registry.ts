/** Method kind → runner. A method is available in `rewardiff run` once it is registered here. */
import type { MethodKind } from "../../io/config.js";
import type { MethodRunner } from "./context.js";
import { runNone } from "./none.js";

export const METHOD_RUNNERS: Partial<Record<MethodKind, MethodRunner>> = {
  none: runNone,
};

export function availableMethods(): string[] {
  return Object.keys(METHOD_RUNNERS);
}
