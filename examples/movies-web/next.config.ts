import type { NextConfig } from "next";

// Where the browser's single origin (this app) forwards to. Next.js bakes rewrites into the
// build (.next/routes-manifest.json), so these two are read by `next build`, not `next start`.
const tessera = (process.env.TESSERA_URL ?? "http://127.0.0.1:8080").replace(/\/$/, "");
const movies = (process.env.MOVIES_URL ?? "http://127.0.0.1:3000").replace(/\/$/, "");

const config: NextConfig = {
  // The App Router default, stated so it cannot be lost: every client component mounts twice in
  // development, which the client's cross-tab refresh lock must survive.
  reactStrictMode: true,
  poweredByHeader: false,
  async rewrites() {
    return [
      { source: "/auth/:path*", destination: `${tessera}/auth/:path*` },
      { source: "/users/:path*", destination: `${tessera}/users/:path*` },
      { source: "/.well-known/:path*", destination: `${tessera}/.well-known/:path*` },
      { source: "/api/:path*", destination: `${movies}/:path*` },
    ];
  },
};

export default config;
