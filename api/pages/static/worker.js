// /worker: a grid worker files events (GPS or a tap on the map, category search, camera
// photos), follows and verifies them, and records special-group visits. A report is kept in
// IndexedDB with its idempotency key before it is sent, so one made offline (or whose answer
// was lost) is sent again when the connection returns — and the key makes it count once.
import {
  $,
  NetworkError,
  api,
  clearError,
  currentPosition,
  deadlineBadge,
  drawGrid,
  eventRow,
  fillCategoryPicker,
  fill,
  fmtTime,
  h,
  isTransient,
  itemsOf,
  outlineMap,
  renderEvent,
  request,
  showError,
  today,
  uuid,
} from "./common.js";

const state = { me: null, categories: [], where: null, map: null, marker: null, tab: "report" };
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

function sendReport(record) {
  const headers = { "Idempotency-Key": record.key };
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
    for (const record of await outbox.all()) {
      if ((record.username && record.username !== state.me.username) || record.refused) continue;
      try {
        await sendReport(record);
        await outbox.remove(record.key);
        sent += 1;
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
      banner(`已发送 ${sent} 条待发送的上报 Sent ${sent} queued report(s).`, "ok");
      loadEvents();
    }
  })().finally(() => {
    flushing = null;
    renderQueued();
  });
  return flushing;
}

async function renderQueued() {
  const list = $("#queued-list");
  const mine = (await outbox.all()).filter((r) => !state.me || !r.username || r.username === state.me.username);
  const waiting = mine.filter((r) => !r.refused).length;
  $("#queued-count").textContent = waiting ? String(waiting) : "";
  $("#queued-banner").hidden = waiting === 0;
  $("#queued-banner").textContent = `待发送 ${waiting} 条 queued — 联网后自动发送 They are sent when the connection returns.`;
  list.replaceChildren(
    ...mine.map((record) =>
      h(
        "li",
        { class: `event queued${record.refused ? " refused" : ""}`, dataset: { key: record.key } },
        h(
          "div",
          { class: "event-head" },
          h("span", { class: "status s-queued" }, record.refused ? "未被接受 refused" : "待发送 queued"),
          h("span", { class: "category" }, categoryName(record.fields.category)),
          h("span", { class: "muted" }, fmtTime(record.queued_at)),
        ),
        h("div", { class: "event-text" }, record.fields.description),
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
      ),
    ),
  );
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
  if (name === "visits") loadVisits();
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
    const { body } = await sendReport(record);
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
    const buildings = [];
    for (const code of grids.slice(0, 12)) {
      const collection = await api(`/api/buildings?grid=${encodeURIComponent(code)}&page_size=500`);
      for (const feature of collection.features || []) buildings.push(feature.properties);
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
            ),
          )
        : [h("li", { class: "muted empty" }, "你的网格没有登记楼栋 No buildings in your grids; the grid map shows your area.")]),
    );
  } catch (failure) {
    showError(error, failure);
  }
}

// --- visits ---------------------------------------------------------------------------------------

async function loadVisits() {
  const list = $("#visits-list");
  const error = $("#visits-error");
  clearError(error);
  try {
    const items = itemsOf(await api("/api/visits/due"));
    $("#visits-count").textContent = items.length ? String(items.length) : "";
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
