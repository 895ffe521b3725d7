// Checks a ledger inclusion proof in the browser, trusting nothing the server says
// beyond the bytes it serves: the leaf hash is recomputed from the entry, the root
// from the proof (RFC 9162 §2.1.3.2), and compared with the root hash of the signed
// checkpoint (C2SP tlog-checkpoint), whose Ed25519 signature is checked against the
// log key shown on the page when the browser's WebCrypto supports Ed25519.
"use strict";
(function () {
  const section = document.getElementById("proofs");
  if (!section || !window.crypto || !window.crypto.subtle) return;
  const msg = (name) => section.dataset["msg" + name] || "";

  function b64(text) {
    const raw = atob(text.trim());
    const out = new Uint8Array(raw.length);
    for (let i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
    return out;
  }
  function concat(...parts) {
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of parts) { out.set(p, at); at += p.length; }
    return out;
  }
  async function sha256(bytes) {
    return new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  }
  const nodeHash = (l, r) => sha256(concat(new Uint8Array([1]), l, r));
  function equal(a, b) {
    if (a.length !== b.length) return false;
    let d = 0;
    for (let i = 0; i < a.length; i++) d |= a[i] ^ b[i];
    return d === 0;
  }

  // RFC 9162 §2.1.3.2, steps 1-5: the root reached from leaf_index in a tree of
  // tree_size leaves, or null when the proof has the wrong length.
  async function rootFromInclusion(index, size, leafHash, path) {
    if (index >= size) return null;
    let fn = BigInt(index), sn = BigInt(size) - 1n;
    let r = leafHash;
    for (const p of path) {
      if (sn === 0n) return null;
      if ((fn & 1n) === 1n || fn === sn) {
        r = await nodeHash(p, r);
        if ((fn & 1n) === 0n) {
          while ((fn & 1n) === 0n && fn !== 0n) { fn >>= 1n; sn >>= 1n; }
        }
      } else {
        r = await nodeHash(r, p);
      }
      fn >>= 1n; sn >>= 1n;
    }
    return sn === 0n ? r : null;
  }

  // C2SP signed-note: "<name>+<hex key id>+<base64(0x01 || key)>" and signature lines
  // "— <name> <base64(key id || signature)>". The name holds no "+" but the standard
  // base64 of the key may, so the text splits at the first two only.
  async function checkSignature(note, vkeyText) {
    const text = vkeyText.trim();
    const first = text.indexOf("+");
    const second = text.indexOf("+", first + 1);
    if (first < 0 || second < 0) return "bad";
    const name = text.slice(0, first);
    const keyId = text.slice(first + 1, second).toLowerCase();
    const key = b64(text.slice(second + 1));
    if (key[0] !== 1) return "unchecked";
    const split = note.indexOf("\n\n");
    const body = note.slice(0, split + 1);
    const lines = note.slice(split + 2).split("\n");
    let imported;
    try {
      imported = await crypto.subtle.importKey("raw", key.slice(1), { name: "Ed25519" }, false, ["verify"]);
    } catch (e) {
      return "unchecked";
    }
    for (const line of lines) {
      const m = line.match(/^\u2014 (\S+) (\S+)$/);
      if (!m || m[1] !== name) continue;
      const raw = b64(m[2]);
      const id = Array.from(raw.slice(0, 4), (b) => b.toString(16).padStart(2, "0")).join("");
      if (id !== keyId) continue;
      const sig = raw.slice(4);
      const ok = await crypto.subtle.verify({ name: "Ed25519" }, imported, sig, new TextEncoder().encode(body));
      return ok ? "ok" : "bad";
    }
    return "bad";
  }

  // The log grows every second: a checkpoint read just before the server publishes the
  // next one can name a size whose proof is not answerable yet. Try a few times.
  async function check(button, attempt = 1) {
    const out = button.parentElement.querySelector(".proof-result");
    out.className = "proof-result";
    out.textContent = msg("Checking");
    try {
      const cp = await fetch("/ledger/checkpoint", { cache: "no-store" });
      if (!cp.ok) throw new Error(String(cp.status));
      const note = await cp.text();
      const body = note.slice(0, note.indexOf("\n\n")).split("\n");
      const size = Number(body[1]);
      const root = b64(body[2]);
      const index = Number(button.dataset.index);
      const r = await fetch(`/ledger/proof/inclusion?index=${index}&size=${size}`, { cache: "no-store" });
      if (!r.ok) throw new Error(String(r.status));
      const proof = await r.json();
      const leaf = await sha256(concat(new Uint8Array([0]), b64(proof.entry)));
      const path = proof.inclusion_path.map(b64);
      const computed = await rootFromInclusion(index, size, leaf, path);
      if (computed === null || !equal(computed, root)) {
        out.textContent = msg("Bad");
        out.classList.add("bad");
        return;
      }
      const vkey = document.getElementById("vkey");
      const sig = vkey ? await checkSignature(note, vkey.textContent) : "unchecked";
      const text = msg("Ok").replace("{index}", String(index)).replace("{size}", String(size));
      const extra = sig === "ok" ? msg("SigOk") : sig === "bad" ? msg("SigBad") : msg("SigUnchecked");
      out.textContent = text + " " + extra;
      out.classList.add(sig === "bad" ? "bad" : "ok");
    } catch (e) {
      console.warn(`ledger proof check, attempt ${attempt}: ${e}`);
      if (attempt < 4) {
        await new Promise((resolve) => setTimeout(resolve, 750));
        return check(button, attempt + 1);
      }
      console.error(`ledger proof check failed: ${e}`);
      out.textContent = msg("Error");
      out.classList.add("bad");
    }
  }

  for (const button of section.querySelectorAll("button.verify-proof")) {
    button.hidden = false;
    button.addEventListener("click", () => check(button));
  }
})();
