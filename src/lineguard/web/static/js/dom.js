// Small DOM helpers. Text always goes in through textContent, never innerHTML, so data
// from the server (alert messages, user names) can never become markup.

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export function $(selector, root = document) {
  return root.querySelector(selector);
}

export function clear(node, ...children) {
  node.replaceChildren(...children.flat().filter((c) => c !== null && c !== undefined));
  return node;
}

export function empty(message) {
  return el("p", { class: "empty" }, message);
}

export function status(message) {
  const node = document.getElementById("page-status");
  if (node) node.textContent = message || "";
}

/** A table from column specs {label, value(row), num?} and rows. */
export function table(columns, rows, { caption } = {}) {
  const head = el("tr", {}, columns.map((c) => el("th", { scope: "col", class: c.num ? "num" : null }, c.label)));
  const body = rows.map((row) =>
    el(
      "tr",
      {},
      columns.map((c) => {
        const value = c.value(row);
        return el("td", { class: c.num ? "num" : null }, value instanceof Node ? value : String(value ?? "—"));
      }),
    ),
  );
  return el(
    "div",
    { class: "table-wrap" },
    el("table", {}, caption ? el("caption", { class: "sr-only" }, caption) : null, el("thead", {}, head), el("tbody", {}, body)),
  );
}

export function badge(text, tone) {
  return el("span", { class: "badge", dataset: tone ? { tone } : {} }, text);
}

const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
const dateTimeSeconds = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "medium" });
const shortTime = new Intl.DateTimeFormat(undefined, { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" });

export function fmtTime(iso) {
  return iso ? dateTime.format(new Date(iso)) : "—";
}

/** Date and time to the second (the audit log: what happened in which order). */
export function fmtSeconds(iso) {
  return iso ? dateTimeSeconds.format(new Date(iso)) : "—";
}

export function fmtShort(iso) {
  return iso ? shortTime.format(new Date(iso)) : "—";
}

export function fmtPct(value, digits = 1) {
  return value === null || value === undefined ? "—" : `${(value * 100).toFixed(digits)} %`;
}

export function fmtInt(value) {
  return value === null || value === undefined ? "—" : Number(value).toLocaleString();
}

export function fmtBytes(value) {
  if (value === null || value === undefined) return "—";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let v = Number(value);
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i += 1;
  }
  return `${v.toFixed(i ? 1 : 0)} ${units[i]}`;
}

/** An explanation of an API failure, for the page. */
export function explain(error, what) {
  // Starlette's bare 404 for an unknown route (our own NotFoundErrors say what is missing).
  if (error?.status === 404 && error.message === "Not Found") {
    return `${what}: this server does not offer that API yet.`;
  }
  if (error?.status === 403) return `${what}: your roles do not allow this.`;
  return `${what}: ${error?.message || error}`;
}
