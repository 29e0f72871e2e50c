// gridgov pages, shared by /worker and /console: the API client (page session cookie plus the
// CSRF header), error sentences from the {"error": {code, message, field}} shape, small DOM
// helpers, and the event view with its action forms. Plain ES module: no build step, no CDN.

export const CSRF_COOKIE = "gridgov_csrf";

export const STATUS_LABEL = {
  reported: "已上报",
  pending: "待立案",
  registered: "已立案",
  dispatched: "已派遣",
  signed: "处置中",
  handled: "已处置",
  verified: "已核查",
  closed: "已结案",
  returned: "已退回",
  suspended: "挂账",
  voided: "已作废",
  self_resolved: "自行处置",
  transferred: "已移交",
  refused: "不予立案",
};
export const OPEN_STATUSES = [
  "reported",
  "pending",
  "registered",
  "dispatched",
  "signed",
  "handled",
  "verified",
  "returned",
  "suspended",
];
export const SOURCE_LABEL = {
  grid_worker: "网格员上报",
  hotline: "12345热线",
  mailbox: "市长信箱",
  web_app: "网站·APP",
  inspection: "巡查发现",
  leader: "领导批示",
  sensor: "物联感知",
  open311: "Open311接入",
  department: "部门移交",
};

export const LIGHT_LABEL = {
  green: "绿灯 on time",
  yellow: "黄灯 due soon",
  red: "红灯 overdue",
};
const PRIORITY_LABEL = { urgent: "特急 urgent", high: "紧急 high", normal: "一般 normal", low: "较低 low" };
// The API names each stage (stage_label); this is for the stage rows of an event's history.
const STAGE_LABEL = {
  check: "核实",
  register: "立案",
  dispatch: "派遣",
  sign: "签收",
  handle: "处置",
  verify: "核查",
  close: "结案",
  reply: "答复",
};
// 分级流转: the tier holding a case.
export const TIER_LABEL = { community: "社区", street: "街道", district: "区县", city: "市" };

// --- DOM -------------------------------------------------------------------------------------

/** An element with attributes and children; strings become text nodes, never HTML. */
export function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") {
      node.addEventListener(key.slice(2), value);
    } else if (key === "class") {
      node.className = value;
    } else if (key === "dataset") {
      Object.assign(node.dataset, value);
    } else if (value === true) {
      node.setAttribute(key, "");
    } else {
      node.setAttribute(key, String(value));
    }
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

/** Replace a node's children; arrays are flattened, empty values skipped. */
export function fill(node, ...children) {
  node.replaceChildren(...children.flat(Infinity).filter((c) => c !== null && c !== undefined && c !== false));
  return node;
}

export function $(selector, root = document) {
  return root.querySelector(selector);
}

// --- API client ------------------------------------------------------------------------------

export function cookie(name) {
  for (const part of document.cookie.split(";")) {
    const [key, ...rest] = part.trim().split("=");
    if (key === name) return decodeURIComponent(rest.join("="));
  }
  return "";
}

export function loginUrl() {
  return `/login?next=${encodeURIComponent(location.pathname)}`;
}

/** A refusal from the server, carrying its sentence, field and (for 409) the allowed actions. */
export class ApiError extends Error {
  constructor(status, body, text) {
    const error = (body && body.error) || {};
    super(error.message || fallbackMessage(status, text));
    this.name = "ApiError";
    this.status = status;
    this.code = error.code || "error";
    this.field = error.field || null;
    this.allowed = error.allowed || null;
  }
}

/** The request never reached the server (offline, connection dropped). */
export class NetworkError extends Error {
  constructor() {
    super("网络不可用，请联网后重试 The network is unavailable; try again when you are back online.");
    this.name = "NetworkError";
  }
}

function fallbackMessage(status, text) {
  if (status >= 500) {
    return `服务器出错（${status}），请稍后重试 The server failed (${status}); try again later.`;
  }
  return `请求未成功（${status}） The request failed (${status}): ${(text || "").slice(0, 200)}`;
}

/** Whether a failed send should be tried again later rather than shown as refused. */
export function isTransient(error) {
  return (
    error instanceof NetworkError ||
    (error instanceof ApiError && (error.status >= 500 || [401, 408, 429].includes(error.status)))
  );
}

/** fetch() for the JSON API: same-origin cookie, CSRF header on changes, errors thrown. */
export async function request(path, { method = "GET", json, form, headers = {} } = {}) {
  const init = {
    method,
    credentials: "same-origin",
    headers: { Accept: "application/json", ...headers },
  };
  if (!["GET", "HEAD"].includes(method)) init.headers["X-CSRF-Token"] = cookie(CSRF_COOKIE);
  if (json !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(json);
  } else if (form !== undefined) {
    init.body = form; // the browser sets the multipart boundary
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch {
    throw new NetworkError();
  }
  const text = await response.text();
  let body = null;
  if (text) {
    try {
      body = JSON.parse(text);
    } catch {
      body = null;
    }
  }
  if (!response.ok) throw new ApiError(response.status, body, text);
  return { status: response.status, body };
}

export async function api(path, options) {
  return (await request(path, options)).body;
}

/** Items of a list answer, whether it is a bare array or a page {items, total}. */
export function itemsOf(body) {
  if (Array.isArray(body)) return body;
  return (body && (body.items || body.features)) || [];
}

/** Show an error as its sentence; mark the form field it names; offer sign-in on 401. */
export function showError(target, error, form = null) {
  target.hidden = false;
  target.replaceChildren(error.message || String(error));
  if (error.allowed && error.allowed.length) {
    target.append(` 当前可执行 Allowed now: ${error.allowed.map(actionLabel).join("、")}`);
  }
  if (error.status === 401) {
    target.append(" ", h("a", { href: loginUrl() }, "重新登录 Sign in again"));
  }
  if (form && error.field) {
    const name = String(error.field).split(".").pop();
    const input = form.elements.namedItem(name);
    if (input && input.focus) {
      input.setAttribute("aria-invalid", "true");
      input.focus();
    }
  }
}

export function clearError(target, form = null) {
  target.hidden = true;
  target.replaceChildren();
  if (form) {
    for (const input of form.querySelectorAll("[aria-invalid]")) {
      input.removeAttribute("aria-invalid");
    }
  }
}

// --- tabbed console panels --------------------------------------------------------------------

/** Values of a form's named fields, blanks and unchecked choices left out; `numbers` names the
 * fields sent as numbers (unit ids). */
export function formValues(form, numbers = []) {
  const out = {};
  for (const element of form.elements) {
    if (!element.name || (["radio", "checkbox"].includes(element.type) && !element.checked)) continue;
    const value = element.value.trim();
    if (value === "") continue;
    out[element.name] = numbers.includes(element.name) ? Number(value) : value;
  }
  return out;
}

/**
 * A console panel of tabbed lists (待答复 / 待回访 / 待复核 …) named `name`: tabs
 * `[data-<name>-view]`, the list `#<name>-list`, its `#<name>-error`, `#<name>-status` line,
 * `#<name>-refresh` button and tab counts `#<name>-count-<view>`. `views` maps each tab to
 * {load() → rows, render(row) → li, empty, count() → rows (the badge's, default load)}.
 * `panel.submitter(form, send)` sends the form's values with `send`, whose answer is the
 * sentence confirming it; the list the form was on is then reloaded, unless the user has moved
 * to another tab meanwhile (what is being typed there stays). Call `panel.load()` to start.
 */
export function tabbedPanel(name, views, { numbers = [], onView = () => {} } = {}) {
  const state = { view: Object.keys(views)[0], loading: 0 };
  const list = $(`#${name}-list`);
  const error = $(`#${name}-error`);
  const status = $(`#${name}-status`);

  async function counts() {
    await Promise.all(
      Object.entries(views).map(async ([view, { load, count = load }]) => {
        const badge = $(`#${name}-count-${view}`);
        if (!badge) return;
        try {
          badge.textContent = String((await count()).length || "");
        } catch {
          badge.textContent = "";
        }
      }),
    );
  }

  async function load() {
    const view = views[state.view];
    const ticket = ++state.loading; // a slower answer for a tab left since must not overwrite
    clearError(error);
    onView(state.view);
    list.dataset.shown = ""; // loading; set to the view once its rows are shown
    try {
      const rows = await view.load();
      if (ticket !== state.loading) return;
      list.replaceChildren(...(rows.length ? rows.map(view.render) : [h("li", { class: "empty muted" }, view.empty)]));
      list.dataset.shown = state.view;
    } catch (failure) {
      if (ticket !== state.loading) return;
      list.replaceChildren();
      showError(error, failure);
    }
    counts();
  }

  function submitter(form, send) {
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const formError = form.querySelector(".error");
      const button = form.querySelector("button[type=submit]");
      clearError(formError, form);
      button.disabled = true;
      const view = state.view;
      try {
        const message = await send(formValues(form, numbers));
        form.reset();
        await (state.view === view ? load() : counts()); // the list as it now stands …
        status.hidden = false; // … then the confirmation
        status.textContent = message;
        document.getElementById("refresh")?.click(); // the console's queue shows the new state
      } catch (failure) {
        showError(formError, failure, form);
      } finally {
        button.disabled = false;
      }
    });
    return form;
  }

  for (const tab of document.querySelectorAll(`[data-${name}-view]`)) {
    tab.addEventListener("click", () => {
      state.view = tab.dataset[`${name}View`];
      for (const other of document.querySelectorAll(`[data-${name}-view]`)) {
        other.setAttribute("aria-selected", String(other === tab));
      }
      status.hidden = true;
      load();
    });
  }
  $(`#${name}-refresh`)?.addEventListener("click", load);
  return { load, submitter };
}

// --- formatting ------------------------------------------------------------------------------

export function fmtTime(iso) {
  if (!iso) return "—";
  return new Date(iso).toLocaleString("zh-CN", {
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
    hour12: false,
  });
}

/** The running stage's deadline as a badge: its stage, light and the time left in working
 * time as the server words it (剩余 3小时 / 超期 2天 / 挂账 剩余 6小时, frozen while suspended);
 * the page never counts time itself. */
export function deadlineBadge(item) {
  if (!item.stage_deadline) return null;
  const stage = item.stage_label || STAGE_LABEL[item.stage] || item.stage || "";
  const light = item.suspended ? "paused" : item.light || "none";
  return h(
    "span",
    {
      class: `deadline d-${light}`,
      title: `${stage}期限 due ${fmtTime(item.stage_deadline)}（工作时间 working time）`,
      dataset: { stage: item.stage || "" },
    },
    `${stage} ${item.time_left || ""}`.trim(),
  );
}

export function today() {
  const now = new Date();
  const pad = (n) => String(n).padStart(2, "0");
  return `${now.getFullYear()}-${pad(now.getMonth() + 1)}-${pad(now.getDate())}`;
}

export function lightDot(light) {
  const label = LIGHT_LABEL[light] || "无期限 no deadline";
  return h("span", { class: `light ${light || "none"}`, title: label, role: "img", "aria-label": label });
}

export function statusBadge(status, label) {
  return h("span", { class: `status s-${status}` }, label || STATUS_LABEL[status] || status);
}

/** A client-made idempotency key (UUID v4), also where crypto.randomUUID is missing (http). */
export function uuid() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const hex = [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

// --- where am I ------------------------------------------------------------------------------

/** The browser's position (WGS84 degrees), or an error that says what to do instead. */
export function currentPosition({ timeout = 15000 } = {}) {
  return new Promise((resolve, reject) => {
    if (!navigator.geolocation) {
      reject(new Error("此浏览器不能定位，请在地图上点选 This browser cannot locate; tap the map instead."));
      return;
    }
    if (!window.isSecureContext) {
      reject(new Error("定位需要 HTTPS 访问，请在地图上点选 Location needs HTTPS; tap the map instead."));
      return;
    }
    navigator.geolocation.getCurrentPosition(
      (position) => resolve(position.coords),
      (error) => {
        const why = {
          1: "定位权限被拒绝，请允许定位或在地图上点选 Location permission was denied; allow it or tap the map.",
          2: "暂时无法定位，请到开阔处重试或在地图上点选 The position is unavailable; try in the open or tap the map.",
          3: "定位超时，请重试或在地图上点选 Locating timed out; try again or tap the map.",
        };
        reject(new Error(why[error.code] || error.message));
      },
      { enableHighAccuracy: true, timeout, maximumAge: 30000 },
    );
  });
}

// --- maps (Leaflet from /static/vendor, no basemap tiles: outlines only) ------------------------

export function outlineMap(container, { lon, lat, zoom = 16 } = {}) {
  const map = L.map(container, { zoomControl: true, attributionControl: false });
  if (lon !== undefined && lat !== undefined) map.setView([lat, lon], zoom);
  return map;
}

/** Draw a grid's outline (and its buildings, faintly) from /api/grids/{code}; returns its bounds. */
export async function drawGrid(map, code, { buildings = false } = {}) {
  const feature = await api(`/api/grids/${encodeURIComponent(code)}`);
  const layer = L.geoJSON(feature, {
    style: { color: "#0b5cad", weight: 2, fillOpacity: 0.04 },
  }).addTo(map);
  const name = (feature.properties && feature.properties.name) || code;
  layer.bindTooltip(`${name} ${code}`, { sticky: true });
  if (buildings) {
    try {
      const collection = await api(`/api/buildings?grid=${encodeURIComponent(code)}&page_size=500`);
      L.geoJSON(collection, {
        style: { color: "#5b6b7c", weight: 1, fillOpacity: 0.15 },
        interactive: false,
      }).addTo(map);
    } catch {
      // Buildings only help orientation; the outline is enough to tap a point.
    }
  }
  return layer.getBounds();
}

// --- events ----------------------------------------------------------------------------------

// Steps that are not actions a person picks: the report itself and what the system does.
const STEP_LABEL = {
  report: "上报 Report",
  escalate: "督办 Escalated",
  remind: "提醒 Reminder",
  "transfer-in": "移交接收 Transferred in",
  reply: "答复 Replied to the caller", // the 答复/回访 panel (reply.js) sends it
  reopen: "重办 Reopened after the callback",
  "subtask-add": "增加协办 Assisting unit added", // the 协办 panel (subtasks.js)
  "subtask-sign": "协办签收 Assisting unit signed for",
  "subtask-report": "协办完成 Assisting unit reported",
  "subtask-waive": "免除协办 Sub-task waived",
  "subtask-cancel": "撤销协办 Assisting unit removed",
  "supervise-reply": "督办回复 Supervision answered", // the 督办单 panel (supervision.js)
  "supervise-escalate": "督办逾期报告领导 Unanswered, told the leader",
  "supervise-lift": "摘牌 Listing lifted",
};

// The category picker (/worker, the console's intake): every word typed must appear in the
// code or the names; the matches are grouped by 大类, and a single match is chosen.
export function fillCategoryPicker(select, query, categories, describe = (c) => `${c.code} ${c.name}`) {
  const words = query.trim().toLowerCase().split(/\s+/).filter(Boolean);
  const chosen = select.value;
  const matches = categories.filter((c) => {
    const text = `${c.code} ${c.name} ${c.major_name || ""} ${c.major_code || ""}`.toLowerCase();
    return words.every((w) => text.includes(w));
  });
  const groups = new Map();
  for (const c of matches) {
    const key = `${c.major_code || ""} ${c.major_name || ""}`.trim();
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key).push(c);
  }
  select.replaceChildren(
    ...[...groups].map(([label, list]) =>
      h(
        "optgroup",
        { label },
        list.map((c) => h("option", { value: c.code, selected: c.code === chosen }, describe(c))),
      ),
    ),
  );
  if (matches.length === 1) select.value = matches[0].code;
  return matches;
}

export function actionLabel(action) {
  return (ACTIONS[action] && ACTIONS[action].label) || STEP_LABEL[action] || action;
}

/** A row of an event list; `onOpen(code)` when it is chosen. */
export function eventRow(item, onOpen) {
  const where = [item.address, item.grid_code].filter(Boolean).join(" · ");
  return h(
    "li",
    { class: "event", dataset: { code: item.code } },
    h(
      "button",
      { type: "button", class: "row-button", onclick: () => onOpen(item.code) },
      h(
        "div",
        { class: "event-head" },
        lightDot(item.light),
        h("span", { class: "code" }, item.code),
        statusBadge(item.status, item.status_label),
        deadlineBadge(item),
        h("span", { class: "category" }, item.category_name || item.category),
        item.disputed ? h("span", { class: "dispute" }, "争议 Disputed") : null,
      ),
      h("div", { class: "event-text" }, item.description),
      h(
        "div",
        { class: "event-meta muted" },
        item.stage_deadline
          ? `${item.stage_label || STAGE_LABEL[item.stage] || ""}期限 due ${fmtTime(item.stage_deadline)}`
          : `上报 reported ${fmtTime(item.reported_at)}`,
        item.unit ? ` · ${item.unit.name}` : "",
        where ? ` · ${where}` : "",
        item.lon === null ? " · 待定位 no point yet" : "",
        item.duplicate_of ? ` · 疑似重复 duplicate of ${item.duplicate_of}` : "",
        item.status === "refused" && item.reason ? ` · 不予立案理由 why: ${item.reason}` : "",
      ),
    ),
  );
}

// Each workflow action: its label and the inputs it takes. `quick` ones go with one tap.
// A trailing "?" marks an optional input; the server still decides (and says) what is missing.
export const ACTIONS = {
  sign: { label: "签收 Sign for", fields: [], quick: true },
  return: { label: "退回 Return", fields: ["reason", "note?"], hint: "例如：不属于本辖区 e.g. not our area" },
  handle: { label: "处置完成 Report handled", fields: ["note", "photos?"] },
  extend: { label: "申请延期 Ask for more time", fields: ["extra_limit", "reason"] },
  "approve-extension": { label: "批准延期 Approve extension", fields: ["extra_limit?", "note?"] },
  suspend: { label: "挂账 Suspend", fields: ["reason", "note?"] },
  resume: { label: "恢复 Resume", fields: [], quick: true },
  void: { label: "作废 Void", fields: ["reason", "duplicate_of?", "note?"] },
  supervise: { label: "督办 Supervise", fields: ["level", "note?"], hint: "督办要求 the demand; the order goes to the unit holding the case" },
  redispatch: { label: "重新派遣 Re-dispatch", fields: ["unit_id", "note?"] },
  dispatch: { label: "派遣 Dispatch", fields: ["unit_id?", "reason?", "note?"], hint: "改派时说明理由 why not the proposal" },
  "accept-return": { label: "同意退回 Accept return", fields: ["unit_id?", "note?"] },
  "reject-return": { label: "驳回退回 Reject return", fields: ["reason", "note?"], hint: "审核意见：例如 经核实属贵单位辖区" },
  rule: { label: "争议裁定 Rule who leads", fields: ["unit_id", "reason", "note?"], hint: "裁定理由：例如 事发地位于该单位辖区" },
  check: { label: "核实 Check on site", fields: ["passed", "reason?", "note?"], position: true },
  verify: { label: "核查通过 Fix verified", fields: ["note?", "photos"], position: true, extra: { passed: true } },
  rework: { label: "核查不通过 Fix rejected", fields: ["reason", "note?", "photos?"] },
  "self-resolve": { label: "自行处置 Fixed it myself", fields: ["note?", "photos"] },
  close: { label: "结案 Close", fields: [], quick: true },
  transfer: { label: "跨区移交 Transfer to another district", fields: ["to_district", "reason", "note?"], hint: "例如：事发地属伍家岗区" },
  locate: { label: "定位 Locate", fields: ["lon", "lat", "building?", "note?"] },
  "direct-reply": { label: "直接答复 Answer now", fields: ["reply", "reply_channel", "note?"] },
  register: { label: "立案 Register", fields: [], quick: true },
  refuse: { label: "不予立案 Refuse", fields: ["reason", "note?"], hint: "上报人会看到 the reporter reads it" },
  escalate: { label: "上报 Escalate", fields: ["reason", "note?"], hint: "例如：超出本级调处能力" },
  delegate: { label: "下派 Delegate", fields: ["tier", "reason?", "note?"] },
  resolve: { label: "就地解决 Resolve here", fields: ["note"] },
};

// 督办级别 (events.models.SupervisionLevel), lowest first.
export const SUPERVISION_LEVEL = {
  general: "一般督办 General",
  key: "重点督办 Key",
  listed: "挂牌督办 Listed",
};

export const REPLY_CHANNEL = {
  phone: "电话 Phone",
  sms: "短信 SMS",
  letter: "书面 Letter",
  web_app: "网站·APP Web/app",
  in_person: "当面 In person",
};

const LIMITS = [
  ["4h", "4小时 4 working hours"],
  ["1d", "1个工作日 1 working day"],
  ["2d", "2个工作日 2 working days"],
  ["3d", "3个工作日 3 working days"],
  ["5d", "5个工作日 5 working days"],
  ["10d", "10个工作日 10 working days"],
];

let unitsCache = null;

/** Department units for hand dispatch; null when the list cannot be had (then type an id). */
async function units() {
  if (unitsCache === null) {
    try {
      unitsCache = itemsOf(await api("/api/units")).map((f) => f.properties || f);
      unitsCache = unitsCache.filter((u) => u.active !== false);
    } catch {
      unitsCache = [];
    }
  }
  return unitsCache;
}

function field(name, event, action) {
  const optional = name.endsWith("?");
  const key = optional ? name.slice(0, -1) : name;
  const mark = optional ? "（选填 optional）" : "";
  switch (key) {
    case "note":
      return h("label", {}, `说明 Note${mark}`, h("textarea", { name: "note", rows: 2, maxlength: 4000, required: !optional }));
    case "reason":
      return h(
        "label",
        {},
        `原因 Reason${mark}`,
        h("input", { name: "reason", maxlength: 300, required: !optional, placeholder: ACTIONS[action].hint || "" }),
      );
    case "photos":
      return h(
        "label",
        {},
        `现场照片 Photos${optional ? mark : ""}`,
        h("input", { type: "file", name: "photos", accept: "image/*", capture: "environment", multiple: true }),
      );
    case "extra_limit":
      return h(
        "label",
        {},
        `延长 Extra time${mark}`,
        h(
          "select",
          { name: "extra_limit", required: !optional },
          optional ? h("option", { value: "" }, "按申请 As asked") : null,
          LIMITS.map(([value, text]) => h("option", { value }, text)),
        ),
      );
    case "level":
      return h(
        "label",
        {},
        "督办级别 Level",
        h(
          "select",
          { name: "level" },
          Object.entries(SUPERVISION_LEVEL).map(([value, text]) => h("option", { value }, text)),
        ),
      );
    case "passed":
      return h(
        "fieldset",
        { class: "inline" },
        h("legend", {}, "核实结果 Outcome"),
        h("label", { class: "check" }, h("input", { type: "radio", name: "passed", value: "true", checked: true }), "属实 Confirmed"),
        h("label", { class: "check" }, h("input", { type: "radio", name: "passed", value: "false" }), "不属实 Not confirmed"),
      );
    case "lon":
    case "lat":
      return h(
        "label",
        {},
        key === "lon" ? "经度 Longitude (CGCS2000)" : "纬度 Latitude (CGCS2000)",
        h("input", { name: key, type: "number", step: "any", required: !optional, inputmode: "decimal" }),
      );
    case "building":
      return h("label", {}, `建筑编码 Building code${mark}`, h("input", { name: "building", maxlength: 40 }));
    case "reply":
      return h("label", {}, `答复内容 Reply${mark}`, h("textarea", { name: "reply", rows: 3, maxlength: 4000, required: !optional }));
    case "reply_channel":
      return h(
        "label",
        {},
        "答复方式 Channel",
        h(
          "select",
          { name: "reply_channel" },
          Object.entries(REPLY_CHANNEL).map(([value, text]) => h("option", { value }, text)),
        ),
      );
    case "to_district":
      return h(
        "label",
        {},
        `接收区县代码 Receiving district${mark}`,
        h("input", { name: "to_district", required: !optional, pattern: "[0-9]{6}", maxlength: 6, inputmode: "numeric", placeholder: "420503" }),
      );
    case "tier":
      return h(
        "label",
        {},
        "下派到 Hand down to",
        h(
          "select",
          { name: "tier" },
          ["community", "street", "district"]
            .filter((t) => ["community", "street", "district", "city"].indexOf(t) < ["community", "street", "district", "city"].indexOf(event.tier))
            .reverse()
            .map((t) => h("option", { value: t }, `${TIER_LABEL[t]} ${t}`)),
        ),
      );
    case "duplicate_of": {
      const guess = event.duplicate_of || (event.duplicate_candidates || [])[0] || "";
      return h("label", {}, `重复于 Duplicate of${mark}`, h("input", { name: "duplicate_of", value: guess, maxlength: 40 }));
    }
    case "unit_id": {
      const select = h(
        "select",
        { name: "unit_id", required: !optional },
        h("option", { value: "" }, optional ? "按派遣规则 By the dispatch rules" : "选择单位 Choose a unit"),
      );
      const label = h("label", {}, `责任单位 Unit${mark}`, select);
      units().then((list) => {
        if (!list.length) {
          select.replaceWith(h("input", { name: "unit_id", type: "number", min: 1, required: !optional, placeholder: "单位编号 unit id" }));
          return;
        }
        for (const unit of list) {
          if (event.unit && unit.id === event.unit.id) continue;
          select.append(h("option", { value: unit.id }, `${unit.name}（${unit.dept_type_label || unit.dept_type || ""}）`));
        }
      });
      return label;
    }
    default:
      return null;
  }
}

/** The request body of an action form: multipart when photos are attached, else JSON. */
function actionBody(form, spec, where) {
  const values = { ...(spec.extra || {}) };
  for (const element of form.elements) {
    if (!element.name || element.type === "file" || element.type === "submit") continue;
    if (element.type === "radio" && !element.checked) continue;
    const value = element.value.trim();
    if (value === "") continue;
    if (element.name === "unit_id") values.unit_id = Number(value);
    else if (element.name === "passed") values.passed = value === "true";
    else if (element.name === "lon" || element.name === "lat") values[element.name] = Number(value);
    else values[element.name] = value;
  }
  if (where) Object.assign(values, { lon: where.longitude, lat: where.latitude, crs: "wgs84" });
  const files = form.elements.namedItem("photos");
  if (files && files.files && files.files.length) {
    const body = new FormData();
    for (const [key, value] of Object.entries(values)) body.append(key, String(value));
    for (const file of files.files) body.append("photos", file, file.name);
    return { form: body };
  }
  return { json: values };
}

async function postAction(event, action, form, status) {
  const spec = ACTIONS[action] || { fields: [] };
  let where = null;
  if (spec.position) {
    status.hidden = false;
    status.replaceChildren("正在定位… Locating…");
    try {
      where = await currentPosition();
    } catch {
      where = null; // the server says whether this action needs the position
    }
  }
  const body = form ? actionBody(form, spec, where) : { json: { ...(spec.extra || {}) } };
  return api(`/api/events/${encodeURIComponent(event.code)}/${action}`, { method: "POST", ...body });
}

function actionPanel(event, onChanged) {
  const actions = (event.actions || []).filter((a) => ACTIONS[a]);
  if (!actions.length) return h("p", { class: "muted" }, "当前没有你可执行的操作 Nothing for you to do on this event now.");
  const error = h("p", { class: "error", role: "alert", hidden: true });
  const status = h("p", { class: "muted", role: "status", hidden: true });
  const holder = h("div", { class: "action-form" });
  const run = async (action, form, button) => {
    clearError(error, form);
    button.disabled = true;
    try {
      const updated = await postAction(event, action, form, status);
      status.hidden = false;
      status.replaceChildren(`已完成 Done: ${actionLabel(action)}`);
      await onChanged(updated);
    } catch (failure) {
      status.hidden = true;
      showError(error, failure, form);
    } finally {
      button.disabled = false;
    }
  };
  const buttons = actions.map((action) => {
    const spec = ACTIONS[action];
    const button = h("button", { type: "button", class: spec.quick ? "" : "secondary", dataset: { action } }, spec.label);
    button.addEventListener("click", () => {
      if (spec.quick) {
        run(action, null, button);
        return;
      }
      const submit = h("button", { type: "submit" }, `提交 Submit: ${spec.label}`);
      const form = h(
        "form",
        { class: "stack", dataset: { action } },
        h("h4", {}, spec.label),
        spec.fields.map((name) => field(name, event, action)),
        spec.position ? h("p", { class: "muted" }, "提交时将附上你当前的位置 Your current position is sent with it.") : null,
        submit,
      );
      form.addEventListener("submit", (e) => {
        e.preventDefault();
        run(action, form, submit);
      });
      holder.replaceChildren(form);
      const first = form.querySelector("input:not([type=file]), textarea, select");
      if (first) first.focus();
    });
    return button;
  });
  return h("div", { class: "actions" }, h("div", { class: "buttons" }, buttons), holder, status, error);
}

const DISPATCH_LABEL = {
  rule: "规则 Rule",
  unit: "单位 Unit",
  lead_type: "牵头部门 Lead",
  assisting: "协办 Assisting",
};

/** The dispatch explanation; assisting units (kept as codes) by name where the case knows it. */
function dispatchText(dispatch, units = []) {
  if (!dispatch) return null;
  const names = Object.fromEntries(units.map((u) => [u.code, u.name]));
  const shown = { ...dispatch, assisting: [].concat(dispatch.assisting ?? []).map((code) => names[code] || code) };
  const lines = Object.entries(DISPATCH_LABEL)
    .map(([key, label]) => [label, [].concat(shown[key] ?? []).join("、")])
    .filter(([, text]) => text)
    .map(([label, text]) => h("li", {}, h("span", { class: "muted" }, `${label}: `), text));
  return lines.length ? h("ul", { class: "plain" }, lines) : null;
}

function history(steps) {
  return h(
    "ol",
    { class: "history" },
    (steps || []).map((step) =>
      h(
        "li",
        {},
        h("time", { datetime: step.at }, fmtTime(step.at)),
        " ",
        h("b", {}, actionLabel(step.action)),
        step.from_status ? ` ${STATUS_LABEL[step.from_status] || step.from_status} → ` : " → ",
        STATUS_LABEL[step.to_status] || step.to_status,
        step.actor ? ` · ${step.actor}` : "",
        step.unit ? ` · ${step.unit}` : "",
        step.note ? h("div", { class: "note" }, step.note) : null,
      ),
    ),
  );
}

/** Every stage run of an event: started, due, ended (in time or late) and its light; the
 * running one is marked 挂账 while the case is suspended (its clock stopped). */
function stageTable(stages, suspended) {
  return h(
    "table",
    { class: "stages" },
    h("thead", {}, h("tr", {}, ["阶段 Stage", "开始 Started", "期限 Due", "结束 Ended"].map((t) => h("th", {}, t)))),
    h(
      "tbody",
      {},
      stages.map((s) =>
        h(
          "tr",
          { dataset: { stage: s.stage } },
          h("td", {}, lightDot(s.light), ` ${s.stage_label || STAGE_LABEL[s.stage] || s.stage}`),
          h("td", {}, fmtTime(s.started_at)),
          h("td", {}, fmtTime(s.deadline)),
          h(
            "td",
            {},
            s.ended_at
              ? `${fmtTime(s.ended_at)} ${s.on_time ? "按时 on time" : "超时 late"}`
              : suspended
                ? "挂账 suspended"
                : "进行中 running",
          ),
        ),
      ),
    ),
  );
}

/** The case's 督办单 (past and open), filled in when they come; on pages whose user reads
 * orders (the console's 督办 panel is there); a case without any shows no section. */
function supervisionOrders(code) {
  const list = h("ul", { class: "orders" });
  const section = h("section", { class: "supervision-orders", hidden: true }, h("h3", {}, "督办单 Supervision orders"), list);
  api(`/api/supervision?event=${encodeURIComponent(code)}`)
    .then((orders) => {
      if (!orders.length) return;
      list.replaceChildren(
        ...orders.map((o) =>
          h(
            "li",
            { dataset: { order: o.id } },
            h("div", {}, lightDot(o.light), h("b", {}, `${o.level_label} #${o.id}`), ` → ${o.unit.name} · ${o.status_label}`),
            h("div", { class: "said" }, o.demand),
            h("div", { class: "muted" }, `回复期限 Reply due ${fmtTime(o.reply_deadline)}${o.time_left ? ` · ${o.time_left}` : ""}`),
            o.reply ? h("div", { class: "said" }, `回复 Reply（${fmtTime(o.replied_at)}${o.replied_on_time === false ? "，逾期 late" : ""}）：${o.reply}`) : null,
            o.lifted_at ? h("div", { class: "muted" }, `已摘牌 Lifted ${fmtTime(o.lifted_at)}：${o.lift_reason || ""}`) : null,
          ),
        ),
      );
      section.hidden = false;
    })
    .catch(() => {}); // not a reader of supervision orders: nothing to show
  return section;
}

/** Render one event (GET /api/events/{code}) with photos, history, map and its actions;
 * `onChanged(event)` gets the event as an action left it. */
// Roles that may open a building's 楼盘表 (/maps/building/{code}); others see the code only.
const BUILDING_TABLE_ROLES = new Set(["grid_worker", "inspector", "command", "admin"]);

/** A building code, linked to its 楼盘表 for the roles that may open it. */
function buildingLink(code) {
  if (!code) return null;
  const panel = document.querySelector("[data-role]");
  const role = panel ? panel.dataset.role : "grid_worker"; // the worker page names no role
  if (!BUILDING_TABLE_ROLES.has(role)) return code;
  return h("a", { href: `/maps/building/${encodeURIComponent(code)}` }, `${code} · 楼盘表 →`);
}

export function renderEvent(container, event, { onChanged }) {
  const mapBox = h("div", { class: "map small", "aria-label": "事件位置 Event location" });
  const photos = (event.photos || []).map((photo) =>
    h(
      "a",
      { href: photo.url, target: "_blank", rel: "noopener" },
      h("img", { src: photo.thumbnail_url || photo.url, alt: "现场照片 photo", loading: "lazy" }),
    ),
  );
  const row = (label, value) => (value ? [h("dt", {}, label), h("dd", {}, value)] : []);
  fill(
    container,
    h(
      "header",
      { class: "event-head big" },
      lightDot(event.light),
      h("h2", {}, event.code),
      statusBadge(event.status, event.status_label),
    ),
    h("p", { class: "category" }, `${event.category_name || ""}（${event.category}）`, event.priority ? ` · ${PRIORITY_LABEL[event.priority] || event.priority}` : ""),
    h("p", { class: "description" }, event.description),
    h(
      "dl",
      { class: "facts" },
      row(
        "期限 Deadline",
        event.stage_deadline
          ? [deadlineBadge(event), ` ${fmtTime(event.stage_deadline)}`]
          : null,
      ),
      row("层级 Tier", event.tier ? `${TIER_LABEL[event.tier] || event.tier} ${event.tier}` : null),
      row("不予立案/作废理由 Reason", event.reason),
      row("责任单位 Unit", event.unit ? event.unit.name : null),
      row("来源 Source", SOURCE_LABEL[event.source] || event.source),
      row("诉求类型 Appeal", event.appeal_type_label),
      row("来电人 Caller", [event.caller_name, event.caller_phone].filter(Boolean).join(" · ")),
      row("工单号 Ticket", event.ticket),
      row("地址 Address", event.address),
      row("建筑 Building", buildingLink(event.building_code)),
      row("网格 Grid", [event.grid_code, event.community].filter(Boolean).join(" · ")),
      row("上报 Reported", `${fmtTime(event.reported_at)}${event.reporter ? ` · ${event.reporter}` : ""}`),
      row("督办 Supervision", SUPERVISION_LEVEL[event.supervision_level] || event.supervision_level),
      row("返工 Rework", event.rework_count ? String(event.rework_count) : null),
      row("重复于 Duplicate of", event.duplicate_of),
      row("疑似重复 Possible duplicates", (event.duplicate_candidates || []).join("、")),
    ),
    h("h3", {}, "操作 Actions"),
    actionPanel(event, onChanged),
    photos.length ? [h("h3", {}, "照片 Photos"), h("div", { class: "thumbs" }, photos)] : null,
    event.dispatch ? [h("h3", {}, "派遣说明 Why this unit"), dispatchText(event.dispatch, event.assisting_units)] : null,
    document.getElementById("supervision-panel") ? supervisionOrders(event.code) : null, // readers' pages
    h("h3", {}, "位置 Location"),
    mapBox,
    (event.stages || []).length ? [h("h3", {}, "各阶段期限 Stage deadlines"), stageTable(event.stages, event.suspended)] : null,
    h("h3", {}, "办理记录 History"),
    history(event.steps),
  );
  if (event.lat === null) mapBox.replaceWith(h("p", { class: "muted" }, "待定位：指挥中心定位后派遣 No point yet: the command centre locates it (定位)."));
  else if (typeof L !== "undefined" && event.lat !== undefined) {
    const map = outlineMap(mapBox, { lon: event.lon, lat: event.lat, zoom: 17 });
    L.circleMarker([event.lat, event.lon], { radius: 8, color: "#d64545", fillOpacity: 0.8 })
      .addTo(map)
      .bindTooltip(event.code);
    if (event.grid_code) drawGrid(map, event.grid_code).catch(() => {});
  }
}

// Signing out also forgets the cached account, so the next person starts clean.
document.addEventListener("submit", (e) => {
  if (e.target && e.target.id === "signout") {
    try {
      localStorage.removeItem("gridgov.me");
    } catch {
      // storage may be off; nothing to forget then
    }
  }
});

// --- identity numbers checked in the browser (a hint: the server checks them again) ----------

const ID_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];

/** Why an ID card number fails GB 11643 (length, birth date, check character), or null when it
 * passes. 15-digit first-generation numbers pass: the server turns them into 18 digits. */
export function idNumberProblem(value) {
  const text = String(value || "").trim().toUpperCase();
  if (/^\d{15}$/.test(text)) return null;
  if (!/^\d{17}[\dX]$/.test(text)) {
    return `身份证号应为18位（最后一位可为X），现为${text.length}位 An ID number has 18 characters (the last may be X); this one has ${text.length}.`;
  }
  const [y, m, d] = [text.slice(6, 10), text.slice(10, 12), text.slice(12, 14)].map(Number);
  const birth = new Date(Date.UTC(y, m - 1, d));
  if (birth.getUTCFullYear() !== y || birth.getUTCMonth() !== m - 1 || birth.getUTCDate() !== d || y < 1900 || birth > new Date()) {
    return `第7–14位出生日期 ${text.slice(6, 14)} 不是有效日期 Positions 7–14 (${text.slice(6, 14)}) are not a real birth date.`;
  }
  const total = ID_WEIGHTS.reduce((sum, w, i) => sum + w * Number(text[i]), 0);
  const expected = "10X98765432"[total % 11];
  if (text[17] !== expected) {
    return `校验位不符（应为 ${expected}），请核对号码 The check character should be ${expected}, not ${text[17]}: re-read the number.`;
  }
  return null;
}

const CREDIT_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY";
const CREDIT_WEIGHTS = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28];
const ORG_WEIGHTS = [3, 7, 9, 10, 5, 8, 4, 2];

/** Why a unified social credit code fails GB 32100, or null when it passes; `checkOnly` is true
 * when only a check character is wrong (an early pilot code may really read so). */
export function creditCodeProblem(value) {
  const text = String(value || "").replace(/\s+/g, "").toUpperCase();
  if (text.length !== 18) {
    return { message: `统一社会信用代码应为18位，现为${text.length}位 A credit code has 18 characters; this one has ${text.length}.`, checkOnly: false };
  }
  const bad = [...text].find((c) => !CREDIT_CHARS.includes(c));
  if (bad) {
    return { message: `代码中不应出现“${bad}”（不用 I、O、S、V、Z） Credit codes never use “${bad}” (no I, O, S, V or Z).`, checkOnly: false };
  }
  const orgTotal = [...text.slice(8, 16)].reduce(
    (sum, c, i) => sum + ORG_WEIGHTS[i] * (/\d/.test(c) ? Number(c) : c.charCodeAt(0) - 55),
    0,
  );
  const orgCheck = { 10: "X", 11: "0" }[11 - (orgTotal % 11)] || String(11 - (orgTotal % 11));
  if (text[16] !== orgCheck) {
    return { message: `第17位组织机构代码校验位应为 ${orgCheck} Position 17 (the organisation-code check) should be ${orgCheck}.`, checkOnly: true };
  }
  const total = [...text.slice(0, 17)].reduce((sum, c, i) => sum + CREDIT_WEIGHTS[i] * CREDIT_CHARS.indexOf(c), 0);
  const check = CREDIT_CHARS[(31 - (total % 31)) % 31];
  if (text[17] !== check) {
    return { message: `第18位校验位应为 ${check} Position 18 (the check character) should be ${check}.`, checkOnly: true };
  }
  return null;
}
