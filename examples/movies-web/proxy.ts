import { tesseraMiddleware } from "@tessera/next";

// Before a page renders: an expired access cookie is refreshed here once (a redirect through
// /auth/_next-refresh, which carries the /auth-scoped refresh cookie), so the server render
// sees fresh cookies; the protected pages send a signed-out visitor to the login page.
export const proxy = tesseraMiddleware({ protect: ["/devices", "/chat", "/admin"] });

export const config = {
  // Pages, and the refresh hop under /auth. Not the API calls the rewrites forward, nor assets.
  matcher: ["/((?!_next/static|_next/image|favicon.ico|api/|users/|\\.well-known/).*)"],
};
