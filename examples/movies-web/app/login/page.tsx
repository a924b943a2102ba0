"use client";

import { Suspense, useState, type FormEvent } from "react";
import Link from "next/link";
import { useRouter, useSearchParams } from "next/navigation";
import { useAuth } from "@tessera/react";
import { describe } from "@/lib/errors";
import { deviceName, safeNext } from "@/lib/device";

export default function LoginPage() {
  return (
    <Suspense>
      <LoginForm />
    </Suspense>
  );
}

function LoginForm() {
  const { login, verifyMfa } = useAuth();
  const router = useRouter();
  const next = safeNext(useSearchParams().get("next"));
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [mfaToken, setMfaToken] = useState<string | null>(null);
  const [code, setCode] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const done = () => {
    router.push(next);
    router.refresh();
  };

  async function submit(event: FormEvent) {
    event.preventDefault();
    setError(null);
    if (!email.includes("@")) return setError("Enter your email address.");
    if (!password) return setError("Enter your password.");
    setBusy(true);
    try {
      const result = await login({ email, password, deviceName: deviceName() });
      if ("mfaRequired" in result && result.mfaRequired) {
        setMfaToken(result.mfaToken);
      } else {
        done();
      }
    } catch (e) {
      setError(describe(e));
    } finally {
      setBusy(false);
    }
  }

  async function submitCode(event: FormEvent) {
    event.preventDefault();
    if (!mfaToken) return;
    setError(null);
    setBusy(true);
    try {
      await verifyMfa({ mfaToken, code: code.trim() });
      done();
    } catch (e) {
      setError(describe(e));
    } finally {
      setBusy(false);
    }
  }

  if (mfaToken) {
    return (
      <form className="card narrow" onSubmit={submitCode} noValidate>
        <h1>Two-step verification</h1>
        <p className="muted">Enter the 6-digit code from your authenticator app, or a recovery code.</p>
        <label>
          Code
          <input name="code" inputMode="numeric" autoComplete="one-time-code" value={code} onChange={(e) => setCode(e.target.value)} autoFocus />
        </label>
        {error && <p className="error" role="alert">{error}</p>}
        <button type="submit" disabled={busy}>Verify</button>
      </form>
    );
  }

  return (
    <form className="card narrow" onSubmit={submit} noValidate>
      <h1>Log in</h1>
      <label>
        Email
        <input name="email" type="email" autoComplete="email" value={email} onChange={(e) => setEmail(e.target.value)} />
      </label>
      <label>
        Password
        <input name="password" type="password" autoComplete="current-password" value={password} onChange={(e) => setPassword(e.target.value)} />
      </label>
      {error && <p className="error" role="alert">{error}</p>}
      <button type="submit" disabled={busy}>{busy ? "Logging in…" : "Log in"}</button>
      <p className="muted">
        New here? <Link href="/signup">Create an account</Link>
      </p>
    </form>
  );
}
