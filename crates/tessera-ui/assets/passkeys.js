// Passkeys on the hosted pages: the sign-in page's passkey button and autofill, and the account
// page's "Add a passkey". The pages work without this file; it only adds what needs the
// browser's WebAuthn API, and does nothing in a browser without it.
(() => {
  "use strict";
  const PKC = window.PublicKeyCredential;
  const root = document.querySelector("[data-passkeys]");
  if (!PKC || !navigator.credentials || !root) return;

  const decode = (text) => Uint8Array.from(atob(text.replace(/-/g, "+").replace(/_/g, "/")), (c) => c.charCodeAt(0)).buffer;
  const encode = (buffer) => btoa(String.fromCharCode(...new Uint8Array(buffer))).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  const ids = (list) => (list || []).map((c) => ({ ...c, id: decode(c.id) }));
  // The JSON helpers where the browser has them, a small conversion where it does not.
  const creation = (o) => PKC.parseCreationOptionsFromJSON ? PKC.parseCreationOptionsFromJSON(o)
    : { ...o, challenge: decode(o.challenge), user: { ...o.user, id: decode(o.user.id) }, excludeCredentials: ids(o.excludeCredentials) };
  const request = (o) => PKC.parseRequestOptionsFromJSON ? PKC.parseRequestOptionsFromJSON(o)
    : { ...o, challenge: decode(o.challenge), allowCredentials: ids(o.allowCredentials) };
  const json = (c) => {
    if (typeof c.toJSON === "function") return c.toJSON();
    const r = c.response;
    const response = { clientDataJSON: encode(r.clientDataJSON) };
    if (r.attestationObject) {
      response.attestationObject = encode(r.attestationObject);
      response.transports = r.getTransports ? r.getTransports() : [];
    } else {
      response.authenticatorData = encode(r.authenticatorData);
      response.signature = encode(r.signature);
      if (r.userHandle) response.userHandle = encode(r.userHandle);
    }
    return { id: c.id, rawId: encode(c.rawId), type: c.type, response, clientExtensionResults: c.getClientExtensionResults() };
  };

  // The page's CSRF token (its forms carry it): cookie-mode requests send it as a header.
  const csrf = (document.querySelector("input[name=csrf_token]") || {}).value || "";
  const post = async (path, body) => {
    const response = await fetch(path, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify(body),
    });
    if (!response.ok) throw Object.assign(new Error(`${path} answered ${response.status}`), { status: response.status });
    return response.json();
  };

  const alert = root.querySelector("[data-passkey-error]");
  const action = root.querySelector("[data-passkey-action]");
  const fail = (error) => {
    if (error && error.name === "AbortError") return;
    alert.textContent = error && error.name === "NotAllowedError" ? root.dataset.cancelled : root.dataset.failed;
    alert.hidden = false;
  };
  action.hidden = false;

  if (root.dataset.passkeys === "login") {
    // The server keeps a ceremony 5 minutes, but an autofill request waits as long as the
    // page stays open: a fresh one replaces it before its ceremony runs out.
    const renewAfter = 270000;
    let pending = null;
    let renewal = 0;
    const signIn = async (email, mediation) => {
      if (pending) pending.abort();
      clearTimeout(renewal);
      const controller = (pending = new AbortController());
      const options = await post("/auth/passkey/options", email ? { email } : {});
      // Unless a click began another request meanwhile: the renewal must not abort that one.
      if (mediation === "conditional" && pending === controller) renewal = setTimeout(autofill, renewAfter);
      const credential = await navigator.credentials.get({ publicKey: request(options.publicKey), mediation, signal: controller.signal });
      clearTimeout(renewal);
      await post("/auth/passkey/login", { ceremony_id: options.ceremony_id, credential: json(credential), cookie: true });
      location.assign(root.dataset.next);
    };
    // A failed autofill request stays quiet unless the server refused it.
    const autofill = () => signIn("", "conditional").catch((error) => error.status && fail(error));
    action.addEventListener("click", () => {
      alert.hidden = true;
      const email = document.getElementById("email");
      signIn(email ? email.value.trim() : "", undefined).catch(fail);
    });
    // Autofill: the browser offers this site's passkeys in the email field's suggestions.
    if (PKC.isConditionalMediationAvailable) {
      PKC.isConditionalMediationAvailable().then((available) => {
        if (available) autofill();
      });
    }
  } else if (root.dataset.passkeys === "account") {
    action.addEventListener("click", async () => {
      alert.hidden = true;
      try {
        const options = await post("/users/me/passkeys/register/options", {});
        const credential = await navigator.credentials.create({ publicKey: creation(options.publicKey) });
        await post("/users/me/passkeys/register", { ceremony_id: options.ceremony_id, credential: json(credential), name: root.dataset.name });
        location.assign(root.dataset.done);
      } catch (error) {
        fail(error);
      }
    });
  }
})();
