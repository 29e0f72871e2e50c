// /worker: a grid worker files events (GPS or a tap on the map, category search, camera
// photos), follows and verifies them, records special-group visits, and keeps the ledger of
// the buildings in their grids (采集: houses, residents, moves, organisations, rentals). A report or a
// ledger form is kept in IndexedDB with its idempotency key before it is sent, so one made
// offline (or whose answer was lost) is sent again when the connection returns — and the key
// makes it count once.
import {
  $,
  NetworkError,
  api,
  clearError,
  creditCodeProblem,
  currentPosition,
  deadlineBadge,
  drawGrid,
  eventRow,
  fillCategoryPicker,
  fill,
  fmtTime,
  h,
  idNumberProblem,
  isTransient,
  itemsOf,
  outlineMap,
  renderEvent,
  request,
  showError,
  today,
  uuid,
} from "./common.js";

const state = {
  me: null,
  categories: [],
  where: null,
  map: null,
  marker: null,
  tab: "report",
  building: null, // the building open for 采集: {code, label, grid}
};
const RETRY_MS = 20000;

// --- the outbox: reports waiting to be sent ----------------------------------------------------

const outbox = (() => {
  const DB = "gridgov-worker";
  const STORE = "outbox";
  const FALLBACK = "gridgov.outbox"; // localStorage, without photos, where IndexedDB is missing
  let opening = null;

  function open() {
    if (!opening) {
      opening = new Promise((resolve, reject) => {
        if (!window.indexedDB) {
          reject(new Error("no IndexedDB"));
          return;
        }
        const req = indexedDB.open(DB, 1);
        req.onupgradeneeded = () => req.result.createObjectStore(STORE, { keyPath: "key" });
        req.onsuccess = () => resolve(req.result);
        req.onerror = () => reject(req.error);
      });
    }
    return opening;
  }

  function run(mode, work) {
    return open().then(
      (db) =>
        new Promise((resolve, reject) => {
          const tx = db.transaction(STORE, mode);
          const req = work(tx.objectStore(STORE));
          tx.oncomplete = () => resolve(req ? req.result : undefined);
          tx.onerror = () => reject(tx.error);
          tx.onabort = () => reject(tx.error);
        }),
    );
  }

  const local = {
    read: () => JSON.parse(localStorage.getItem(FALLBACK) || "[]"),
    write: (list) => localStorage.setItem(FALLBACK, JSON.stringify(list)),
  };

  return {
    async put(record) {
      try {
        await run("readwrite", (store) => store.put(record));
      } catch {
        const list = local.read().filter((r) => r.key !== record.key);
        local.write([...list, { ...record, photos: [] }]);
      }
    },
    async remove(key) {
      try {
        await run("readwrite", (store) => store.delete(key));
      } catch {
        // fall through to the localStorage copy
      }
      try {
        local.write(local.read().filter((r) => r.key !== key));
      } catch {
        // nothing stored there
      }
    },
    async all() {
      let records = [];
      try {
        records = (await run("readonly", (store) => store.getAll())) || [];
      } catch {
        records = [];
      }
      try {
        records = records.concat(local.read());
      } catch {
        // no localStorage either
      }
      return records.sort((a, b) => a.queued_at.localeCompare(b.queued_at));
    },
  };
})();

// Kinds of record that close something: a resend finding it closed (409) has done its work.
const ONCE_ONLY = new Set(["task-close", "rental-close"]);

/** Send one kept record: an event report, or a ledger form (its own path and method). */
function sendRecord(record) {
  const headers = { "Idempotency-Key": record.key };
  if (ONCE_ONLY.has(record.kind)) {
    // Closing is once only: a resend whose first answer was lost finds the task (or the
    // rental) closed (409), which is what was asked.
    return request(record.path, { method: record.method, json: record.fields, headers }).catch((error) => {
      if (error.status === 409) return { status: 409, body: null };
      throw error;
    });
  }
  if (record.kind && record.kind !== "event") {
    return request(record.path, { method: record.method, json: record.fields, headers });
  }
  if (record.photos && record.photos.length) {
    const form = new FormData();
    for (const [key, value] of Object.entries(record.fields)) {
      if (value !== null && value !== undefined && value !== "") form.append(key, String(value));
    }
    for (const photo of record.photos) form.append("photos", photo, photo.name || "photo.jpg");
    return request("/api/events", { method: "POST", form, headers });
  }
  return request("/api/events", { method: "POST", json: record.fields, headers });
}

let flushing = null;

/** Send every waiting report of this account, oldest first; stop at the first network failure. */
function flush() {
  if (flushing) return flushing;
  flushing = (async () => {
    if (!state.me || !navigator.onLine) return;
    let sent = 0;
    let ledger = 0;
    for (const record of await outbox.all()) {
      if ((record.username && record.username !== state.me.username) || record.refused) continue;
      try {
        await sendRecord(record);
        await outbox.remove(record.key);
        sent += 1;
        if (record.kind && record.kind !== "event") ledger += 1;
      } catch (error) {
        record.last_error = error.message;
        if (!isTransient(error)) record.refused = true; // kept, shown, never sent blindly again
        await outbox.put(record);
        if (error.status === 401) {
          banner("登录已过期：重新登录后待发送的上报会自动发送 Sign in again; queued reports are sent then.", "offline", true);
        }
        if (isTransient(error)) break;
      }
    }
    if (sent) {
      banner(`已发送 ${sent} 条待发送的上报或采集 Sent ${sent} queued form(s).`, "ok");
      if (sent > ledger) loadEvents();
      if (ledger && state.building && !$("#detail").hidden) openBuilding(state.building, { quiet: true });
      if (ledger && state.tab === "visits" && $("#detail").hidden) loadTasks();
      if ($("#patrol")) loadPatrolCoverage();
    }
  })().finally(() => {
    flushing = null;
    renderQueued();
  });
  return flushing;
}

function queuedItem(record) {
  const ledger = record.kind && record.kind !== "event";
  return h(
    "li",
    { class: `event queued${record.refused ? " refused" : ""}`, dataset: { key: record.key } },
    h(
      "div",
      { class: "event-head" },
      h("span", { class: "status s-queued" }, record.refused ? "未被接受 refused" : "待发送 queued"),
      h("span", { class: "category" }, ledger ? record.title : categoryName(record.fields.category)),
      h("span", { class: "muted" }, fmtTime(record.queued_at)),
    ),
    ledger ? (record.detail ? h("div", { class: "event-text" }, record.detail) : null) : h("div", { class: "event-text" }, record.fields.description),
    record.photos && record.photos.length ? h("div", { class: "muted" }, `照片 ${record.photos.length} 张 photo(s)`) : null,
    record.last_error ? h("div", { class: "error" }, record.last_error) : null,
    record.refused
      ? h(
          "div",
          { class: "buttons" },
          h(
            "button",
            {
              type: "button",
              class: "secondary",
              onclick: async () => {
                delete record.refused;
                await outbox.put(record);
                flush();
              },
            },
            "重试 Retry",
          ),
          h(
            "button",
            {
              type: "button",
              class: "secondary",
              onclick: async () => {
                await outbox.remove(record.key);
                renderQueued();
              },
            },
            "删除 Discard",
          ),
        )
      : null,
  );
}

async function renderQueued() {
  const mine = (await outbox.all()).filter((r) => !state.me || !r.username || r.username === state.me.username);
  const waiting = mine.filter((r) => !r.refused).length;
  $("#queued-count").textContent = waiting ? String(waiting) : "";
  $("#queued-banner").hidden = waiting === 0;
  $("#queued-banner").textContent = `待发送 ${waiting} 条 queued — 联网后自动发送 They are sent when the connection returns.`;
  $("#queued-list").replaceChildren(...mine.map(queuedItem));
  // The open building shows what waits to be sent for it.
  const here = $("#collect-queued");
  if (here && state.building) {
    here.replaceChildren(...mine.filter((r) => r.building === state.building.code).map(queuedItem));
  }
}

// --- banner and tabs ----------------------------------------------------------------------------

function banner(text, kind = "info", signIn = false) {
  const node = $("#banner");
  node.className = `banner ${kind}`;
  fill(node, text, signIn ? [" ", h("a", { href: "/login?next=/worker" }, "登录 Sign in")] : null);
  node.hidden = !text;
}

function showTab(name) {
  state.tab = name;
  for (const button of document.querySelectorAll("[data-tab]")) {
    button.setAttribute("aria-selected", String(button.dataset.tab === name));
  }
  for (const section of document.querySelectorAll(".tab")) section.hidden = section.id !== `tab-${name}`;
  $("#detail").hidden = true;
  if (name === "events") loadEvents();
  if (name === "visits") {
    loadTasks();
    loadVisits();
  }
  if (name === "buildings") loadBuildings();
  if (name === "report" && state.map) state.map.invalidateSize();
}

// --- who am I, categories -------------------------------------------------------------------------

function cached(key, value) {
  try {
    if (value === undefined) return JSON.parse(localStorage.getItem(key) || "null");
    localStorage.setItem(key, JSON.stringify(value));
  } catch {
    return null;
  }
  return value;
}

async function loadMe() {
  try {
    state.me = cached("gridgov.me", await api("/api/me"));
  } catch (error) {
    if (error instanceof NetworkError) {
      state.me = cached("gridgov.me"); // offline: the account this phone last used
    } else if (error.status === 401) {
      location.href = "/login?next=/worker";
    } else {
      throw error;
    }
  }
}

async function loadCategories() {
  try {
    state.categories = cached("gridgov.categories", itemsOf(await api("/api/categories")));
  } catch {
    state.categories = cached("gridgov.categories") || [];
  }
  renderCategories();
}

function categoryName(code) {
  const found = state.categories.find((c) => c.code === code);
  return found ? `${found.name}（${code}）` : code;
}

function renderCategories() {
  const matches = fillCategoryPicker(
    $("#category"),
    $("#category-search").value,
    state.categories,
    (c) => `${c.code} ${c.name}${c.lead_label ? ` · ${c.lead_label}` : ""}${c.photo_required ? " · 需照片" : ""}`,
  );
  $("#category-count").textContent = state.categories.length
    ? `${matches.length} / ${state.categories.length}`
    : "分类未加载 categories not loaded";
  describeCategory();
}

function describeCategory() {
  const found = state.categories.find((c) => c.code === $("#category").value);
  $("#category-hint").textContent = found
    ? `已选 Chosen: ${found.major_name || ""} › ${found.name}（${found.code}）${found.lead_label ? ` → ${found.lead_label}` : ""}${found.photo_required ? " · 必须附照片 photo required" : ""}`
    : "请选择事件类型 Choose a category.";
}

// --- where ----------------------------------------------------------------------------------------

async function setWhere(lon, lat, how) {
  state.where = { lon, lat };
  const form = $("#report-form");
  form.elements.lon.value = lon.toFixed(6);
  form.elements.lat.value = lat.toFixed(6);
  if (state.map) {
    if (state.marker) state.marker.setLatLng([lat, lon]);
    else state.marker = L.marker([lat, lon], { icon: pin() }).addTo(state.map);
    state.map.setView([lat, lon], Math.max(state.map.getZoom() || 0, 16));
  }
  const text = $("#where-text");
  text.textContent = `${how} ${lon.toFixed(6)}, ${lat.toFixed(6)}`;
  try {
    const found = await api(`/api/locate?lon=${lon}&lat=${lat}&crs=wgs84`);
    const parts = [
      found.grid ? `${found.grid.name}（${found.grid.code}）` : "不在任何网格内 outside every grid",
      found.community && found.community.name,
      found.building && `${found.building.name || found.building.address || found.building.code} ${Math.round(found.building.distance_m)} m`,
    ].filter(Boolean);
    text.textContent = `${how} ${parts.join(" · ")}`;
  } catch {
    text.append(" · 离线，上报时再定位网格 offline: the grid is found when it is sent");
  }
}

function pin() {
  return L.divIcon({ className: "pin", iconSize: [18, 18], iconAnchor: [9, 9] });
}

async function useGps() {
  const button = $("#use-gps");
  button.disabled = true;
  $("#where-text").textContent = "正在定位… Locating…";
  try {
    const coords = await currentPosition();
    await setWhere(coords.longitude, coords.latitude, `📍 定位 GPS ±${Math.round(coords.accuracy || 0)} m:`);
  } catch (error) {
    $("#where-text").textContent = error.message;
  } finally {
    button.disabled = false;
  }
}

async function setUpMap() {
  if (typeof L === "undefined") {
    $("#report-map").replaceChildren(h("p", { class: "muted" }, "地图组件未加载（离线？） The map library did not load; use GPS."));
    return;
  }
  state.map = outlineMap($("#report-map"), { lon: 111.29, lat: 30.71, zoom: 13 });
  state.map.on("click", (e) => setWhere(e.latlng.lng, e.latlng.lat, "🗺 地图点选 Map:"));
  const grids = (state.me && state.me.scope && state.me.scope.grids) || [];
  let bounds = null;
  for (const code of grids.slice(0, 12)) {
    try {
      const b = await drawGrid(state.map, code, { buildings: grids.length <= 3 });
      bounds = bounds ? bounds.extend(b) : L.latLngBounds(b.getSouthWest(), b.getNorthEast());
    } catch {
      // offline or gone: the map still takes taps
    }
  }
  if (!grids.length) {
    // An inspector patrols an area, not grids: its grids give the map its bearings.
    try {
      const layer = L.geoJSON(await api("/api/grids?page_size=200"), {
        style: { color: "#0b5cad", weight: 1, fillOpacity: 0.03 },
        interactive: false,
      }).addTo(state.map);
      if (layer.getBounds().isValid()) bounds = layer.getBounds();
    } catch {
      // offline: the map still takes taps
    }
  }
  if (bounds && bounds.isValid() && !state.where) state.map.fitBounds(bounds, { padding: [10, 10] });
}

// --- reporting ------------------------------------------------------------------------------------

function previewPhotos() {
  const files = $("#photos").files;
  $("#photo-preview").replaceChildren(
    ...[...files].map((file) => {
      const img = h("img", { alt: file.name });
      img.src = URL.createObjectURL(file);
      img.onload = () => URL.revokeObjectURL(img.src);
      return img;
    }),
  );
}

function resetReport(form) {
  form.elements.description.value = "";
  form.elements.address.value = "";
  form.elements.self_resolved.checked = false;
  $("#photos").value = "";
  $("#photo-preview").replaceChildren();
}

async function submitReport(e) {
  e.preventDefault();
  const form = e.target;
  const error = $("#report-error");
  const result = $("#report-result");
  clearError(error, form);
  result.hidden = true;
  const photos = [...$("#photos").files];
  const category = state.categories.find((c) => c.code === form.elements.category.value);
  const problem = (message, field) => showError(error, { message, field }, form);
  if (!state.where) return problem("请先定位或在地图上点选位置 Set the location first: GPS or a tap on the map.", null);
  if (!form.elements.category.value) return problem("请选择事件类型 Choose a category.", "category");
  if (form.elements.description.value.trim().length < 2) {
    return problem("请描述事件（至少 2 个字） Describe the event (2 characters at least).", "description");
  }
  if ((category && category.photo_required) || form.elements.self_resolved.checked) {
    if (!photos.length) return problem("此类事件需附现场照片 This report needs a photo taken on site.", "photos");
  }
  const record = {
    key: uuid(),
    username: state.me ? state.me.username : "",
    queued_at: new Date().toISOString(),
    fields: {
      category: form.elements.category.value,
      lon: state.where.lon,
      lat: state.where.lat,
      crs: "wgs84",
      description: form.elements.description.value.trim(),
      address: form.elements.address.value.trim() || null,
      self_resolved: form.elements.self_resolved.checked,
    },
    photos,
  };
  const button = $("#report-submit");
  button.disabled = true;
  // Kept before it is sent: a closed tab or a lost answer is sent again with the same key.
  await outbox.put(record);
  try {
    if (!navigator.onLine) throw new NetworkError();
    const { body } = await sendRecord(record);
    await outbox.remove(record.key);
    resetReport(form);
    showResult(body);
  } catch (failure) {
    if (isTransient(failure)) {
      resetReport(form);
      result.hidden = false;
      result.className = "queued-note";
      result.replaceChildren(
        "已保存，待发送 Saved and queued: ",
        failure.message,
        " 联网后将自动发送 It is sent by itself when the connection returns.",
      );
    } else {
      await outbox.remove(record.key);
      showError(error, failure, form); // refused: the form keeps what was typed, to be fixed
    }
  } finally {
    button.disabled = false;
    renderQueued();
  }
  return undefined;
}

function showResult(event) {
  const result = $("#report-result");
  result.className = "ok";
  result.hidden = false;
  const duplicates = event.duplicate_candidates || [];
  fill(
    result,
    h("b", {}, `已上报 Reported: ${event.code}`),
    ` · ${event.status_label || event.status}`,
    event.unit ? ` → ${event.unit.name}` : "",
    event.stage_deadline ? [` · 期限 due ${fmtTime(event.stage_deadline)} `, deadlineBadge(event)] : "",
    event.grid_code ? ` · 网格 grid ${event.grid_code}` : "",
    duplicates.length ? h("div", { class: "muted" }, `附近有相似事件 Possible duplicates: ${duplicates.join("、")}`) : null,
    " ",
    h("button", { type: "button", class: "linklike", onclick: () => openEvent(event.code) }, "查看 Open"),
  );
}

// --- my events ------------------------------------------------------------------------------------

async function loadEvents() {
  const error = $("#events-error");
  clearError(error);
  const filter = $("#events-filter").value;
  const query = filter === "mine" ? "mine=true&sort=-reported_at" : `status=${filter}&sort=deadline`;
  try {
    const page = await api(`/api/events?${query}&page_size=50`);
    const items = itemsOf(page);
    $("#events-list").replaceChildren(
      ...(items.length
        ? items.map((item) => eventRow(item, openEvent))
        : [h("li", { class: "muted empty" }, "没有事件 No events here.")]),
    );
    $("#events-count").textContent = page.total ? String(page.total) : "";
  } catch (failure) {
    showError(error, failure);
  }
}

async function openEvent(code) {
  const detail = $("#detail");
  const body = $("#detail-body");
  for (const section of document.querySelectorAll(".tab")) section.hidden = true;
  detail.hidden = false;
  body.replaceChildren(h("p", { class: "muted" }, "加载中… Loading…"));
  try {
    showEvent(await api(`/api/events/${encodeURIComponent(code)}`));
  } catch (failure) {
    const error = h("p", { class: "error", role: "alert" });
    showError(error, failure);
    body.replaceChildren(error);
  }
  window.scrollTo(0, 0);
}

function showEvent(event) {
  renderEvent($("#detail-body"), event, { onChanged: showEvent });
}

// --- buildings (楼盘表) ------------------------------------------------------------------------------

async function loadBuildings() {
  const list = $("#buildings-list");
  const error = $("#buildings-error");
  clearError(error);
  const grids = (state.me && state.me.scope && state.me.scope.grids) || [];
  try {
    let buildings = [];
    try {
      for (const code of grids.slice(0, 12)) {
        const collection = await api(`/api/buildings?grid=${encodeURIComponent(code)}&page_size=500`);
        for (const feature of collection.features || []) buildings.push(feature.properties);
      }
      cached(`gridgov.buildings.${state.me ? state.me.username : ""}`, buildings);
    } catch (failure) {
      // Offline: the list last seen, so a building can still be opened and collected in.
      const kept = isTransient(failure) ? cached(`gridgov.buildings.${state.me ? state.me.username : ""}`) : null;
      if (!kept) throw failure;
      buildings = kept;
    }
    const label = (b) => b.name || b.code;
    buildings.sort((a, b) => label(a).localeCompare(label(b), "zh-CN", { numeric: true }));
    list.replaceChildren(
      ...(buildings.length
        ? buildings.map((b) =>
            h(
              "li",
              { class: "building" },
              h("a", { href: `/maps/building/${encodeURIComponent(b.code)}` }, label(b)),
              h("span", { class: "muted" }, ` ${b.use_label || ""}${b.floors ? ` · ${b.floors}层` : ""} · ${b.houses}户`),
              h(
                "button",
                {
                  type: "button",
                  class: "secondary collect",
                  onclick: () => openBuilding({ code: b.code, label: label(b), grid: b.grid_code, floors: b.floors }),
                },
                "采集 Collect",
              ),
            ),
          )
        : [h("li", { class: "muted empty" }, "你的网格没有登记楼栋 No buildings in your grids; the grid map shows your area.")]),
    );
  } catch (failure) {
    showError(error, failure);
  }
}

// --- collection (采集): houses, residents, moves, rentals and organisations of a building --------
// Every form becomes a record of the outbox (kind, path, method, fields, title) sent with its
// idempotency key like a report: kept first, shown 待发送 until the server has it.

const HOUSE_USES = [
  ["self_occupied", "自住 own home"],
  ["rented", "出租 rented"],
  ["commercial", "经营 business"],
  ["vacant", "空置 vacant"],
];
const RESIDENCE_TYPES = [
  ["registered", "户籍人口 registered"],
  ["floating", "流动人口 floating"],
  ["overseas", "境外人员 overseas"],
  ["unregistered", "未落户人员 unregistered"],
];
const DOC_TYPES = [
  ["id_card", "居民身份证 ID card"],
  ["passport", "护照 passport"],
  ["hk_macau_permit", "港澳通行证 HK/Macau permit"],
  ["taiwan_permit", "台胞证 Taiwan permit"],
  ["hk_macau_residence", "港澳居民居住证 HK/Macau residence"],
  ["taiwan_residence", "台湾居民居住证 Taiwan residence"],
  ["foreign_permanent", "外国人永久居留证 foreign permanent"],
  ["other", "其他 other"],
];
const ORG_TYPES = [
  ["enterprise", "企业 enterprise"],
  ["individual_business", "个体工商户 sole trader"],
  ["shop", "商铺 shop"],
  ["school", "学校 school"],
  ["hospital", "医疗机构 clinic"],
  ["social_organisation", "社会组织 association"],
  ["government", "机关事业单位 public body"],
  ["other", "其他 other"],
];
const MOVE_OUT_REASONS = ["迁往外地", "本区内搬迁", "死亡", "出国（境）", "其他"];

/** One labelled input; `spec` = {name, label, type, options, value, required, hint, ...}. */
function field(spec) {
  const { name, label, type = "text", options, value, required, hint, ...rest } = spec;
  let input;
  if (type === "select") {
    input = h(
      "select",
      { name, required },
      required ? null : h("option", { value: "" }, "—"),
      options.map(([v, text]) => h("option", { value: v, selected: String(value ?? "") === v }, text)),
    );
  } else if (type === "checkbox") {
    return h("label", { class: "check" }, h("input", { type, name, checked: Boolean(value) }), ` ${label}`);
  } else {
    input = h("input", { type, name, value: value ?? "", required, ...rest });
  }
  return h("label", {}, h("span", {}, label, required ? h("span", { class: "required", title: "必填 required" }, " *") : null), input, hint ? h("span", { class: "hint muted", dataset: { for: name } }, hint) : null);
}

/** The fields of a form that differ from `original` (all non-empty ones when it is null). */
function changedValues(form, original, { numbers = [], checks = [] } = {}) {
  const out = {};
  for (const element of form.elements) {
    if (!element.name || element.type === "submit" || element.type === "button") continue;
    let value;
    if (element.type === "checkbox") value = element.checked;
    else {
      value = element.value.trim();
      if (value === "") value = null;
      else if (numbers.includes(element.name)) value = Number(value);
    }
    if (original) {
      const before = original[element.name] ?? (checks.includes(element.name) ? false : null);
      if (value === before || (value === null && before === "")) continue;
    } else if (value === null || (element.type === "checkbox" && !value && !checks.includes(element.name))) {
      continue;
    }
    out[element.name] = value;
  }
  return out;
}

/** Keep a ledger form's record, send it when online; a refusal comes back to the form. */
async function keepAndSend(record, { form, error, done }) {
  const submit = form.querySelector("button[type=submit]");
  if (submit) submit.disabled = true;
  await outbox.put(record);
  try {
    if (!navigator.onLine) throw new NetworkError();
    const { body } = await sendRecord(record);
    await outbox.remove(record.key);
    done(`已保存 Saved: ${record.title}`, body ?? {});
  } catch (failure) {
    if (isTransient(failure)) {
      done(`已保存，待发送 Saved and queued: ${record.title} — 联网后将自动发送 It is sent when the connection returns.`, null);
    } else {
      await outbox.remove(record.key);
      showError(error, failure, form); // refused: what was typed stays, to be fixed
    }
  } finally {
    if (submit) submit.disabled = false;
    renderQueued();
  }
}

function ledgerRecord(kind, { path, method = "POST", fields, title, detail = null }) {
  return {
    key: uuid(),
    kind,
    path,
    method,
    fields,
    title,
    detail,
    building: state.building ? state.building.code : null,
    username: state.me ? state.me.username : "",
    queued_at: new Date().toISOString(),
    photos: [],
  };
}

/** A form in a panel of the building view: `build(form)` adds the fields, `toRecord(form)`
 * returns the record to keep (or throws a {message, field} the form shows). */
function collectForm({ title, fields, submitLabel, toRecord, onDone }) {
  const error = h("p", { class: "error", role: "alert", hidden: true });
  const form = h("form", { class: "stack collect-form", novalidate: true }, h("h3", {}, title), fields, error, h("div", { class: "buttons" }, h("button", { type: "submit" }, submitLabel), h("button", { type: "button", class: "secondary", onclick: () => form.remove() }, "取消 Cancel")));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    clearError(error, form);
    let record;
    try {
      record = toRecord(form);
    } catch (problem) {
      showError(error, problem, form);
      return;
    }
    if (!record) {
      showError(error, { message: "没有修改 Nothing was changed." }, form);
      return;
    }
    await keepAndSend(record, {
      form,
      error,
      done: (message, body) => {
        form.replaceWith(h("p", { class: body === null ? "queued-note" : "ok", role: "status" }, message));
        if (onDone && body !== null) onDone(body); // sent: the view shows what the server has now
      },
    });
  });
  return form;
}

function openForm(slot, form) {
  slot.replaceChildren(form);
  const first = form.querySelector("input:not([type=hidden]):not([type=checkbox]), select");
  if (first) first.focus();
  form.scrollIntoView({ block: "nearest" });
}

function refreshLater() {
  if (navigator.onLine && state.building) openBuilding(state.building, { quiet: true });
}

// --- houses

function houseForm(house) {
  const b = state.building;
  const original = house ? { unit: house.unit, floor: house.floor, room: house.room, use: house.use, area_m2: house.area_m2 } : null;
  return collectForm({
    title: house ? `修改房屋 Change house ${house.code}` : `新增房屋 Add a house · ${b.label}`,
    submitLabel: house ? "保存 Save" : "新增 Add",
    fields: [
      h(
        "div",
        { class: "grid3" },
        field({ name: "unit", label: "单元 Unit", value: house ? house.unit : "1", required: true, maxlength: 10 }),
        field({ name: "floor", label: "楼层 Floor", type: "number", value: house ? house.floor : "", required: true, min: -5, max: b.floors || 200, inputmode: "numeric" }),
        field({ name: "room", label: "房号 Room", value: house ? house.room : "", required: true, maxlength: 20, placeholder: "0301" }),
      ),
      field({ name: "use", label: "用途 Use", type: "select", options: HOUSE_USES, value: house ? house.use : "self_occupied", required: true }),
      field({ name: "area_m2", label: "面积 Area (m²)", type: "number", value: house ? house.area_m2 : "", min: 1, step: "0.1", inputmode: "decimal" }),
    ],
    toRecord: (form) => {
      for (const name of ["unit", "floor", "room"]) {
        if (!form.elements[name].value.trim()) throw { message: "请填写单元、楼层和房号 Fill in the unit, floor and room.", field: name };
      }
      const floor = Number(form.elements.floor.value);
      if (floor === 0) throw { message: "没有0层：一层为1，地下为-1 There is no floor 0: the ground floor is 1, basements -1.", field: "floor" };
      const values = changedValues(form, original, { numbers: ["floor", "area_m2"] });
      if (house) {
        if (!Object.keys(values).length) return null;
        return ledgerRecord("house-edit", {
          path: `/api/houses/${encodeURIComponent(house.code)}`,
          method: "PATCH",
          fields: values,
          title: `修改房屋 ${house.code}`,
          detail: describeValues(values),
        });
      }
      const code = `${b.code}-${values.unit}-${values.room}`;
      return ledgerRecord("house", {
        path: "/api/houses",
        fields: { building_code: b.code, ...values },
        title: `新增房屋 ${code}`,
        detail: describeValues(values),
      });
    },
    onDone: refreshLater,
  });
}

const FIELD_LABEL = {
  unit: "单元",
  floor: "楼层",
  room: "房号",
  use: "用途",
  area_m2: "面积m²",
  name: "姓名",
  residence_type: "类型",
  origin: "来源地",
  arrival_date: "来本地",
  permit_expiry: "居住证至",
  moved_in: "入住",
  relation_to_head: "与户主关系",
  occupation: "职业",
  credit_code: "信用代码",
  org_type: "单位类型",
  address: "地址",
  responsible_person: "负责人",
  staff_count: "从业人数",
  fire_key_unit: "消防重点",
  security_key_unit: "治安重点",
};
const VALUE_LABEL = Object.fromEntries(
  [...HOUSE_USES, ...RESIDENCE_TYPES, ...ORG_TYPES].map(([value, text]) => [value, text.split(" ")[0]]),
);

/** A queued form's fields in words (never the document number or a phone: the list is shown
 * on the phone's screen). */
function describeValues(values) {
  return Object.entries(values)
    .filter(([k]) => k in FIELD_LABEL)
    .map(([k, v]) => `${FIELD_LABEL[k]} ${v === true ? "是" : v === false ? "否" : VALUE_LABEL[v] || (v ?? "—")}`)
    .join(" · ");
}

// --- residents

function residentForm(house, resident) {
  const original = resident
    ? { name: resident.name, residence_type: resident.residence_type, relation_to_head: resident.relation_to_head }
    : null;
  const fields = resident
    ? [
        h("p", { class: "muted" }, `证件 Document ${resident.doc_masked} · ${resident.phone_masked || "无电话 no phone"}`),
        field({ name: "name", label: "姓名 Name", value: resident.name, required: true, maxlength: 50 }),
        field({ name: "residence_type", label: "人口类型 Kind", type: "select", options: RESIDENCE_TYPES, value: resident.residence_type, required: true }),
        field({ name: "phone", label: "新电话 New phone（不改则留空 blank keeps it）", type: "tel", inputmode: "tel", maxlength: 20 }),
        field({ name: "origin", label: "来源地 Came from（流动人口 floating）", maxlength: 200 }),
        field({ name: "occupation", label: "职业 Occupation（不改则留空 blank keeps it）", maxlength: 50 }),
        field({ name: "relation_to_head", label: "与户主关系 Relation to head", value: resident.relation_to_head || "", maxlength: 20 }),
      ]
    : [
        field({ name: "doc_type", label: "证件类型 Document", type: "select", options: DOC_TYPES, value: "id_card", required: true }),
        field({ name: "doc_number", label: "证件号码 Number", required: true, maxlength: 40, autocomplete: "off", hint: "居民身份证按 GB 11643 校验 ID card numbers are checked (GB 11643)." }),
        field({ name: "name", label: "姓名 Name", required: true, maxlength: 50 }),
        field({ name: "phone", label: "电话 Phone", type: "tel", inputmode: "tel", maxlength: 20 }),
        field({ name: "residence_type", label: "人口类型 Kind", type: "select", options: RESIDENCE_TYPES, value: "registered", required: true }),
        field({ name: "origin", label: "来源地 Came from（流动人口必填 floating: required）", maxlength: 200 }),
        field({ name: "arrival_date", label: "来本地日期 Arrived", type: "date", max: today() }),
        field({ name: "permit_expiry", label: "居住证有效期至 Permit valid until", type: "date" }),
        field({ name: "moved_in", label: "入住日期 Moved in", type: "date", value: today(), max: today() }),
        field({ name: "relation_to_head", label: "与户主关系 Relation to head", maxlength: 20, placeholder: "户主、配偶、子女…" }),
      ];
  const form = collectForm({
    title: resident ? `修改住户 Change ${resident.name}` : `登记住户 Register a resident · ${house.code}`,
    submitLabel: resident ? "保存 Save" : "登记 Register",
    fields,
    toRecord: (f) => {
      const values = changedValues(f, original);
      if (!resident) {
        if (!values.doc_number) throw { message: "请填写证件号码 Enter the document number.", field: "doc_number" };
        if (values.doc_type === "id_card") {
          const problem = idNumberProblem(values.doc_number);
          if (problem) throw { message: problem, field: "doc_number" };
        }
        if (!values.name) throw { message: "请填写姓名 Enter the name.", field: "name" };
      }
      if ((values.residence_type || (resident && resident.residence_type)) === "floating" && !values.origin && !resident) {
        throw { message: "流动人口需填写来源地 A floating resident needs where they came from.", field: "origin" };
      }
      if (resident) {
        if (!Object.keys(values).length) return null;
        return ledgerRecord("resident-edit", {
          path: `/api/residents/${resident.id}`,
          method: "PATCH",
          fields: values,
          title: `修改住户 ${resident.name}`,
          detail: describeValues(values),
        });
      }
      return ledgerRecord("resident", {
        path: "/api/residents",
        fields: { ...values, doc_number: values.doc_number.toUpperCase(), house_code: house.code },
        title: `登记住户 ${values.name} → ${house.code}`,
        detail: describeValues({ residence_type: values.residence_type, moved_in: values.moved_in }),
      });
    },
    onDone: refreshLater,
  });
  const number = form.elements.doc_number;
  if (number) {
    // The check as a hint while typing; the server checks again.
    number.addEventListener("input", () => {
      const hint = form.querySelector(".hint[data-for=doc_number]");
      clearError(form.querySelector("p.error"), form);
      const kind = form.elements.doc_type.value;
      const problem = kind === "id_card" && number.value.trim().length >= 15 ? idNumberProblem(number.value) : null;
      hint.textContent = problem || (kind === "id_card" && number.value.trim().length === 18 ? "✓ 校验通过 The number checks out." : "居民身份证按 GB 11643 校验 ID card numbers are checked (GB 11643).");
      hint.classList.toggle("error", Boolean(problem));
    });
  }
  return form;
}

function moveOutForm(resident) {
  return collectForm({
    title: `搬离 Move out · ${resident.name}`,
    submitLabel: "确认搬离 Move out",
    fields: [
      field({ name: "on", label: "搬离日期 On", type: "date", value: today(), max: today(), required: true }),
      field({ name: "reason", label: "原因 Reason", type: "select", options: MOVE_OUT_REASONS.map((r) => [r, r]), value: MOVE_OUT_REASONS[0], required: true }),
    ],
    toRecord: (f) => {
      const values = changedValues(f, null);
      if (!values.on) throw { message: "请填写搬离日期 Enter the date.", field: "on" };
      return ledgerRecord("move-out", {
        path: `/api/residents/${resident.id}/move-out`,
        fields: values,
        title: `搬离 ${resident.name} ← ${resident.house_code || ""}`,
        detail: `${values.on} · ${values.reason}`,
      });
    },
    onDone: refreshLater,
  });
}

/** The document type, number and 查找 Find button of a form that names a resident of the
 * ledger; `finder.who` is the resident found (null until found, needs the network). */
function residentFinder() {
  const found = h("p", { class: "muted", role: "status" }, "先按证件号码查找已登记的人 Find the registered person by their document number first.");
  const finder = { who: null, form: null };
  finder.fields = [
    field({ name: "doc_type", label: "证件类型 Document", type: "select", options: DOC_TYPES, value: "id_card", required: true }),
    h("div", { class: "row" }, field({ name: "doc_number", label: "证件号码 Number", required: true, maxlength: 40, autocomplete: "off" }), h("button", { type: "button", class: "secondary find", onclick: () => lookup() }, "查找 Find")),
    found,
  ];
  async function lookup() {
    const form = finder.form;
    const number = form.elements.doc_number.value.trim().toUpperCase();
    const kind = form.elements.doc_type.value;
    const problem = kind === "id_card" ? idNumberProblem(number) : number ? null : "请填写证件号码 Enter the number.";
    finder.who = null;
    if (problem) {
      found.textContent = problem;
      return;
    }
    try {
      finder.who = await api("/api/residents/lookup", { method: "POST", json: { doc_type: kind, doc_number: number } });
      const who = finder.who;
      found.textContent = `${who.name} · ${who.doc_masked} · 现住 now ${who.house_code || "无 none"}`;
    } catch (failure) {
      found.textContent = failure.message;
    }
  }
  return finder;
}

function moveInForm(house) {
  const finder = residentFinder();
  const form = collectForm({
    title: `搬入 Move in → ${house.code}`,
    submitLabel: "确认搬入 Move in",
    fields: [
      ...finder.fields,
      field({ name: "on", label: "搬入日期 On", type: "date", value: today(), max: today(), required: true }),
      field({ name: "reason", label: "原因 Reason", maxlength: 100, placeholder: "换房、租住…" }),
    ],
    toRecord: (f) => {
      const who = finder.who;
      if (!who) throw { message: "请先查找要搬入的人（需联网） Find the person first (needs the network).", field: "doc_number" };
      const values = { house_code: house.code, on: f.elements.on.value };
      if (f.elements.reason.value.trim()) values.reason = f.elements.reason.value.trim();
      return ledgerRecord("move-in", {
        path: `/api/residents/${who.id}/move-in`,
        fields: values,
        title: `搬入 ${who.name} → ${house.code}`,
        detail: `${values.on}${values.reason ? ` · ${values.reason}` : ""}`,
      });
    },
    onDone: refreshLater,
  });
  finder.form = form;
  return form;
}

// --- rentals (出租屋登记)

const RISK_TEXT = { low: "低 Low", medium: "中 Medium", high: "高 High" };
const DECLARED_USES = ["居住", "员工宿舍", "经营", "仓储", "其他"];

/** 出租登记: the landlord (a resident found by document number, or an organisation of the
 * building), the lease, the 治安责任书 date, the declared use and the rooms let. */
function rentalForm(house, organisations) {
  const finder = residentFinder();
  const orgOptions = organisations.map((o) => [String(o.id), `${o.name} · ${o.credit_code}`]);
  const byResident = h("div", { class: "stack landlord-resident" }, ...finder.fields);
  const byOrganisation = h(
    "div",
    { class: "stack landlord-organisation", hidden: true },
    orgOptions.length
      ? field({ name: "landlord_organisation_id", label: "出租单位 Organisation", type: "select", options: orgOptions })
      : h("p", { class: "muted" }, "本楼没有登记单位：先登记单位 No organisation in this building: register it first."),
  );
  const kind = field({
    name: "landlord_kind",
    label: "房东 Landlord",
    type: "select",
    options: [
      ["resident", "个人 a resident"],
      ["organisation", "本楼单位 an organisation"],
    ],
    value: "resident",
    required: true,
  });
  const form = collectForm({
    title: `出租登记 Register rental → ${house.code}`,
    submitLabel: "登记 Register",
    fields: [
      kind,
      byResident,
      byOrganisation,
      h(
        "div",
        { class: "grid2" },
        field({ name: "lease_start", label: "租期起 Lease from", type: "date", value: today(), required: true }),
        field({ name: "lease_end", label: "租期止 Lease to", type: "date" }),
      ),
      field({ name: "responsibility_signed_on", label: "治安责任书签订 Security letter signed", type: "date", max: today(), hint: "未签则风险等级至少为中 Unsigned: the grade is at least 中 medium." }),
      h(
        "div",
        { class: "grid2" },
        field({ name: "declared_use", label: "申报用途 Declared use", type: "select", options: DECLARED_USES.map((u) => [u, u]), value: DECLARED_USES[0] }),
        field({ name: "rooms", label: "出租间数 Rooms let", type: "number", min: 1, max: 200, inputmode: "numeric" }),
      ),
    ],
    toRecord: (f) => {
      const values = { house_code: house.code };
      let landlord;
      if (f.elements.landlord_kind.value === "organisation") {
        const chosen = f.elements.landlord_organisation_id ? f.elements.landlord_organisation_id.value : "";
        if (!chosen) throw { message: "请选择出租单位 Choose the organisation.", field: "landlord_kind" };
        values.landlord_organisation_id = Number(chosen);
        landlord = organisations.find((o) => String(o.id) === chosen).name;
      } else {
        if (!finder.who) throw { message: "请先按证件号码查找房东（需联网） Find the landlord by document number first (needs the network).", field: "doc_number" };
        values.landlord_resident_id = finder.who.id;
        landlord = finder.who.name;
      }
      for (const name of ["lease_start", "lease_end", "responsibility_signed_on", "declared_use"]) {
        const value = f.elements[name].value.trim();
        if (value) values[name] = value;
      }
      if (!values.lease_start) throw { message: "请填写租期起始日 Enter when the lease starts.", field: "lease_start" };
      if (values.lease_end && values.lease_end < values.lease_start) throw { message: "租期止不能早于租期起 The lease cannot end before it starts.", field: "lease_end" };
      if (values.responsibility_signed_on && values.responsibility_signed_on > today()) throw { message: "治安责任书签订日期不能在将来 The letter cannot be signed in the future.", field: "responsibility_signed_on" };
      const rooms = f.elements.rooms.value.trim();
      if (rooms) {
        values.rooms = Number(rooms);
        if (!Number.isInteger(values.rooms) || values.rooms < 1 || values.rooms > 200) throw { message: "出租间数为1至200 Rooms let: 1 to 200.", field: "rooms" };
      }
      return ledgerRecord("rental", {
        path: "/api/rentals",
        fields: values,
        title: `出租登记 ${house.code}`,
        detail: [`房东 ${landlord}`, `租期 ${values.lease_start}–${values.lease_end || ""}`, values.responsibility_signed_on ? `责任书 ${values.responsibility_signed_on}` : "未签责任书", values.rooms ? `${values.rooms}间` : null].filter(Boolean).join(" · "),
      });
    },
    onDone: refreshLater,
  });
  finder.form = form;
  form.elements.landlord_kind.addEventListener("change", () => {
    const org = form.elements.landlord_kind.value === "organisation";
    byResident.hidden = org;
    byOrganisation.hidden = !org;
  });
  return form;
}

/** 退租: the rental closes on a day and its tenant records end that day (the residents' own
 * residence in the house is a separate 搬离). */
function closeRentalForm(rental) {
  return collectForm({
    title: `退租 Close rental · ${rental.house_code}`,
    submitLabel: "确认退租 Close rental",
    fields: [
      h("p", { class: "muted" }, `租客 ${rental.occupants} 人的租住记录于当日结束；仍住在此的住户请另行“搬离” The ${rental.occupants} tenant(s) leave the rental that day; anyone who also leaves the house is moved out separately.`),
      field({ name: "closed_on", label: "退租日期 Closed on", type: "date", value: today(), min: rental.lease_start, max: today(), required: true }),
    ],
    toRecord: (f) => {
      const on = f.elements.closed_on.value;
      if (!on) throw { message: "请填写退租日期 Enter the date.", field: "closed_on" };
      if (on < rental.lease_start) throw { message: `退租日期不能早于租期起 ${rental.lease_start} It cannot be before the lease began.`, field: "closed_on" };
      return ledgerRecord("rental-close", {
        path: `/api/rentals/${rental.id}`,
        method: "PATCH",
        fields: { status: "closed", closed_on: on },
        title: `退租 ${rental.house_code}`,
        detail: `${on} · 租客 ${rental.occupants} 人搬离`,
      });
    },
    onDone: refreshLater,
  });
}

/** A house's active rental: landlord, lease, tenants, risk grade and the rules that raised it. */
/** Whether this account keeps rentals (people.rentals.RENTAL_WRITERS): inspectors (督查员)
 * look at them but do not register or close them. */
function keepsRentals() {
  return Boolean(state.me && ["grid_worker", "admin"].includes(state.me.role));
}

function rentalBox(rental, slot) {
  return h(
    "div",
    { class: `rental risk-${rental.risk_grade}`, dataset: { rental: String(rental.id) } },
    h(
      "div",
      { class: "event-head" },
      h("span", { class: "status use-rented" }, "在租 Let"),
      h("span", { class: `status risk risk-${rental.risk_grade}` }, `风险 ${RISK_TEXT[rental.risk_grade] || rental.risk_label}`),
      h("span", { class: "muted tenants" }, `租客 ${rental.occupants} 人 tenants`),
    ),
    h("div", { class: "muted" }, `房东 Landlord ${rental.landlord_name} · 租期 ${rental.lease_start}–${rental.lease_end || "未定"}${rental.rooms ? ` · ${rental.rooms}间 rooms` : ""}${rental.declared_use ? ` · ${rental.declared_use}` : ""} · 责任书 ${rental.responsibility_signed_on || "未签 unsigned"}`),
    h("ul", { class: "risk-reasons" }, rental.risk_reasons.map((r) => h("li", {}, r))),
    keepsRentals()
      ? h("div", { class: "buttons" }, h("button", { type: "button", class: "secondary close-rental", onclick: () => openForm(slot, closeRentalForm(rental)) }, "退租 Close rental"))
      : null,
  );
}

// --- organisations

function organisationForm(org) {
  const b = state.building;
  const original = org
    ? {
        credit_code: org.credit_code,
        name: org.name,
        org_type: org.org_type,
        address: org.address,
        responsible_person: org.responsible_person,
        staff_count: org.staff_count,
        fire_key_unit: org.fire_key_unit,
        security_key_unit: org.security_key_unit,
      }
    : null;
  const form = collectForm({
    title: org ? `修改单位 Change ${org.name}` : `登记单位 Register an organisation · ${b.label}`,
    submitLabel: org ? "保存 Save" : "登记 Register",
    fields: [
      field({ name: "credit_code", label: "统一社会信用代码 Credit code", value: org ? org.credit_code : "", required: true, maxlength: 22, autocomplete: "off", hint: "按 GB 32100 校验 Checked against GB 32100." }),
      h("label", { class: "check pilot", hidden: true }, h("input", { type: "checkbox", name: "pilot_code_confirmed" }), " 营业执照上确为此代码（早期试点代码） The licence shows exactly this code (an early pilot code)"),
      field({ name: "name", label: "单位名称 Name", value: org ? org.name : "", required: true, maxlength: 200 }),
      field({ name: "org_type", label: "单位类型 Type", type: "select", options: ORG_TYPES, value: org ? org.org_type : "enterprise", required: true }),
      field({ name: "address", label: "地址 Address", value: org ? org.address : "", maxlength: 300 }),
      field({ name: "responsible_person", label: "负责人 Responsible person", value: org ? org.responsible_person : "", maxlength: 50 }),
      field({ name: "responsible_phone", label: org ? "新电话 New phone（不改则留空 blank keeps it）" : "负责人电话 Phone", type: "tel", inputmode: "tel", maxlength: 20 }),
      field({ name: "staff_count", label: "从业人数 Staff", type: "number", value: org ? org.staff_count : "", min: 0, inputmode: "numeric" }),
      h(
        "fieldset",
        {},
        h("legend", {}, "重点单位 Key unit"),
        field({ name: "fire_key_unit", label: "消防重点单位 Fire-safety key unit", type: "checkbox", value: org ? org.fire_key_unit : false }),
        field({ name: "security_key_unit", label: "治安重点单位 Public-security key unit", type: "checkbox", value: org ? org.security_key_unit : false }),
      ),
    ],
    toRecord: (f) => {
      const values = changedValues(f, original, { numbers: ["staff_count"], checks: ["fire_key_unit", "security_key_unit", "pilot_code_confirmed"] });
      const code = f.elements.credit_code.value.replace(/\s+/g, "").toUpperCase();
      const problem = creditCodeProblem(code);
      if (problem && !(problem.checkOnly && f.elements.pilot_code_confirmed.checked)) {
        f.querySelector(".pilot").hidden = !problem.checkOnly;
        throw { message: problem.message, field: "credit_code" };
      }
      if (!f.elements.name.value.trim()) throw { message: "请填写单位名称 Enter the name.", field: "name" };
      if ("credit_code" in values) values.credit_code = code;
      if (!values.pilot_code_confirmed) delete values.pilot_code_confirmed;
      if (org) {
        if (!Object.keys(values).filter((k) => k !== "pilot_code_confirmed").length) return null;
        return ledgerRecord("organisation-edit", {
          path: `/api/organisations/${org.id}`,
          method: "PATCH",
          fields: values,
          title: `修改单位 ${org.name}`,
          detail: describeValues(values),
        });
      }
      return ledgerRecord("organisation", {
        path: "/api/organisations",
        fields: { ...values, building_code: b.code },
        title: `登记单位 ${values.name}`,
        detail: describeValues({ credit_code: values.credit_code, fire_key_unit: values.fire_key_unit || false, security_key_unit: values.security_key_unit || false }),
      });
    },
    onDone: refreshLater,
  });
  const input = form.elements.credit_code;
  input.addEventListener("input", () => {
    const hint = form.querySelector(".hint[data-for=credit_code]");
    clearError(form.querySelector("p.error"), form);
    const text = input.value.replace(/\s+/g, "");
    const problem = text.length >= 18 ? creditCodeProblem(text) : null;
    hint.textContent = problem ? problem.message : text.length === 18 ? "✓ 校验通过 The code checks out." : "按 GB 32100 校验 Checked against GB 32100.";
    hint.classList.toggle("error", Boolean(problem));
    form.querySelector(".pilot").hidden = !(problem && problem.checkOnly);
  });
  return form;
}

// --- the building view

async function loadBuildingData(code, grid) {
  const key = `gridgov.building.${state.me ? state.me.username : ""}.${code}`;
  try {
    const [houses, residents, orgs, rentals] = await Promise.all([
      api(`/api/houses?building=${encodeURIComponent(code)}&page_size=500`),
      api(`/api/residents?building=${encodeURIComponent(code)}&page_size=500`),
      grid ? api(`/api/organisations?grid=${encodeURIComponent(grid)}&page_size=500`) : Promise.resolve({ items: [] }),
      grid ? api(`/api/rentals?grid=${encodeURIComponent(grid)}&status=active&page_size=500`) : Promise.resolve({ items: [] }),
    ]);
    const houseList = (houses.features || []).map((f) => f.properties);
    const here = new Set(houseList.map((house) => house.code));
    const data = {
      houses: houseList,
      residents: itemsOf(residents),
      organisations: itemsOf(orgs).filter((o) => o.building_code === code),
      rentals: itemsOf(rentals).filter((r) => here.has(r.house_code)),
      at: new Date().toISOString(),
    };
    cached(key, data);
    return { data, offline: false };
  } catch (failure) {
    const kept = isTransient(failure) ? cached(key) : null;
    if (!kept) throw failure;
    return { data: kept, offline: true };
  }
}

async function openBuilding(building, { quiet = false } = {}) {
  state.building = building;
  const detail = $("#detail");
  const body = $("#detail-body");
  for (const section of document.querySelectorAll(".tab")) section.hidden = true;
  detail.hidden = false;
  if (!quiet) {
    body.replaceChildren(h("p", { class: "muted" }, "加载中… Loading…"));
    window.scrollTo(0, 0);
  }
  let loaded;
  try {
    loaded = await loadBuildingData(building.code, building.grid);
  } catch (failure) {
    const error = h("p", { class: "error", role: "alert" });
    showError(error, failure);
    body.replaceChildren(h("h2", {}, `采集 ${building.label}`), error);
    return;
  }
  if (state.building !== building || detail.hidden) return; // the user moved on meanwhile
  const { data, offline } = loaded;
  const slot = h("div", { class: "collect-slot" });
  const byHouse = new Map();
  for (const r of data.residents) {
    if (!byHouse.has(r.house_code)) byHouse.set(r.house_code, []);
    byHouse.get(r.house_code).push(r);
  }
  const rentalOf = new Map((data.rentals || []).map((r) => [r.house_code, r]));
  const houses = [...data.houses].sort((a, b) => a.unit.localeCompare(b.unit, "zh-CN", { numeric: true }) || a.floor - b.floor || a.room.localeCompare(b.room, "zh-CN", { numeric: true }));
  fill(
    body,
    h("h2", {}, `采集 Collect · ${building.label}`),
    h(
      "p",
      { class: "muted" },
      `${building.code} · ${data.houses.length}户 houses · ${data.residents.length}人 residents · ${data.organisations.length}个单位 organisations `,
      h("a", { href: `/maps/building/${encodeURIComponent(building.code)}` }, "楼盘表 Building table →"),
    ),
    offline ? h("p", { class: "banner offline" }, `离线：显示 ${fmtTime(data.at)} 的数据，填写的表单联网后发送 Offline: data as of ${fmtTime(data.at)}; forms are sent when you are back online.`) : null,
    h("ul", { id: "collect-queued", class: "events" }),
    h(
      "div",
      { class: "buttons collect-actions" },
      h("button", { type: "button", id: "add-house", onclick: () => openForm(slot, houseForm(null)) }, "＋ 新增房屋 Add house"),
      h("button", { type: "button", id: "add-organisation", class: "secondary", onclick: () => openForm(slot, organisationForm(null)) }, "＋ 登记单位 Add organisation"),
    ),
    slot,
    h("h3", {}, "房屋与住户 Houses and residents"),
    h(
      "ul",
      { class: "events collect-houses" },
      houses.length ? houses.map((house) => houseRow(house, byHouse.get(house.code) || [], rentalOf.get(house.code), data.organisations)) : h("li", { class: "muted empty" }, "还没有房屋：先新增房屋 No houses yet: add one first."),
    ),
    h("h3", {}, "单位 Organisations"),
    h(
      "ul",
      { class: "events collect-orgs" },
      data.organisations.length ? data.organisations.map(organisationRow) : h("li", { class: "muted empty" }, "本楼没有登记单位 No organisations registered in this building."),
    ),
  );
  renderQueued();
}

function houseRow(house, residents, rental, organisations) {
  const slot = h("div", { class: "collect-slot" });
  return h(
    "li",
    { class: "house", dataset: { house: house.code } },
    h(
      "div",
      { class: "event-head" },
      h("b", {}, `${house.unit}单元 ${house.room}`),
      h("span", { class: `status use-${house.use}` }, house.use_label),
      h("span", { class: "muted" }, `${house.floor}层${house.area_m2 ? ` · ${house.area_m2} m²` : ""} · ${residents.length}人`),
    ),
    residents.length
      ? h(
          "ul",
          { class: "residents" },
          residents.map((r) =>
            h(
              "li",
              { dataset: { resident: String(r.id) } },
              h("span", {}, `${r.name} `, h("span", { class: "muted" }, `${r.doc_masked} · ${r.residence_type_label}${r.relation_to_head ? ` · ${r.relation_to_head}` : ""}`)),
              h(
                "span",
                { class: "buttons" },
                h("button", { type: "button", class: "linklike", onclick: () => openForm(slot, residentForm(house, r)) }, "修改 Edit"),
                h("button", { type: "button", class: "linklike", onclick: () => openForm(slot, moveOutForm(r)) }, "搬离 Move out"),
              ),
            ),
          ),
        )
      : null,
    rental ? rentalBox(rental, slot) : null,
    h(
      "div",
      { class: "buttons" },
      h("button", { type: "button", class: "secondary register", onclick: () => openForm(slot, residentForm(house, null)) }, "＋住户 Resident"),
      h("button", { type: "button", class: "secondary move-in", onclick: () => openForm(slot, moveInForm(house)) }, "搬入 Move in"),
      h("button", { type: "button", class: "secondary edit-house", onclick: () => openForm(slot, houseForm(house)) }, "修改 Edit"),
      rental || !keepsRentals() ? null : h("button", { type: "button", class: "secondary register-rental", onclick: () => openForm(slot, rentalForm(house, organisations)) }, "出租登记 Rental"),
    ),
    slot,
  );
}

function organisationRow(org) {
  const slot = h("div", { class: "collect-slot" });
  const flags = [org.fire_key_unit ? "消防重点 fire key unit" : null, org.security_key_unit ? "治安重点 security key unit" : null].filter(Boolean);
  return h(
    "li",
    { class: "organisation", dataset: { organisation: String(org.id) } },
    h("div", { class: "event-head" }, h("b", {}, org.name), h("span", { class: "status" }, org.org_type_label), flags.map((f) => h("span", { class: "status key-unit" }, f))),
    h("div", { class: "muted" }, `${org.credit_code}${org.responsible_person ? ` · ${org.responsible_person}` : ""}${org.responsible_phone_masked ? ` ${org.responsible_phone_masked}` : ""}`),
    h("div", { class: "buttons" }, h("button", { type: "button", class: "secondary", onclick: () => openForm(slot, organisationForm(org)) }, "修改 Edit")),
    slot,
  );
}

// --- tasks (网格员任务) -----------------------------------------------------------------------------

const taskCounts = { tasks: 0, visits: 0 };

function showCount() {
  const total = taskCounts.tasks + taskCounts.visits;
  $("#visits-count").textContent = total ? String(total) : "";
}

async function loadTasks() {
  const list = $("#tasks-list");
  const error = $("#tasks-error");
  clearError(error);
  try {
    const page = await api("/api/tasks?status=open&page_size=100");
    const items = itemsOf(page);
    taskCounts.tasks = page.total || items.length;
    showCount();
    list.replaceChildren(
      ...(items.length ? items.map(taskRow) : [h("li", { class: "muted empty" }, "暂无待办任务 No open tasks.")]),
    );
  } catch (failure) {
    if (isTransient(failure)) {
      list.replaceChildren(h("li", { class: "muted empty" }, "离线：联网后显示任务 Offline: tasks show when you are back online."));
    } else {
      showError(error, failure);
    }
  }
}

function taskRow(task) {
  const slot = h("div", { class: "collect-slot" });
  const close = () =>
    openForm(
      slot,
      collectForm({
        title: `处理任务 Close: ${task.title}`,
        submitLabel: "提交 Close task",
        fields: [
          h(
            "fieldset",
            {},
            h("legend", {}, "核查结果 Outcome"),
            h("label", { class: "check" }, h("input", { type: "radio", name: "outcome", value: "done", checked: true }), " 已核实处理 Put right"),
            h("label", { class: "check" }, h("input", { type: "radio", name: "outcome", value: "dismissed" }), " 核实无问题 Nothing wrong"),
          ),
          h("label", {}, h("span", {}, "核实情况 What you found", h("span", { class: "required" }, " *")), h("textarea", { name: "note", rows: 2, maxlength: 1000 })),
        ],
        toRecord: (f) => {
          const note = f.elements.note.value.trim();
          if (!note) throw { message: "请填写核实情况 Say what you found on site.", field: "note" };
          const outcome = f.querySelector("input[name=outcome]:checked").value;
          return ledgerRecord("task-close", {
            path: `/api/tasks/${task.id}/close`,
            fields: { outcome, note },
            title: `处理任务 ${task.title}`,
            detail: `${outcome === "done" ? "已核实处理" : "核实无问题"} · ${note}`,
          });
        },
        onDone: () => navigator.onLine && loadTasks(),
      }),
    );
  return h(
    "li",
    { class: "task", dataset: { task: String(task.id) } },
    h(
      "div",
      { class: "event-head" },
      h("span", { class: `light ${task.overdue ? "red" : "yellow"}` }),
      h("b", {}, task.title),
      h("span", { class: "status" }, task.kind_label),
    ),
    h("div", { class: "muted" }, [`期限 due ${task.due_on}`, task.overdue ? "已逾期 overdue" : "", `网格 ${task.grid_code}`].filter(Boolean).join(" · ")),
    h("button", { type: "button", class: "secondary", onclick: close }, "处理 Close"),
    slot,
  );
}

// --- visits ---------------------------------------------------------------------------------------

async function loadVisits() {
  const list = $("#visits-list");
  const error = $("#visits-error");
  clearError(error);
  try {
    const items = itemsOf(await api("/api/visits/due"));
    taskCounts.visits = items.length;
    showCount();
    list.replaceChildren(
      ...(items.length
        ? items.map(visitRow)
        : [h("li", { class: "muted empty" }, "暂无到期走访 No visits due.")]),
    );
  } catch (failure) {
    showError(error, failure);
  }
}

function visitRow(item) {
  const name = item.resident_name || item.name_masked || item.name || `#${item.special_group_id}`;
  // The house code names the building too (building-unit-room); the 楼盘表 link opens it.
  const where = [item.house_code || item.building_code, item.grid_code].filter(Boolean).join(" · ");
  const due = item.next_visit_due || item.due_on || item.due;
  const overdue = item.days_overdue > 0 ? `逾期 ${item.days_overdue} 天 ${item.days_overdue} d overdue` : "今日到期 due today";
  const error = h("p", { class: "error", role: "alert", hidden: true });
  const form = h(
    "form",
    { class: "stack", hidden: true },
    h("label", {}, "走访日期 Date", h("input", { type: "date", name: "visited_on", value: today(), max: today(), required: true })),
    h("label", {}, "走访情况 What you found", h("textarea", { name: "note", rows: 2, required: true, maxlength: 2000 })),
    h("label", { class: "check" }, h("input", { type: "checkbox", name: "here", checked: true }), "附上当前位置 Attach my position"),
    h("button", { type: "submit" }, "保存走访 Save visit"),
    error,
  );
  const row = h(
    "li",
    { class: "visit" },
    h(
      "div",
      { class: "event-head" },
      h("span", { class: `light ${item.days_overdue > 0 ? "red" : "yellow"}` }),
      h("b", {}, name),
      h("span", { class: "status" }, item.group_type_label || item.group_type || ""),
    ),
    h("div", { class: "muted" }, [where, due ? `应访 due ${due}` : "", overdue].filter(Boolean).join(" · ")),
    item.building_code
      ? h("a", { class: "building-table", href: `/maps/building/${encodeURIComponent(item.building_code)}` }, "楼盘表 Building table →")
      : null,
    h("button", { type: "button", class: "secondary", onclick: () => (form.hidden = !form.hidden) }, "记录走访 Record visit"),
    form,
  );
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    clearError(error, form);
    const body = { visited_on: form.elements.visited_on.value, note: form.elements.note.value.trim() };
    if (form.elements.here.checked) {
      try {
        const coords = await currentPosition({ timeout: 8000 });
        Object.assign(body, { lon: coords.longitude, lat: coords.latitude, crs: "wgs84" });
      } catch {
        // the visit is still worth recording without a position
      }
    }
    try {
      const visit = await api(`/api/special-groups/${item.special_group_id}/visits`, { method: "POST", json: body });
      row.replaceChildren(
        h("p", { class: "ok" }, `已记录 ${name} 的走访 Visit recorded; 下次 next due ${visit.next_visit_due || ""}`),
      );
    } catch (failure) {
      showError(error, failure, form);
    }
  });
  return row;
}

// --- patrol (巡查轨迹) -----------------------------------------------------------------------------
// A patrol is started, its GPS fixes batched and the patrol ended through the same outbox as the
// reports: each is a record with its own idempotency key, sent oldest first, so the start always
// reaches the server before its points, offline or not. The patrol's key is made here, so the
// queued batches can name it before the server has answered. Fixes are taken only between 开始
// and 结束 (the server refuses any outside), every PATROL_EVERY_MS, and sent in batches.

const PATROL_EVERY_MS = 20000; // one fix every 20 s (15–30 s asked)
const PATROL_BATCH = 6; // about two minutes of fixes per batch
const patrolState = { timer: null };

function patrolKey() {
  return `gridgov.patrol.${state.me ? state.me.username : ""}`;
}

function patrol(value) {
  return cached(patrolKey(), value);
}

function patrolRecord(kind, path, fields, title) {
  return { ...ledgerRecord(kind, { path, fields, title }), building: null };
}

async function queuePatrolPoints(running) {
  if (!running.buffer.length) return;
  const points = running.buffer;
  running.buffer = [];
  running.sent = (running.sent || 0) + points.length;
  patrol(running);
  await outbox.put(
    patrolRecord("patrol-points", `/api/patrols/${running.key}/points`, { crs: "wgs84", points }, `巡查轨迹 ${points.length} 个点 Patrol points`),
  );
}

function pushFix(coords) {
  const running = patrol();
  if (!running) return; // ended meanwhile: a fix after the end would be refused
  const t = new Date().toISOString();
  if (t < running.started_at) return; // never before the start: the server would refuse it
  running.buffer.push({ t, lon: coords.longitude, lat: coords.latitude, accuracy: Math.round(coords.accuracy || 0) });
  patrol(running);
  if (running.buffer.length >= PATROL_BATCH) queuePatrolPoints(running).then(() => (navigator.onLine ? flush() : renderQueued()));
  renderPatrol();
}

/** One fix now; no fix (no signal, permission denied) leaves a gap the coverage flags. */
function takeFix() {
  if (!navigator.geolocation) return;
  navigator.geolocation.getCurrentPosition(
    (position) => {
      $("#patrol-error").hidden = true;
      pushFix(position.coords);
    },
    (error) => {
      $("#patrol-error").hidden = false;
      $("#patrol-error").textContent =
        error.code === 1
          ? "定位权限被拒绝，巡查轨迹无法记录 Location permission was denied; the track cannot be recorded."
          : "暂时无法定位，恢复后继续记录 No position for now; recording resumes when there is one.";
    },
    { enableHighAccuracy: true, maximumAge: 0, timeout: 15000 }, // a fresh fix each time
  );
}

function watchPatrol() {
  if (patrolState.timer !== null) return;
  takeFix();
  patrolState.timer = setInterval(takeFix, PATROL_EVERY_MS);
}

function stopWatching() {
  clearInterval(patrolState.timer);
  patrolState.timer = null;
}

async function startPatrol() {
  const grid = $("#patrol-grid").value || myGrids()[0] || null;
  const running = { key: uuid(), grid_code: grid, started_at: new Date().toISOString(), buffer: [], sent: 0 };
  patrol(running);
  await outbox.put({
    ...patrolRecord("patrol-start", "/api/patrols", { key: running.key, grid_code: grid, started_at: running.started_at }, "开始巡查 Patrol started"),
    key: running.key,
  });
  watchPatrol();
  renderPatrol();
  if (navigator.onLine) flush();
  else renderQueued();
}

async function endPatrol() {
  const running = patrol();
  if (!running) return;
  stopWatching();
  await queuePatrolPoints(running);
  await outbox.put(patrolRecord("patrol-end", `/api/patrols/${running.key}/end`, { ended_at: new Date().toISOString() }, "结束巡查 Patrol ended"));
  try {
    localStorage.removeItem(patrolKey());
  } catch {
    // nothing kept
  }
  renderPatrol();
  if (navigator.onLine) flush();
  else renderQueued();
}

function renderPatrol() {
  const running = patrol();
  const box = $("#patrol");
  if (!box) return;
  box.classList.toggle("running", Boolean(running));
  $("#patrol-start").hidden = Boolean(running);
  $("#patrol-end").hidden = !running;
  $("#patrol-grid").disabled = Boolean(running);
  const recorded = running ? (running.sent || 0) + running.buffer.length : 0;
  $("#patrol-status").textContent = running
    ? `巡查中 Patrolling since ${fmtTime(running.started_at)} · 已记录 ${recorded} 个点 fixes`
    : "未在巡查 Not on patrol";
}

async function loadPatrolCoverage() {
  const out = $("#patrol-coverage");
  try {
    const rows = await api("/api/patrols/coverage");
    out.textContent = rows
      .map((r) => {
        const share = r.building_share === null ? "—" : `${Math.round(r.building_share * 100)}%`;
        return `本周 ${r.grid_code.slice(-3)} 网格: 楼栋覆盖 ${share} · ${(r.distance_m / 1000).toFixed(1)} km · ${(r.patrol_s / 3600).toFixed(1)} h`;
      })
      .join("；");
  } catch {
    out.textContent = ""; // offline: the figures come back with the connection
  }
}

function myGrids() {
  return (state.me && state.me.scope && state.me.scope.grids) || [];
}

function setUpPatrol() {
  if (!$("#patrol")) return; // grid workers only
  const grids = myGrids();
  $("#patrol-grid").replaceChildren(...grids.map((code) => h("option", { value: code }, `第${code.slice(-3)}网格 ${code}`)));
  const running = patrol();
  if (running) {
    $("#patrol-grid").value = running.grid_code;
    watchPatrol(); // the page was reloaded during a patrol: carry on recording
  }
  $("#patrol-start").addEventListener("click", startPatrol);
  $("#patrol-end").addEventListener("click", endPatrol);
  renderPatrol();
  if (navigator.onLine) loadPatrolCoverage();
}

// --- start ----------------------------------------------------------------------------------------

function connectivity() {
  if (navigator.onLine) {
    if ($("#banner").classList.contains("offline")) banner("");
    flush();
  } else {
    banner("离线 Offline — 上报会先保存在本机，联网后自动发送 Reports are kept on this phone and sent when you are back online.", "offline");
  }
}

async function start() {
  for (const button of document.querySelectorAll("[data-tab]")) {
    button.addEventListener("click", () => showTab(button.dataset.tab));
  }
  $("#detail-back").addEventListener("click", () => showTab(state.tab));
  $("#use-gps").addEventListener("click", useGps);
  $("#category-search").addEventListener("input", renderCategories);
  $("#category").addEventListener("change", describeCategory);
  $("#photos").addEventListener("change", previewPhotos);
  $("#report-form").addEventListener("submit", submitReport);
  $("#events-filter").addEventListener("change", loadEvents);
  $("#events-refresh").addEventListener("click", loadEvents);
  window.addEventListener("online", connectivity);
  window.addEventListener("offline", connectivity);
  setInterval(() => navigator.onLine && flush(), RETRY_MS);
  setInterval(() => state.tab === "events" && !document.hidden && $("#detail").hidden && loadEvents(), 60000);

  await loadMe();
  if (state.me) $("#who").textContent = `${state.me.full_name || state.me.username} · ${state.me.role_label}`;
  await loadCategories();
  setUpPatrol();
  connectivity();
  renderQueued();
  setUpMap();
  if ("serviceWorker" in navigator && window.isSecureContext) {
    navigator.serviceWorker.register("/worker/sw.js", { scope: "/worker" }).catch(() => {});
  }
  // /worker?event=CODE (a link from the 楼盘表 or a map) opens that case.
  const asked = new URLSearchParams(window.location.search).get("event");
  if (asked) {
    state.tab = "events";
    await openEvent(asked);
  }
  document.body.dataset.ready = "true";
}

start();
