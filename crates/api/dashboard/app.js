// vidgate dashboard: a key-holder's view of the public API. Lists the key's requests and keeps
// the unfinished ones live through their SSE status streams, plays finished videos, submits
// the create form (with the model rules from /models), cancels. No framework, no build step:
// the file is served from the binary as written. Everything shown is set as text, never HTML.
"use strict";

const API = "/tencent-vod/v1";
const KEY_STORE = "vidgate.key";
// A browser opens at most 6 HTTP/1.1 connections per origin; an EventSource holds one open,
// so two are left for fetches. Unfinished requests beyond these are kept fresh by polling.
const MAX_STREAMS = 4;
const REFRESH_MS = 4000;
const SWITCH = ["Enabled", "Disabled"];
// Offered when a model's table leaves a setting undocumented (any value passes through).
const COMMON = { resolution: ["720P", "1080P", "2K", "4K"], aspect_ratio: ["16:9", "9:16", "1:1", "4:3", "3:4", "21:9"] };

const $ = (id) => document.getElementById(id);
const state = { key: "", models: [], cards: new Map(), streams: 0, cursor: null, timer: null };

// ---- API -----------------------------------------------------------------------------------

class ApiError extends Error {
  constructor(status, body, retryAfter) {
    super(describe(body) || `HTTP ${status}`);
    this.status = status;
    this.body = body || {};
    this.retryAfter = retryAfter;
  }
}

/** The message of an error body: `detail` is a string, or a list of field errors. */
function describe(body) {
  if (!body) return "";
  if (typeof body.detail === "string") return body.detail;
  if (Array.isArray(body.detail)) return body.detail.map((e) => `${e.loc.join(".")}: ${e.msg}`).join("\n");
  return "";
}

/** Path and query of a URL the API handed out, so calls stay on this origin (the CSP's). */
function local(url) {
  const u = new URL(url, location.href);
  return u.pathname + u.search;
}

/** Only http(s) URLs become links or media sources. */
function safe(url) {
  try {
    const u = new URL(url, location.href);
    return u.protocol === "http:" || u.protocol === "https:" ? u.href : null;
  } catch {
    return null;
  }
}

async function api(path, { method = "GET", body, headers = {} } = {}) {
  const h = { Authorization: `Bearer ${state.key}`, ...headers };
  if (body !== undefined) h["Content-Type"] = "application/json";
  const res = await fetch(path, { method, headers: h, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = { detail: text };
  }
  if (res.status >= 400) throw new ApiError(res.status, data, res.headers.get("Retry-After"));
  return { status: res.status, data };
}

// ---- Key ------------------------------------------------------------------------------------

async function useKey(key) {
  state.key = key;
  $("key-status").textContent = "Checking key…";
  try {
    const { data } = await api(`${API}/models`);
    state.models = data.models;
  } catch (e) {
    state.key = "";
    $("key-status").textContent = e.status === 401 ? "This key was not accepted." : `Cannot reach vidgate: ${e.message}`;
    return false;
  }
  localStorage.setItem(KEY_STORE, key);
  $("api-key").value = "";
  $("api-key").placeholder = `${key.slice(0, 9)}… in use`;
  $("key-status").textContent = "Key accepted.";
  $("main").hidden = false;
  fillModels();
  loadAccount();
  await loadList(true);
  clearInterval(state.timer);
  state.timer = setInterval(() => document.hidden || loadList(false), REFRESH_MS);
  return true;
}

function forgetKey() {
  localStorage.removeItem(KEY_STORE);
  state.key = "";
  clearInterval(state.timer);
  clearCards();
  $("main").hidden = true;
  $("admin").hidden = true;
  $("account").textContent = "";
  $("api-key").placeholder = "vg_…";
  $("key-status").textContent = "Key forgotten.";
}

// ---- Create form ----------------------------------------------------------------------------

function options(select, values, first) {
  select.replaceChildren();
  if (first !== undefined) select.append(new Option(first, ""));
  for (const v of values) select.append(new Option(v, v));
}

function fillModels() {
  options($("model_name"), state.models.map((m) => m.name));
  for (const s of document.querySelectorAll("select[data-switch]")) options(s, SWITCH, "default");
  fillVersions();
}

function currentRules() {
  const model = state.models.find((m) => m.name === $("model_name").value);
  return model && model.versions.find((v) => v.version === $("model_version").value);
}

function fillVersions() {
  const model = state.models.find((m) => m.name === $("model_name").value);
  options($("model_version"), model ? model.versions.map((v) => v.version) : []);
  fillRules();
}

/** Offers what the chosen version accepts and says the rest in one line. */
function fillRules() {
  const r = currentRules();
  if (!r) return;
  for (const [name, values, dflt] of [
    ["resolution", r.resolutions, r.default_resolution],
    ["aspect_ratio", r.aspect_ratios, r.default_aspect_ratio],
  ]) {
    const select = $(name);
    const keep = select.value;
    if (values && values.length === 0) {
      options(select, [], "not supported");
      select.disabled = true;
      continue;
    }
    select.disabled = false;
    options(select, values || COMMON[name], dflt ? `default (${dflt})` : "default");
    if ([...select.options].some((o) => o.value === keep)) select.value = keep;
  }
  const d = r.durations;
  const duration = $("duration");
  duration.min = d.kind === "whole" ? d.min : 0;
  duration.max = d.kind === "whole" ? d.max : "";
  duration.step = d.kind === "whole" ? 1 : "any";
  duration.placeholder = r.default_duration ? `default ${r.default_duration}` : "";
  const durations =
    d.kind === "whole" ? `${d.min}–${d.max} s` : d.kind === "one_of" ? `${d.values.join(" or ")} s` : "any length";
  const lastFrame = r.last_frame === "supported" ? "yes" : r.last_frame === "not_supported" ? "no" : `at ${r.last_frame} only`;
  const audio = r.audio === null ? "undocumented" : r.audio ? "yes" : "no";
  $("model-rules").textContent =
    `Duration ${durations} · up to ${r.max_images} image(s) · last frame: ${lastFrame} · audio: ${audio}`;
  $("add-image").disabled = $("file-infos").children.length >= r.max_images;
}

function addImage() {
  const row = document.createElement("div");
  row.className = "file-info";
  const type = document.createElement("select");
  options(type, ["Url", "File"]);
  type.name = "type";
  const value = document.createElement("input");
  value.name = "value";
  value.placeholder = "https://… or file id";
  const text = document.createElement("input");
  text.name = "text";
  text.placeholder = "description (optional)";
  const remove = document.createElement("button");
  remove.type = "button";
  remove.textContent = "×";
  remove.title = "Remove image";
  remove.addEventListener("click", () => {
    row.remove();
    fillRules();
  });
  row.append(type, value, text, remove);
  $("file-infos").append(row);
  fillRules();
}

/** The create body from the form: only what the user filled in. */
function formBody() {
  const v = (id) => $(id).value.trim();
  const body = { model_name: v("model_name"), model_version: v("model_version"), prompt: v("prompt") };
  for (const f of ["negative_prompt", "enhance_prompt", "last_frame_url", "session_id", "session_context", "ext_info"]) {
    if (v(f)) body[f] = v(f);
  }
  if (v("tasks_priority")) body.tasks_priority = Number(v("tasks_priority"));
  const out = {};
  for (const f of ["storage_mode", "media_name", "resolution", "aspect_ratio", "audio_generation", "person_generation",
    "input_compliance_check", "output_compliance_check", "enhance_switch"]) {
    if (v(f) && !$(f).disabled) out[f] = v(f);
  }
  if (v("duration")) out.duration = Number(v("duration"));
  if (Object.keys(out).length) body.output_config = out;
  const images = [...$("file-infos").children].map((row) => {
    const get = (n) => row.querySelector(`[name=${n}]`).value.trim();
    const info = { type: get("type") };
    info[get("type") === "File" ? "file_id" : "url"] = get("value");
    if (get("text")) info.text = get("text");
    return info;
  });
  if (images.length) body.file_infos = images;
  return body;
}

function clearFormErrors() {
  $("form-errors").textContent = "";
  for (const e of document.querySelectorAll(".field-error")) e.textContent = "";
  for (const e of document.querySelectorAll(".invalid")) e.classList.remove("invalid");
}

/** Puts each field error next to its field (by `loc`) and lists them all above the button. */
function showFormErrors(err) {
  $("form-errors").textContent = err.retryAfter ? `${err.message} (retry after ${err.retryAfter} s)` : err.message;
  if (!Array.isArray(err.body.detail)) return;
  for (const e of err.body.detail) {
    const loc = e.loc.map(String);
    const name = loc[loc.length - 1];
    const input = loc[1] === "file_infos" && loc.length > 2
      ? $("file-infos").children[Number(loc[2])]?.querySelector("[name=value]")
      : document.getElementById(name);
    if (input) input.classList.add("invalid");
    for (let n = loc.length; n > 0; n--) {
      const span = document.querySelector(`.field-error[data-loc="${loc.slice(0, n).join(".")}"]`);
      if (span) {
        span.textContent = span.textContent ? `${span.textContent}\n${e.msg}` : e.msg;
        break;
      }
    }
  }
}

async function submit(event) {
  event.preventDefault();
  clearFormErrors();
  const button = $("submit");
  button.disabled = true;
  try {
    const body = formBody();
    const webhook = $("fal_webhook").value.trim();
    const path = webhook ? `${API}/aigc-video?fal_webhook=${encodeURIComponent(webhook)}` : `${API}/aigc-video`;
    const headers = $("lane").value ? { "X-Fal-Queue-Priority": $("lane").value } : {};
    const { data } = await api(path, { method: "POST", body, headers });
    const card = upsert({ ...data, prompt: body.prompt, model_name: body.model_name, model_version: body.model_version,
      created_at: new Date().toISOString(), progress: 0 }, true);
    card.el.classList.add("new");
    follow(data.request_id);
    $("prompt").value = "";
  } catch (e) {
    if (e instanceof ApiError) showFormErrors(e);
    else $("form-errors").textContent = `Cannot reach vidgate: ${e.message}`;
  } finally {
    button.disabled = false;
  }
}

// ---- Request list ---------------------------------------------------------------------------

function clearCards() {
  for (const c of state.cards.values()) closeStream(c);
  state.cards.clear();
  $("requests").replaceChildren();
}

async function loadList(reset) {
  const filter = $("filter").value;
  const query = new URLSearchParams({ limit: "20" });
  if (filter) query.set("status", filter);
  try {
    const { data } = await api(`${API}/aigc-video/requests?${query}`);
    if (reset) {
      clearCards();
      state.cursor = data.next_cursor;
    }
    for (const s of data.requests) upsert(s, false);
    $("more").hidden = !state.cursor;
    $("list-status").textContent = state.cards.size ? "" : "No requests yet.";
  } catch (e) {
    $("list-status").textContent = e.status === 401 ? "The key is no longer accepted." : `Cannot list requests: ${e.message}`;
  }
}

async function loadMore() {
  if (!state.cursor) return;
  const query = new URLSearchParams({ limit: "20", cursor: state.cursor });
  if ($("filter").value) query.set("status", $("filter").value);
  try {
    const { data } = await api(`${API}/aigc-video/requests?${query}`);
    state.cursor = data.next_cursor;
    for (const s of data.requests) upsert(s, false, true);
    $("more").hidden = !state.cursor;
  } catch (e) {
    $("list-status").textContent = `Cannot list requests: ${e.message}`;
  }
}

/** What a `COMPLETED` request came to. */
function outcome(s) {
  if (s.status !== "COMPLETED") return s.status;
  if (s.error_type === "request_cancelled") return "cancelled";
  return s.error ? "failed" : "succeeded";
}

const LABELS = { IN_QUEUE: "in queue", IN_PROGRESS: "in progress" };

/** Creates or updates the card of one request from a status object (list, stream or handle). */
function upsert(s, onTop, atEnd) {
  let card = state.cards.get(s.request_id);
  if (!card) {
    const el = $("request-card").content.firstElementChild.cloneNode(true);
    el.dataset.requestId = s.request_id;
    el.querySelector(".cancel").addEventListener("click", () => cancel(card));
    card = { el, stream: null, result: false, status: null };
    state.cards.set(s.request_id, card);
    if (atEnd || !onTop && $("requests").children.length && !newerThanAll(s)) $("requests").append(el);
    else $("requests").prepend(el);
    $("list-status").textContent = "";
  }
  const el = card.el;
  card.status = s.status;
  Object.assign(card, { statusUrl: s.status_url || card.statusUrl, responseUrl: s.response_url || card.responseUrl,
    cancelUrl: s.cancel_url || card.cancelUrl });
  el.dataset.status = s.status;
  const result = outcome(s);
  el.dataset.outcome = result;
  const badge = el.querySelector(".badge");
  badge.className = `badge ${result}`;
  badge.textContent = LABELS[result] || result;
  el.querySelector(".id").textContent = s.request_id;
  if (s.model_name) el.querySelector(".model").textContent = `${s.model_name} ${s.model_version}`;
  if (s.prompt !== undefined) el.querySelector(".prompt").textContent = s.prompt || "";
  if (s.created_at) {
    const time = el.querySelector(".created");
    time.dateTime = s.created_at;
    time.textContent = new Date(s.created_at).toLocaleString();
  }
  el.querySelector("progress").value = s.progress || 0;
  el.querySelector(".position").textContent =
    s.status === "IN_QUEUE" ? `position ${s.queue_position ?? 0}` : s.status === "IN_PROGRESS" ? `${s.progress || 0}%` : "";
  if (s.logs && s.logs.length) el.querySelector(".log").textContent = s.logs[s.logs.length - 1].message;
  el.querySelector(".error").textContent = s.error || "";
  if (s.status === "COMPLETED") {
    closeStream(card);
    if (result === "succeeded" && !card.result) loadResult(card);
  } else if (s.stream_url && !card.stream && state.streams < MAX_STREAMS) {
    openStream(card, s.stream_url);
  }
  return card;
}

function newerThanAll(s) {
  const first = $("requests").firstElementChild;
  const t = first && first.querySelector(".created").dateTime;
  return !t || s.created_at >= t;
}

/** Reads one request's status (which carries a fresh stream token) and follows it live. */
async function follow(id) {
  try {
    const { data } = await api(`${API}/aigc-video/requests/${encodeURIComponent(id)}/status`);
    upsert(data, true);
  } catch (e) {
    $("list-status").textContent = `Cannot read ${id}: ${e.message}`;
  }
}

function openStream(card, url) {
  const source = new EventSource(`${local(url)}&logs=1`);
  card.stream = source;
  state.streams++;
  source.onmessage = (event) => upsert(JSON.parse(event.data), false);
  // The browser reconnects by itself after a dropped connection; a refused one (token expired,
  // key revoked) ends here and the periodic list refresh takes over.
  source.onerror = () => source.readyState === EventSource.CLOSED && closeStream(card);
}

function closeStream(card) {
  if (!card.stream) return;
  card.stream.close();
  card.stream = null;
  state.streams--;
}

async function loadResult(card) {
  card.result = true;
  try {
    const { status, data } = await api(local(card.responseUrl));
    if (status !== 200) {
      card.result = false;
      return;
    }
    const output = card.el.querySelector(".output");
    output.replaceChildren(...(data.videos || [data.video]).filter(Boolean).map(mediaView));
  } catch (e) {
    card.el.querySelector(".error").textContent = e.message;
  }
}

/** A player for one output file, its cover, and what it is. */
function mediaView(file) {
  const box = document.createElement("div");
  box.className = "media";
  const src = safe(file.url);
  const cover = file.cover_url && safe(file.cover_url);
  if (src) {
    const video = document.createElement("video");
    video.controls = true;
    video.preload = "metadata";
    video.src = src;
    if (cover) video.poster = cover;
    box.append(video);
  }
  const facts = document.createElement("p");
  facts.className = "facts";
  const parts = [];
  if (file.width && file.height) parts.push(`${file.width}×${file.height}`);
  if (file.duration) parts.push(`${file.duration} s`);
  if (file.file_size) parts.push(`${(file.file_size / 1e6).toFixed(2)} MB`);
  if (file.expires_at) parts.push(`kept until ${new Date(file.expires_at).toLocaleString()}`);
  facts.append(parts.join(" · "));
  if (src) facts.append(" · ", link(src, "download"));
  if (cover) {
    const img = document.createElement("img");
    img.src = cover;
    img.alt = "cover";
    const a = link(cover, "");
    a.append(img);
    box.append(a);
  }
  box.append(facts);
  return box;
}

function link(href, text) {
  const a = document.createElement("a");
  a.href = href;
  a.target = "_blank";
  a.rel = "noopener";
  a.textContent = text;
  return a;
}

async function cancel(card) {
  const button = card.el.querySelector(".cancel");
  button.disabled = true;
  try {
    await api(local(card.cancelUrl), { method: "PUT" });
  } catch (e) {
    card.el.querySelector(".error").textContent = e.message;
  }
  await follow(card.el.dataset.requestId);
  button.disabled = false;
}

// ---- Wiring ---------------------------------------------------------------------------------

document.addEventListener("DOMContentLoaded", () => {
  $("key-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const key = $("api-key").value.trim();
    if (key) useKey(key);
  });
  $("key-forget").addEventListener("click", forgetKey);
  $("model_name").addEventListener("change", fillVersions);
  $("model_version").addEventListener("change", fillRules);
  $("add-image").addEventListener("click", addImage);
  $("create-form").addEventListener("submit", submit);
  $("filter").addEventListener("change", () => loadList(true));
  $("refresh").addEventListener("click", () => loadList(true));
  $("more").addEventListener("click", loadMore);
  const saved = localStorage.getItem(KEY_STORE);
  if (saved) useKey(saved);
});
