import js from "@eslint/js";
import tseslint from "typescript-eslint";
import { layersRule } from "./scripts/lint/layers.js";

export default tseslint.config(
  { ignores: ["dist/", "node_modules/", "runs/", "bench/results/", "coverage/", "playground/dist/"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ["bin/**/*.js", "scripts/**/*.js"],
    languageOptions: { globals: { process: "readonly", console: "readonly" } },
  },
  {
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "@typescript-eslint/no-explicit-any": "off",
    },
  },
  {
    // Lower layers of src/ never import higher ones (docs/architecture.md).
    files: ["src/**/*.ts"],
    plugins: { rewardiff: { rules: { layers: layersRule } } },
    rules: { "rewardiff/layers": "error" },
  },
);
