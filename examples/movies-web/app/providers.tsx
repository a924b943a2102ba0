"use client";

import type { ReactNode } from "react";
import { TesseraProvider } from "@tessera/react";
import type { User } from "@tessera/client";
import { auth } from "@/lib/auth";

// Test builds (NEXT_PUBLIC_TESSERA_TEST_HOOKS=1 at `next build`) expose the client so a browser
// test can fire many auth.fetch calls at one instant; ordinary builds leave this out.
if (process.env.NEXT_PUBLIC_TESSERA_TEST_HOOKS === "1" && typeof window !== "undefined") {
  (window as unknown as { __tessera: typeof auth }).__tessera = auth;
}

export function Providers({ initialUser, children }: { initialUser: User | null; children: ReactNode }) {
  return (
    <TesseraProvider client={auth} initialUser={initialUser}>
      {children}
    </TesseraProvider>
  );
}
