import { defineConfig } from "tsdown";

export default defineConfig({
  entry: ["src/index.tsx"],
  format: "esm",
  platform: "neutral",
  dts: true,
  minify: true,
  clean: true,
  // Next.js server components may import the provider: mark the module as client code.
  outputOptions: { banner: '"use client";' },
});
