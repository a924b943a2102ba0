"use client";

import Link from "next/link";
import { usePathname, useRouter } from "next/navigation";
import { useAuth } from "@tessera/react";

export function Nav() {
  const { user, status, logout } = useAuth();
  const path = usePathname();
  const router = useRouter();
  const link = (href: string, label: string) => (
    <Link href={href} className={path === href ? "active" : undefined}>
      {label}
    </Link>
  );
  return (
    <header className="nav">
      <Link href="/" className="brand">
        {/* Drawn, not an emoji: a machine without an emoji font would show a blank box. */}
        <svg width="20" height="20" viewBox="0 0 24 24" aria-hidden="true">
          <rect x="2" y="4" width="20" height="16" rx="3" fill="currentColor" />
          <path d="M10 8.5v7l6-3.5z" fill="#fff" />
        </svg>
        Movies
      </Link>
      <nav>
        {link("/", "Movies")}
        {link("/chat", "Chat")}
        {link("/devices", "Your devices")}
        {link("/admin", "Add a movie")}
      </nav>
      <div className="who" data-testid="who">
        {status === "loading" ? (
          <span data-testid="auth-loading">Loading…</span>
        ) : user ? (
          <>
            <span data-testid="user-email">{user.email}</span>
            {user.roles.includes("admin") && <span className="badge">admin</span>}
            <button
              className="link"
              onClick={async () => {
                await logout();
                router.push("/login");
              }}
            >
              Sign out
            </button>
          </>
        ) : (
          <span data-testid="signed-out">
            <Link href="/login">Log in</Link> · <Link href="/signup">Sign up</Link>
          </span>
        )}
      </div>
    </header>
  );
}
