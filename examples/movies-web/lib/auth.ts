import { createClient } from "@tessera/client";

// One client for the whole browser app. Cookie mode: the tokens live in HttpOnly cookies that
// script never sees; `baseUrl` "" means this app's own origin, which forwards /auth and /users
// to Tessera (next.config.ts), so the cookies are first-party.
export const auth = createClient({ baseUrl: "", mode: "cookie" });
