import { createContext, useContext, useEffect, useMemo, useState, type ReactNode } from "react";
import type { TesseraClient, User } from "@tessera/client";

export type AuthStatus = "loading" | "signed_in" | "signed_out";

export interface AuthValue {
  user: User | null;
  status: AuthStatus;
  client: TesseraClient;
  login: TesseraClient["login"];
  logout: TesseraClient["logout"];
  signup: TesseraClient["signup"];
  verifyMfa: TesseraClient["verifyMfa"];
}

const AuthContext = createContext<AuthValue | null>(null);

const statusOf = (user: User | null): AuthStatus => (user ? "signed_in" : "signed_out");

/**
 * Shares `client`'s user with the tree. With `initialUser` (the user the server rendered the
 * page for, or `null` when it knows nobody is signed in) the first render, on the server and in
 * the browser alike, already shows it: no loading flash, no hydration mismatch. Without it the
 * status is `loading` until `GET /users/me` answers.
 */
export function TesseraProvider(props: {
  client: TesseraClient;
  initialUser?: User | null;
  children?: ReactNode;
}) {
  const { client, initialUser } = props;
  const known = initialUser !== undefined;
  const [user, setUser] = useState<User | null>(known ? initialUser : client.user);
  const [status, setStatus] = useState<AuthStatus>(
    known ? statusOf(initialUser) : client.user ? "signed_in" : "loading",
  );
  useEffect(() => {
    // In an effect, not in render: on the server one client may serve many requests.
    if (known) client.hydrate(initialUser);
    const off = client.onAuthChange((_, next) => {
      setUser(next);
      setStatus(statusOf(next));
    });
    // Unknown, or known only from the token (no profile fields): ask the server. A user the
    // server rendered stays on screen meanwhile.
    if (known ? initialUser && !initialUser.created_at : !client.user)
      client.getUser().catch(() => {
        if (!known) {
          setUser(null);
          setStatus("signed_out");
        }
      });
    return off;
    // The client and what the server said are fixed for the provider's life.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [client]);
  const value = useMemo<AuthValue>(
    () => ({
      user,
      status,
      client,
      login: client.login,
      logout: client.logout,
      signup: client.signup,
      verifyMfa: client.verifyMfa,
    }),
    [user, status, client],
  );
  return <AuthContext.Provider value={value}>{props.children}</AuthContext.Provider>;
}

/** The user, the status and the account actions of the nearest `TesseraProvider`. */
export function useAuth(): AuthValue {
  const value = useContext(AuthContext);
  if (!value) throw new Error("useAuth needs a <TesseraProvider> above it");
  return value;
}

/**
 * Renders `children` for a signed-in user holding every role in `roles`; otherwise `fallback`
 * (nothing while the status is still loading).
 */
export function RequireAuth(props: { roles?: string[]; fallback?: ReactNode; children?: ReactNode }) {
  const { user, status } = useAuth();
  if (status == "loading") return null;
  const allowed = !!user && (props.roles ?? []).every((role) => user.roles.includes(role));
  return <>{allowed ? props.children : (props.fallback ?? null)}</>;
}
