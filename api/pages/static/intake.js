// 受理 Intake on /console (command centre): take a call — channel, 诉求类型, caller, ticket number,
// category, the caller's words and address — find the place with the address search (or a tap
// on the map), and file it; a case filed without a point waits in the list below until located.
import { $, api, clearError, eventRow, fillCategoryPicker, h, itemsOf, outlineMap, showError } from "./common.js";

const CITIZEN = new Set(["hotline", "mailbox", "web_app"]);
const NO_MATCHER = "地址匹配暂不可用 Address search is not available: tap the map, or file without a point.";
const state = { categories: [], map: null, marker: null, candidates: null, point: null, locating: null };

function form() {
  return $("#intake-form");
}

// --- categories -------------------------------------------------------------------------------

async function loadCategories() {
  try {
    state.categories = itemsOf(await api("/api/categories"));
  } catch {
    state.categories = [];
  }
  renderCategories();
}

function renderCategories() {
  const matches = fillCategoryPicker($("#intake-category"), $("#intake-category-search").value, state.categories);
  $("#intake-category-count").textContent = `${matches.length} / ${state.categories.length}`;
}

// --- channel ----------------------------------------------------------------------------------

function showChannel() {
  const citizen = CITIZEN.has(form().elements.source.value);
  for (const name of ["appeal_type", "caller_name", "caller_phone"]) {
    form().elements[name].closest("label").hidden = !citizen;
  }
}

// --- place ------------------------------------------------------------------------------------

function pin() {
  return L.divIcon({ className: "pin", iconSize: [18, 18], iconAnchor: [9, 9] });
}

function setPoint(point, how) {
  state.point = point;
  const where = $("#intake-where");
  $("#intake-clear").hidden = !point;
  if (!point) {
    if (state.marker) state.marker.remove();
    state.marker = null;
    where.textContent = "未定位：可不带位置受理，稍后定位 No point: file it and locate it later";
  } else {
    if (state.map) {
      if (state.marker) state.marker.setLatLng([point.lat, point.lon]);
      else state.marker = L.marker([point.lat, point.lon], { icon: pin() }).addTo(state.map);
      state.map.setView([point.lat, point.lon], Math.max(state.map.getZoom() || 0, 16));
    }
    where.textContent = `${how} ${point.lon.toFixed(6)}, ${point.lat.toFixed(6)}${point.building ? ` · ${point.building}` : ""}`;
  }
  for (const button of document.querySelectorAll("#intake-candidates button")) {
    button.setAttribute("aria-pressed", String(Boolean(point) && button.dataset.index === String(point.index)));
  }
  renderUnlocated();
}

function showCandidates(candidates) {
  if (state.candidates) state.candidates.remove();
  state.candidates = state.map ? L.featureGroup().addTo(state.map) : null;
  $("#intake-candidates").replaceChildren(
    ...candidates.map((c, index) => {
      const point = { lon: c.lon, lat: c.lat, building: c.building_code, index };
      if (state.candidates) {
        L.circleMarker([c.lat, c.lon], { radius: 7, color: "#0b5cad", fillOpacity: 0.6 })
          .bindTooltip(`${index + 1}. ${c.address || c.building_name || c.building_code}`)
          .on("click", () => setPoint(point, "候选 Candidate:"))
          .addTo(state.candidates);
      }
      return h(
        "li",
        {},
        h(
          "button",
          { type: "button", "aria-pressed": "false", dataset: { index: String(index) }, onclick: () => setPoint(point, "候选 Candidate:") },
          `${c.address || c.building_name || c.building_code}${c.room ? ` ${c.room}` : ""}`,
          h("span", { class: "why" }, `${Math.round((c.score || 0) * 100)}% · ${c.why || ""} · 网格 ${c.grid_code || "—"}`),
        ),
        c.building_code
          ? h(
              "a",
              { class: "building-table", href: `/maps/building/${encodeURIComponent(c.building_code)}`, target: "_blank", rel: "noopener" },
              "楼盘表 Building table →",
            )
          : null,
      );
    }),
  );
  if (state.map && candidates.length) state.map.fitBounds(state.candidates.getBounds(), { maxZoom: 17, padding: [20, 20] });
}

async function findAddress() {
  const text = $("#intake-address").value.trim();
  const note = $("#intake-match-note");
  if (!text) {
    note.textContent = "请输入地址 Type the address first.";
    return;
  }
  note.textContent = "查找中… Searching…";
  try {
    const answer = await api(`/api/addresses/search?q=${encodeURIComponent(text)}&limit=5`);
    const candidates = answer.candidates || [];
    note.textContent = candidates.length
      ? `找到 ${candidates.length} 个候选，请确认 ${candidates.length} candidate(s): pick one, or tap the map.`
      : "没有匹配的地址：在地图上点选，或不带位置受理 No match: tap the map, or file without a point.";
    showCandidates(candidates);
  } catch (failure) {
    showCandidates([]);
    note.textContent = failure.status === 404 || failure.status === 405 ? NO_MATCHER : `${NO_MATCHER} (${failure.message})`;
  }
}

async function setUpMap() {
  if (typeof L === "undefined") {
    $("#intake-map").replaceChildren(h("p", { class: "muted" }, "地图组件未加载 The map library did not load."));
    return;
  }
  state.map = outlineMap($("#intake-map"), { lon: 111.29, lat: 30.71, zoom: 13 });
  // The panel's layout settles after the map is made: Leaflet must learn its real size.
  new ResizeObserver(() => state.map.invalidateSize()).observe($("#intake-map"));
  state.map.on("click", (e) => setPoint({ lon: e.latlng.lng, lat: e.latlng.lat }, "🗺 地图点选 Map:"));
  try {
    const grids = await api("/api/grids?page_size=200");
    const layer = L.geoJSON(grids, { style: { color: "#0b5cad", weight: 1, fillOpacity: 0.03 }, interactive: false });
    layer.addTo(state.map);
    state.map.invalidateSize();
    if (layer.getBounds().isValid() && !state.point) state.map.fitBounds(layer.getBounds());
  } catch {
    // the outlines only help orientation; taps still work
  }
}

// --- filing -----------------------------------------------------------------------------------

function filing() {
  const f = form().elements;
  const body = { source: f.source.value, category: f.category.value, description: f.description.value.trim() };
  const optional = ["ticket", "address"];
  if (CITIZEN.has(body.source)) optional.push("appeal_type", "caller_name", "caller_phone");
  for (const name of optional) {
    const value = f[name].value.trim();
    if (value) body[name] = value;
  }
  if (state.point) {
    Object.assign(body, { lon: state.point.lon, lat: state.point.lat, crs: "cgcs2000" });
    if (state.point.building) body.building = state.point.building;
  }
  return body;
}

async function submit(e) {
  e.preventDefault();
  const error = $("#intake-error");
  const result = $("#intake-result");
  clearError(error, form());
  result.hidden = true;
  if (!form().elements.category.value) return showError(error, { message: "请选择事件类型 Choose a category.", field: "category" }, form());
  const button = $("#intake-submit");
  button.disabled = true;
  try {
    const event = await api("/api/events", { method: "POST", json: filing() });
    result.hidden = false;
    result.className = "intake-result";
    result.replaceChildren(
      `已受理 Filed: `,
      h("b", { class: "code" }, event.code),
      ` · ${event.status_label}`,
      event.lon === null ? " · 待定位 waits for a place" : event.grid_code ? ` · 网格 ${event.grid_code}` : "",
    );
    for (const name of ["caller_name", "caller_phone", "ticket", "description", "address"]) form().elements[name].value = "";
    $("#intake-candidates").replaceChildren();
    $("#intake-match-note").textContent = "";
    if (state.candidates) state.candidates.clearLayers();
    setPoint(null);
    loadUnlocated();
    document.dispatchEvent(new CustomEvent("gridgov:filed", { detail: event }));
  } catch (failure) {
    showError(error, failure, form());
  } finally {
    button.disabled = false;
  }
}

// --- the unlocated queue ----------------------------------------------------------------------

let unlocatedItems = [];

async function loadUnlocated() {
  const error = $("#unlocated-error");
  clearError(error);
  try {
    const page = await api("/api/events?unlocated=true&status=reported&sort=-reported_at&page_size=50");
    unlocatedItems = itemsOf(page);
    $("#unlocated-count").textContent = page.total ? String(page.total) : "";
  } catch (failure) {
    unlocatedItems = [];
    showError(error, failure);
  }
  renderUnlocated();
}

function pick(code) {
  state.locating = state.locating === code ? null : code;
  const item = unlocatedItems.find((i) => i.code === code);
  if (state.locating && item && item.address) {
    $("#intake-address").value = item.address;
    findAddress();
  }
  renderUnlocated();
}

async function locate(code) {
  const error = $("#unlocated-error");
  clearError(error);
  const body = { lon: state.point.lon, lat: state.point.lat, crs: "cgcs2000" };
  if (state.point.building) body.building = state.point.building;
  try {
    const event = await api(`/api/events/${encodeURIComponent(code)}/locate`, { method: "POST", json: body });
    state.locating = null;
    setPoint(null);
    $("#intake-result").hidden = false;
    $("#intake-result").className = "intake-result";
    $("#intake-result").replaceChildren(`已定位 Located: `, h("b", { class: "code" }, event.code), ` · ${event.status_label} · 网格 ${event.grid_code || "—"}`);
    await loadUnlocated();
    document.dispatchEvent(new CustomEvent("gridgov:filed", { detail: event }));
  } catch (failure) {
    showError(error, failure);
  }
}

function renderUnlocated() {
  const list = $("#unlocated-list");
  if (!list) return;
  list.replaceChildren(
    ...(unlocatedItems.length
      ? unlocatedItems.map((item) => {
          const row = eventRow(item, pick);
          const picked = item.code === state.locating;
          row.classList.toggle("picked", picked);
          if (picked) {
            row.append(
              h(
                "div",
                { class: "row" },
                h(
                  "button",
                  { type: "button", class: "locate", disabled: !state.point, onclick: () => locate(item.code) },
                  `定位 Locate ${item.code}`,
                ),
                h("span", { class: "muted" }, state.point ? "将使用上方地图选中的位置 Uses the point chosen above." : "先在上方地图选点 Choose the point above first."),
              ),
            );
          }
          return row;
        })
      : [h("li", { class: "muted empty" }, "没有待定位的案件 Nothing waits for a place.")]),
  );
}

// --- start ------------------------------------------------------------------------------------

function start() {
  const f = form();
  f.addEventListener("submit", submit);
  f.elements.source.addEventListener("change", showChannel);
  $("#intake-category-search").addEventListener("input", renderCategories);
  $("#intake-find").addEventListener("click", findAddress);
  $("#intake-address").addEventListener("keydown", (e) => {
    if (e.key === "Enter") {
      e.preventDefault();
      findAddress();
    }
  });
  $("#intake-clear").addEventListener("click", () => setPoint(null));
  $("#unlocated-refresh").addEventListener("click", loadUnlocated);
  $("#intake-toggle").addEventListener("click", () => {
    const open = f.hidden;
    f.hidden = !open;
    $("#intake-toggle").setAttribute("aria-expanded", String(open));
    $("#intake-toggle").textContent = open ? "收起 Hide" : "展开 Show";
  });
  showChannel();
  setUpMap();
  Promise.all([loadCategories(), loadUnlocated()]).then(() => {
    $("#intake").dataset.ready = "true";
  });
}

start();
