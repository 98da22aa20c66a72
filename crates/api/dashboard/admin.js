// vidgate dashboard, the money and admin part: every key sees its balance and month's spend
// (GET /tencent-vod/v1/usage); an admin key also gets the Administration section (the /admin/
// routes): keys with their balances and budgets, new keys, top-ups, budgets, revoking, usage
// by key and the audit log. Uses app.js's `api` and `$`. Everything is set as text.
"use strict";

/** A number of credits as the API sends it, shown without float noise. */
function credits(n) {
  return n === null || n === undefined ? "–" : String(Math.round(n * 1e6) / 1e6);
}

/** The key's own standing, in the header; then the admin section if the key is an admin. */
async function loadAccount() {
  api(`${API}/usage?group_by=day_model`)
    .then(({ data }) => drawUsage("usage-chart", "usage-legend", data))
    .catch(() => drawUsage("usage-chart", "usage-legend", null));
  try {
    const { data } = await api(`${API}/usage`);
    const b = data.budget;
    if (b) {
      const parts = [`balance ${credits(b.balance)} ${data.currency}`, `spent this month ${credits(b.spent_this_month)}`];
      if (b.month_limit !== null) parts.push(`of ${credits(b.month_limit)}`);
      $("account").textContent = parts.join(" · ");
    }
  } catch (e) {
    $("account").textContent = "";
  }
  await loadAdmin();
}

async function loadAdmin() {
  let keys;
  try {
    keys = (await api("/admin/keys")).data;
  } catch (e) {
    // 403: not an admin key; the section stays hidden.
    $("admin").hidden = true;
    return;
  }
  $("admin").hidden = false;
  showKeys(keys);
  const [usage, audit, byModel] = await Promise.all([
    api("/admin/usage?group_by=key").catch(() => null),
    api("/admin/audit?limit=1000").catch(() => null),
    api("/admin/usage?group_by=day_model").catch(() => null),
  ]);
  if (usage) showUsage(usage.data, keys);
  drawUsage("admin-usage-chart", "admin-usage-legend", byModel && byModel.data);
  if (audit) showAudit(audit.data.entries);
}

function cell(row, text) {
  const td = document.createElement("td");
  td.textContent = text;
  row.append(td);
  return td;
}

function limitsText(l) {
  const parts = Object.entries(l).filter(([, v]) => v !== null).map(([k, v]) => `${k}=${v}`);
  return parts.length ? parts.join(" ") : "defaults";
}

function budgetText(b) {
  if (!b) return "–";
  const parts = [];
  if (b.prepaid) parts.push("prepaid");
  if (b.day_limit !== null) parts.push(`day ≤ ${credits(b.day_limit)}`);
  if (b.month_limit !== null) parts.push(`month ≤ ${credits(b.month_limit)}`);
  return parts.length ? parts.join(", ") : "none";
}

function showKeys(keys) {
  const body = $("keys").querySelector("tbody");
  body.replaceChildren();
  const active = keys.filter((k) => !k.revoked_at);
  for (const k of keys) {
    const row = document.createElement("tr");
    row.dataset.key = k.name;
    cell(row, k.name);
    cell(row, k.role);
    cell(row, k.revoked_at ? "revoked" : "active");
    cell(row, credits(k.budget && k.budget.balance)).className = "balance";
    cell(row, credits(k.budget && k.budget.spent_today));
    cell(row, credits(k.budget && k.budget.spent_this_month));
    cell(row, budgetText(k.budget));
    cell(row, limitsText(k.limits));
    const actions = cell(row, "");
    if (!k.revoked_at) {
      const revoke = document.createElement("button");
      revoke.type = "button";
      revoke.className = "revoke";
      revoke.textContent = "Revoke";
      revoke.addEventListener("click", () => revokeKey(k.name, revoke));
      actions.append(revoke);
    }
    body.append(row);
  }
  for (const id of ["tu-key", "bu-key"]) {
    const select = $(id);
    const keep = select.value;
    options(select, active.map((k) => k.name));
    if (active.some((k) => k.name === keep)) select.value = keep;
  }
  fillBudgetForm(keys);
}

function fillBudgetForm(keys) {
  const k = keys.find((k) => k.name === $("bu-key").value);
  const b = k && k.budget;
  $("bu-prepaid").checked = Boolean(b && b.prepaid);
  $("bu-day").value = b && b.day_limit !== null ? credits(b.day_limit) : "";
  $("bu-month").value = b && b.month_limit !== null ? credits(b.month_limit) : "";
}

function showUsage(report, keys) {
  const names = new Map(keys.map((k) => [k.id, k.name]));
  const body = $("usage").querySelector("tbody");
  body.replaceChildren();
  for (const r of [...report.rows, report.total]) {
    const row = document.createElement("tr");
    cell(row, names.get(r.group) || r.group);
    for (const v of [r.requests, r.succeeded, r.released, r.pending, r.seconds]) cell(row, String(v));
    cell(row, credits(r.spent));
    body.append(row);
  }
}

const SWATCHES = ["#2f6fed", "#1b7f3b", "#b3261e", "#8a6d00", "#7b3fc4", "#0f8a8a", "#c2410c", "#657085"];
const SVG = "http://www.w3.org/2000/svg";

function svgEl(name, attrs, text) {
  const el = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  if (text !== undefined) el.textContent = text;
  return el;
}

/**
 * A usage report grouped by day and model (`group` is `YYYY-MM-DD/Model`) as stacked bars of
 * seconds per day, one colour per model, drawn here (no chart library, no CDN). Each bar
 * carries `data-day`, `data-model` and `data-seconds`, and a tooltip.
 */
function drawUsage(svgId, legendId, report) {
  const svg = $(svgId);
  const legend = $(legendId);
  svg.replaceChildren();
  legend.replaceChildren();
  const rows = (report && report.rows) || [];
  const days = new Map();
  const models = [];
  for (const r of rows) {
    const at = r.group.indexOf("/");
    const day = r.group.slice(0, at);
    const model = r.group.slice(at + 1) || "unpriced";
    if (!models.includes(model)) models.push(model);
    if (!days.has(day)) days.set(day, new Map());
    days.get(day).set(model, (days.get(day).get(model) || 0) + r.seconds);
  }
  const width = svg.clientWidth || 600;
  const height = svg.clientHeight || 200;
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  if (!days.size) {
    svg.append(svgEl("text", { x: 8, y: 20, class: "empty" }, "no usage yet this month"));
    return;
  }
  const order = [...days.keys()].sort();
  const top = Math.max(...order.map((d) => [...days.get(d).values()].reduce((a, b) => a + b, 0)), 1);
  const [left, bottom, pad] = [44, 22, 6];
  const slot = (width - left - pad) / order.length;
  const bar = Math.max(4, Math.min(40, slot * 0.7));
  const scale = (height - bottom - pad) / top;
  svg.append(svgEl("line", { x1: left, y1: height - bottom, x2: width - pad, y2: height - bottom, stroke: "#d8dde6" }));
  svg.append(svgEl("text", { x: 4, y: pad + 10 }, `${Math.round(top)} s`));
  svg.append(svgEl("text", { x: 4, y: height - bottom }, "0"));
  order.forEach((day, i) => {
    const x = left + i * slot + (slot - bar) / 2;
    let y = height - bottom;
    for (const model of models) {
      const seconds = days.get(day).get(model) || 0;
      if (!seconds) continue;
      const h = Math.max(1, seconds * scale);
      y -= h;
      const rect = svgEl("rect", { x, y, width: bar, height: h, fill: SWATCHES[models.indexOf(model) % SWATCHES.length] });
      rect.dataset.day = day;
      rect.dataset.model = model;
      rect.dataset.seconds = String(seconds);
      rect.append(svgEl("title", {}, `${day} · ${model}: ${seconds} s`));
      svg.append(rect);
    }
    if (order.length <= 16 || i % Math.ceil(order.length / 16) === 0) {
      svg.append(svgEl("text", { x: x + bar / 2, y: height - 6, "text-anchor": "middle" }, day.slice(5)));
    }
  });
  for (const model of models) {
    const li = document.createElement("li");
    li.textContent = model;
    li.dataset.model = model;
    li.style.setProperty("--swatch", SWATCHES[models.indexOf(model) % SWATCHES.length]);
    legend.append(li);
  }
}

function showAudit(entries) {
  const list = $("audit");
  list.replaceChildren();
  for (const e of entries.slice(-20).reverse()) {
    const li = document.createElement("li");
    li.textContent = `${new Date(e.at).toISOString()} ${e.actor_name}: ${e.action} ${e.target}`;
    list.append(li);
  }
}

/** A number input's value, or null when empty. */
function amountOf(id) {
  const raw = $(id).value.trim();
  return raw === "" ? null : Number(raw);
}

async function adminCall(errorsId, path, options) {
  $(errorsId).textContent = "";
  try {
    return (await api(path, options)).data;
  } catch (e) {
    $(errorsId).textContent = e.message;
    return null;
  }
}

async function createKey(event) {
  event.preventDefault();
  $("nk-created").textContent = "";
  const day = amountOf("nk-day");
  const month = amountOf("nk-month");
  const body = {
    name: $("nk-name").value.trim(),
    admin: $("nk-admin").checked,
    budget: { prepaid: $("nk-prepaid").checked, day_limit: day, month_limit: month },
  };
  const topUp = amountOf("nk-top-up");
  if (topUp !== null) body.top_up = topUp;
  const created = await adminCall("nk-errors", "/admin/keys", { method: "POST", body });
  if (!created) return;
  $("nk-created").textContent = `${created.name}: ${created.key} (shown only now; copy it)`;
  $("new-key-form").reset();
  await loadAdmin();
}

async function topUp(event) {
  event.preventDefault();
  const name = $("tu-key").value;
  const body = { amount: amountOf("tu-amount"), note: $("tu-note").value };
  const done = await adminCall("tu-errors", `/admin/keys/${encodeURIComponent(name)}/top-ups`, { method: "POST", body });
  if (!done) return;
  $("top-up-form").reset();
  $("tu-key").value = name;
  await loadAdmin();
  loadAccount();
}

async function saveBudget(event) {
  event.preventDefault();
  const name = $("bu-key").value;
  const body = { prepaid: $("bu-prepaid").checked, day_limit: amountOf("bu-day"), month_limit: amountOf("bu-month") };
  const done = await adminCall("bu-errors", `/admin/keys/${encodeURIComponent(name)}/budget`, { method: "PUT", body });
  if (done) await loadAdmin();
}

async function revokeKey(name, button) {
  button.disabled = true;
  $("admin-status").textContent = "";
  try {
    await api(`/admin/keys/${encodeURIComponent(name)}`, { method: "DELETE" });
    await loadAdmin();
  } catch (e) {
    $("admin-status").textContent = e.message;
  }
  button.disabled = false;
}

document.addEventListener("DOMContentLoaded", () => {
  $("admin-refresh").addEventListener("click", loadAdmin);
  $("new-key-form").addEventListener("submit", createKey);
  $("top-up-form").addEventListener("submit", topUp);
  $("budget-form").addEventListener("submit", saveBudget);
  $("bu-key").addEventListener("change", async () => {
    const keys = await api("/admin/keys").then((r) => r.data).catch(() => []);
    fillBudgetForm(keys);
  });
});
