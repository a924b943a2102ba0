import { defineConfig } from "tsdown";

export default defineConfig({
  entry: ["src/index.ts"],
  format: "esm",
  platform: "node",
  dts: true,
  clean: true,
  fixedExtension: false,
  // Next resolves its own modules; `next/headers` and `next/server` must stay imports.
  external: [/^next(\/|$)/, "jose", "@tessera/client"],
});
