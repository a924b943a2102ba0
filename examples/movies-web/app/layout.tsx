import type { Metadata } from "next";
import type { ReactNode } from "react";
import { getUser } from "@tessera/next";
import { Providers } from "./providers";
import { Nav } from "./nav";
import "./globals.css";

export const metadata: Metadata = { title: "Movies", description: "The movie service, signed in through Tessera" };

// The signed-in user is read from the access cookie on the server (verified locally through the
// JWKS) and handed to the provider, so the first paint already shows who is signed in.
export default async function RootLayout({ children }: { children: ReactNode }) {
  const user = await getUser();
  return (
    <html lang="en">
      <body>
        <Providers initialUser={user}>
          <Nav />
          <main>{children}</main>
        </Providers>
      </body>
    </html>
  );
}
