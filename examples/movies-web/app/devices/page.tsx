"use client";

import { useCallback, useEffect, useState } from "react";
import { useRouter } from "next/navigation";
import { useAuth } from "@tessera/react";
import { auth } from "@/lib/auth";
import { describe } from "@/lib/errors";

type Session = Awaited<ReturnType<typeof auth.sessions.list>>[number];

const when = (iso: string) => new Date(iso).toLocaleString("en-GB", { dateStyle: "medium", timeStyle: "short" });

export default function DevicesPage() {
  const { user, logout } = useAuth();
  const router = useRouter();
  const [sessions, setSessions] = useState<Session[] | null>(null);
  const [error, setError] = useState<string | null>(null);

  const load = useCallback(async () => {
    try {
      setSessions(await auth.sessions.list());
    } catch (e) {
      setError(describe(e));
    }
  }, []);

  useEffect(() => {
    if (user) void load();
  }, [user, load]);

  async function revoke(session: Session) {
    setError(null);
    try {
      if (session.current) {
        await logout();
        router.push("/login");
        return;
      }
      await auth.sessions.revoke(session.id);
      await load();
    } catch (e) {
      setError(describe(e));
    }
  }

  if (!user) return null;

  return (
    <section className="card">
      <h1>Your devices</h1>
      <p className="muted">Every browser or app signed in to your account. Signing a device out ends its session at once.</p>
      {error && <p className="error" role="alert">{error}</p>}
      {sessions === null ? (
        <p className="muted">Fetching your devices…</p>
      ) : (
        <table className="devices" data-testid="devices">
          <thead>
            <tr>
              <th>Device</th>
              <th className="wide">Address</th>
              <th className="wide">Signed in</th>
              <th>Last active</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {sessions.map((s) => (
              <tr key={s.id} data-testid="device" data-current={s.current ? "true" : "false"}>
                <td>
                  {s.device_name ?? "Unknown device"}
                  {s.current && <span className="badge">this device</span>}
                </td>
                <td className="wide">{s.ip ?? ""}</td>
                <td className="wide">{when(s.created_at)}</td>
                <td>{when(s.last_used_at)}</td>
                <td>
                  <button className="secondary" onClick={() => revoke(s)}>
                    Sign out
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
