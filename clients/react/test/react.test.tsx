import { StrictMode } from "react";
import { renderToString } from "react-dom/server";
import { cleanup, fireEvent, render, screen } from "@testing-library/react";
import { afterEach, describe, expect, it } from "vitest";
import { createClient, type User } from "@tessera/client";
import { RequireAuth, TesseraProvider, useAuth } from "../src/index";

const BASE = "https://auth.example.com";
const ada: User = { id: "u1", email: "ada@example.com", roles: ["member"], name: "Ada" };

/** A server that knows one session (its cookie) and counts the calls. */
function server(signedIn: boolean) {
  const calls: string[] = [];
  const fetch = async (input: RequestInfo | URL, init?: RequestInit) => {
    const request = new Request(input, init);
    const path = new URL(request.url).pathname;
    calls.push(`${request.method} ${path}`);
    if (path == "/users/me" && signedIn)
      return Response.json({ ...ada, created_at: "2026-12-03T00:00:00Z" });
    if (path == "/auth/login")
      return Response.json({ user: ada, expires_in: 900, csrf_token: "c", session_id: "s" });
    if (path == "/auth/logout") return new Response(null, { status: 204 });
    return Response.json(
      { status: 401, code: "token_missing" },
      { status: 401, headers: { "content-type": "application/problem+json" } },
    );
  };
  return { calls, client: createClient({ baseUrl: BASE, fetch }) };
}

function Who() {
  const { user, status } = useAuth();
  return <p>{status == "signed_in" ? `signed in as ${user!.email}` : status}</p>;
}

afterEach(cleanup);

describe("TesseraProvider", () => {
  it("renders the user the server knows on the first render, on the server and in the browser", () => {
    const { client } = server(true);
    const tree = (
      <TesseraProvider client={client} initialUser={ada}>
        <Who />
      </TesseraProvider>
    );

    const html = renderToString(tree);
    const { container } = render(tree);

    expect(html).toContain("signed in as ada@example.com");
    expect(container.innerHTML).toBe(html);
  });

  it("with initialUser null it is signed out at once and asks nothing", () => {
    const { client, calls } = server(false);

    render(
      <TesseraProvider client={client} initialUser={null}>
        <Who />
      </TesseraProvider>,
    );

    expect(screen.getByText("signed_out")).toBeTruthy();
    expect(calls).toEqual([]);
  });

  it("without initialUser it loads, then resolves through /users/me, under StrictMode", async () => {
    const signedIn = server(true);
    const signedOut = server(false);

    render(
      <StrictMode>
        <TesseraProvider client={signedIn.client}>
          <Who />
        </TesseraProvider>
        <TesseraProvider client={signedOut.client}>
          <Who />
        </TesseraProvider>
      </StrictMode>,
    );

    expect(screen.getAllByText("loading")).toHaveLength(2);
    expect(await screen.findByText("signed in as ada@example.com")).toBeTruthy();
    expect(await screen.findByText("signed_out")).toBeTruthy();
  });

  it("follows login and logout through the client's events", async () => {
    const { client } = server(false);
    function Buttons() {
      const { login, logout } = useAuth();
      return (
        <>
          <button onClick={() => login({ email: "ada@example.com", password: "x" })}>in</button>
          <button onClick={() => logout()}>out</button>
        </>
      );
    }
    render(
      <StrictMode>
        <TesseraProvider client={client} initialUser={null}>
          <Who />
          <Buttons />
        </TesseraProvider>
      </StrictMode>,
    );

    fireEvent.click(screen.getByText("in"));
    expect(await screen.findByText("signed in as ada@example.com")).toBeTruthy();
    fireEvent.click(screen.getByText("out"));
    expect(await screen.findByText("signed_out")).toBeTruthy();
  });
});

describe("RequireAuth", () => {
  it("shows its children only to a signed-in user with every role", () => {
    const { client } = server(true);
    const page = (user: User | null, roles?: string[]) => (
      <TesseraProvider client={client} initialUser={user}>
        <RequireAuth roles={roles} fallback={<p>please sign in</p>}>
          <p>secret</p>
        </RequireAuth>
      </TesseraProvider>
    );

    expect(renderToString(page(ada))).toContain("secret");
    expect(renderToString(page(ada, ["member"]))).toContain("secret");
    expect(renderToString(page(ada, ["member", "admin"]))).toContain("please sign in");
    expect(renderToString(page(null))).toContain("please sign in");
  });

  it("useAuth outside a provider says what is missing", () => {
    expect(() => renderToString(<Who />)).toThrow(/TesseraProvider/);
  });
});
