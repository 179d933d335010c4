// custodyd console: the live parts of the server-rendered pages, and in-browser proof checks.
// Every page works without this script (plain links and forms); this file only adds:
//  - confirmation dialogs for destructive forms,
//  - the live media list (from /v1/media/events, read with fetch so the session cookie counts),
//  - the live acquisition progress (from /v1/acquisitions/{id}/events),
//  - "Check proof": an RFC 9162 inclusion proof and the checkpoint's Ed25519 signature,
//    verified here with WebCrypto against the public key shown on the page.
"use strict";

document.documentElement.classList.add("js");

// ---- Server-Sent Events over fetch ------------------------------------------------------

async function* serverEvents(url, signal) {
  const response = await fetch(url, {
    credentials: "same-origin",
    headers: { Accept: "text/event-stream" },
    cache: "no-store",
    signal,
  });
  if (!response.ok) {
    throw new Error(`${url}: HTTP ${response.status}`);
  }
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value.replace(/\r\n/g, "\n");
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let event = "message";
      const data = [];
      for (const line of block.split("\n")) {
        if (line.startsWith(":")) continue;
        if (line.startsWith("event:")) event = line.slice(6).trim();
        else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
      }
      if (data.length) yield { event, data: data.join("\n") };
    }
  }
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function humanBytes(n) {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let size = Number(n) || 0;
  let unit = 0;
  while (size >= 1024 && unit < units.length - 1) {
    size /= 1024;
    unit += 1;
  }
  return unit === 0 ? `${size.toFixed(0)} B` : `${size.toFixed(1)} ${units[unit]}`;
}

// ---- forms: confirmation, busy state --------------------------------------------------------

function wireForms() {
  for (const form of document.querySelectorAll("form[data-confirm]")) {
    form.addEventListener("submit", (event) => {
      if (!window.confirm(form.dataset.confirm)) {
        event.preventDefault();
        return;
      }
      const confirmed = form.querySelector("input[name=confirmed]");
      if (confirmed) confirmed.value = "yes";
    });
  }
  for (const form of document.querySelectorAll("form[data-busy]")) {
    form.addEventListener("submit", () => {
      const button = form.querySelector("button[type=submit]");
      if (button) {
        button.disabled = true;
        button.textContent = form.dataset.busy;
      }
    });
  }
  for (const input of document.querySelectorAll("[data-select-on-focus]")) {
    input.addEventListener("focus", () => input.select());
  }
}

// ---- live media ------------------------------------------------------------------------------

async function refreshMedia(list) {
  const response = await fetch("/media", { credentials: "same-origin", cache: "no-store" });
  if (!response.ok) throw new Error(`/media: HTTP ${response.status}`);
  const fresh = new DOMParser()
    .parseFromString(await response.text(), "text/html")
    .querySelector("[data-live-media]");
  if (!fresh) throw new Error("/media: no media list in the answer");
  const active = document.activeElement;
  const wanted = new Set();
  let previous = null;
  for (const card of fresh.children) {
    wanted.add(card.id);
    let current = card.id ? document.getElementById(card.id) : null;
    if (current && current.parentElement !== list) current = null;
    const busy = current && active && current.contains(active) && active !== document.body;
    if (!current) {
      current = document.importNode(card, true);
      wireCard(current);
      if (previous) previous.after(current);
      else list.prepend(current);
    } else if (current.dataset.version !== card.dataset.version && !busy) {
      const replacement = document.importNode(card, true);
      wireCard(replacement);
      current.replaceWith(replacement);
      current = replacement;
    }
    previous = current;
  }
  for (const card of [...list.children]) {
    if (!wanted.has(card.id)) card.remove();
  }
}

function wireCard(card) {
  for (const form of card.querySelectorAll("form[data-confirm]")) {
    form.addEventListener("submit", (event) => {
      if (!window.confirm(form.dataset.confirm)) event.preventDefault();
    });
  }
}

async function liveMedia(list) {
  const status = document.querySelector("[data-live-status]");
  const say = (text) => {
    if (status) status.textContent = text;
  };
  let first = true;
  let delay = 1000;
  for (;;) {
    try {
      say(" (live: updates by themselves)");
      for await (const message of serverEvents("/v1/media/events")) {
        delay = 1000;
        if (message.event !== "media") continue;
        if (first) {
          first = false; // the page itself is this state
          continue;
        }
        await refreshMedia(list);
        list.dataset.revision = JSON.parse(message.data).revision;
      }
      say(" (stream ended; reconnecting)");
    } catch (error) {
      say(` (not live: ${error.message}; retrying)`);
    }
    first = false;
    await sleep(delay);
    delay = Math.min(delay * 2, 5000);
    try {
      await refreshMedia(list);
    } catch (error) {
      say(` (not live: ${error.message})`);
    }
  }
}

// ---- live acquisition progress ---------------------------------------------------------------

function showJob(section, job) {
  const field = (name) => section.querySelector(`[data-field=${name}]`);
  const bar = section.querySelector("progress");
  const total = job.bytes_total || 0;
  const done = job.bytes_done || 0;
  const finished = job.state === "done";
  const percent = total ? (100 * done) / total : finished ? 100 : 0;
  if (bar) {
    bar.max = total || 1;
    bar.value = total ? done : finished ? 1 : 0;
    bar.textContent = `${percent.toFixed(0)} %`;
  }
  field("percent").textContent = `${percent.toFixed(0)} %`;
  field("state").textContent = job.state;
  field("bytes").textContent = `${humanBytes(done)} of ${humanBytes(total)}`;
  const active = ["queued", "running"].includes(job.state);
  const seconds = (Date.parse(job.finished_at) - Date.parse(job.started_at)) / 1000;
  if (!active && seconds > 0) {
    // the last report may be the verify pass's: show the whole run's average instead
    field("rate").textContent = `${humanBytes(done / seconds)}/s on average over ${seconds.toFixed(1)} s`;
  } else {
    field("rate").textContent = job.rate_bps ? `${humanBytes(job.rate_bps)}/s` : "—";
  }
  const eta = job.eta_seconds;
  field("eta").textContent =
    !active || eta === null || eta === undefined
      ? "—"
      : eta < 10
        ? `${eta.toFixed(1)} s`
        : `${eta.toFixed(0)} s`;
  if (job.read_errors !== undefined) {
    field("errors").textContent =
      String(job.read_errors) + (job.read_error_bytes ? ` (${job.read_error_bytes} bytes)` : "");
  }
  field("error").textContent = job.error || job.cancel_reason || "none";
  if (job.evidence_id) {
    const cell = field("evidence");
    if (!cell.querySelector("a")) {
      const link = document.createElement("a");
      link.href = `/evidence/${encodeURIComponent(job.evidence_id)}`;
      link.textContent = job.evidence_id;
      cell.replaceChildren(link);
    }
  }
  if (!["queued", "running"].includes(job.state)) {
    for (const form of section.querySelectorAll("[data-cancel-form]")) form.remove();
  }
}

async function liveAcquisition(section) {
  const id = section.dataset.acquisition;
  for (let attempt = 0; attempt < 60; attempt += 1) {
    try {
      for await (const message of serverEvents(`/v1/acquisitions/${encodeURIComponent(id)}/events`)) {
        const job = JSON.parse(message.data);
        showJob(section, job);
        if (message.event === "end") return;
      }
      return;
    } catch (error) {
      section.querySelector("[data-field=error]").textContent = `progress not live: ${error.message}`;
      await sleep(2000);
    }
  }
}

// ---- in-browser proof checks (RFC 9162 + C2SP signed note, Ed25519) --------------------------

const enc = new TextEncoder();

function b64(text) {
  const raw = atob(text.trim());
  const out = new Uint8Array(raw.length);
  for (let i = 0; i < raw.length; i += 1) out[i] = raw.charCodeAt(i);
  return out;
}

function hex(bytes) {
  return [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
}

function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

async function sha256(bytes) {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
}

function equal(a, b) {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

function parseVerifierKey(vkey) {
  // name+hash+base64key: the base64 part may itself contain "+"
  const text = vkey.trim();
  const first = text.indexOf("+");
  const second = text.indexOf("+", first + 1);
  if (first <= 0 || second < 0) throw new Error("malformed public key");
  const name = text.slice(0, first);
  const hashHex = text.slice(first + 1, second);
  const keyB64 = text.slice(second + 1);
  const key = b64(keyB64);
  if (key.length !== 33 || key[0] !== 1) throw new Error("not an Ed25519 verifier key");
  return { name, hashHex, publicKey: key.slice(1) };
}

async function checkSignedCheckpoint(note, verifier, origin) {
  const split = note.lastIndexOf("\n\n");
  if (split < 0) throw new Error("checkpoint is not a signed note");
  const text = note.slice(0, split + 1);
  const keyHash = (await sha256(concat(enc.encode(verifier.name), enc.encode("\n"), new Uint8Array([1]), verifier.publicKey))).slice(0, 4);
  if (hex(keyHash) !== verifier.hashHex) throw new Error("the public key's hash does not match its name and key");
  const key = await crypto.subtle.importKey("raw", verifier.publicKey, { name: "Ed25519" }, false, ["verify"]);
  let signed = false;
  for (const line of note.slice(split + 2).split("\n")) {
    if (!line) continue;
    if (!line.startsWith("\u2014 ")) throw new Error("malformed signature line");
    const [name, sigB64] = line.slice(2).split(" ");
    const blob = b64(sigB64);
    if (name !== verifier.name || !equal(blob.slice(0, 4), keyHash)) continue;
    if (!(await crypto.subtle.verify({ name: "Ed25519" }, key, blob.slice(4), enc.encode(text)))) {
      throw new Error(`the checkpoint signature by ${name} does NOT verify`);
    }
    signed = true;
  }
  if (!signed) throw new Error(`the checkpoint is not signed by ${verifier.name}`);
  const lines = text.split("\n");
  if (origin && lines[0] !== origin) throw new Error(`checkpoint origin ${lines[0]} is not ${origin}`);
  return { size: Number(lines[1]), root: b64(lines[2]) };
}

async function rootFromInclusionProof(index, size, leaf, proof) {
  // RFC 9162 section 2.1.3.2
  if (index >= size) throw new Error("leaf index beyond the tree");
  let fn = index;
  let sn = size - 1;
  let r = await sha256(concat(new Uint8Array([0]), leaf));
  for (const p of proof) {
    if (sn === 0) throw new Error("proof is longer than the tree is deep");
    if (fn % 2 === 1 || fn === sn) {
      r = await sha256(concat(new Uint8Array([1]), p, r));
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) {
          fn = Math.floor(fn / 2);
          sn = Math.floor(sn / 2);
        }
      }
    } else {
      r = await sha256(concat(new Uint8Array([1]), r, p));
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  if (sn !== 0) throw new Error("proof is shorter than the tree is deep");
  return r;
}

async function getText(url) {
  const response = await fetch(url, { credentials: "same-origin", cache: "no-store" });
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  return response.text();
}

async function checkProof(index, row, keyElement) {
  const verifier = parseVerifierKey(keyElement.dataset.publicKey);
  const checkpoint = await checkSignedCheckpoint(
    await getText("/v1/ledger/checkpoint"),
    verifier,
    keyElement.dataset.origin,
  );
  const proof = JSON.parse(
    await getText(`/v1/ledger/proofs/inclusion?index=${index}&tree_size=${checkpoint.size}`),
  );
  const leaf = b64(proof.leaf);
  const entry = JSON.parse(new TextDecoder().decode(leaf));
  if (entry.index !== index) throw new Error(`the leaf is entry ${entry.index}, not ${index}`);
  if (row && row.dataset.action && entry.action !== row.dataset.action) {
    throw new Error(`the leaf says ${entry.action}, the page says ${row.dataset.action}`);
  }
  const root = await rootFromInclusionProof(index, checkpoint.size, leaf, proof.hashes.map(b64));
  if (!equal(root, checkpoint.root)) throw new Error("the proof does NOT lead to the signed root");
  return `verified: leaf ${index} is in the signed tree of ${checkpoint.size} (root ${hex(root).slice(0, 16)}…, Ed25519 signature by ${verifier.name} valid)`;
}

function wireProofs() {
  const keyElement = document.getElementById("ledger-public-key");
  if (!keyElement) return;
  for (const button of document.querySelectorAll("[data-check-proof]")) {
    button.hidden = false;
    button.addEventListener("click", async () => {
      const index = Number(button.dataset.checkProof);
      const out = document.querySelector(`[data-proof-result="${index}"]`);
      const row = document.getElementById(`entry-${index}`);
      out.className = "";
      out.textContent = "checking…";
      button.disabled = true;
      try {
        if (!crypto.subtle) throw new Error("WebCrypto needs a secure context (https or localhost)");
        out.textContent = `\u2713 ${await checkProof(index, row, keyElement)}`;
        out.className = "ok";
      } catch (error) {
        out.textContent = `\u2717 ${error.message}`;
        out.className = "bad";
      } finally {
        button.disabled = false;
      }
    });
  }
}

// ---- start ------------------------------------------------------------------------------------

document.addEventListener("DOMContentLoaded", () => {
  wireForms();
  wireProofs();
  const media = document.querySelector("[data-live-media]");
  if (media) liveMedia(media);
  const acquisition = document.querySelector("[data-acquisition]");
  if (acquisition) liveAcquisition(acquisition);
});
