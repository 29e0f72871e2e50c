// /console: a department unit's queue sorted by deadline with its lights, the event with its
// photos, history, dispatch explanation and map, and the actions it allows now. The command
// centre also sees the unrouted, duplicate, supervision and to-close lists.
import {
  $,
  OPEN_STATUSES,
  STATUS_LABEL,
  api,
  clearError,
  eventRow,
  h,
  itemsOf,
  renderEvent,
  showError,
} from "./common.js";

const PAGE_SIZE = 30;
const REFRESH_MS = 60000;
const DUPLICATE_METRES = 100; // the duplicate rule of dispatch: same category, 100 m, 24 h
const DUPLICATE_MS = 24 * 3600 * 1000;
// What each view lists. `status` repeats in the query; the queue adds the filters.
const VIEWS = {
  queue: { title: "处置队列 Queue", params: { sort: "deadline" }, filters: true },
  unrouted: {
    title: "未分派 Not with a unit",
    params: { status: ["reported", "pending", "registered", "returned"], sort: "deadline" },
  },
  duplicates: {
    title: "疑似重复 Duplicates",
    params: { status: OPEN_STATUSES, sort: "-reported_at" },
    whole: true, // neighbours are found among the open events in one page
  },
  supervision: { title: "督办 Supervision", params: { overdue: "true", sort: "deadline" } },
  // Checked on site (核查通过), waiting for the centre's 结案 or, for a citizen's case, 答复.
  closing: { title: "待结案 To close", params: { status: ["verified"], sort: "deadline" } },
};

const state = { view: "queue", page: 1, light: "", open: null, me: null, loading: 0 };

function query(params) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    for (const one of [].concat(value)) if (one !== "" && one !== null && one !== undefined) search.append(key, one);
  }
  return `/api/events?${search}`;
}

function filters() {
  const status = $("#status-filter").value;
  return {
    status: status === "open" ? OPEN_STATUSES : status,
    q: $("#q").value.trim(),
    light: state.light,
  };
}

async function loadCounts() {
  const base = { ...filters(), light: "" };
  await Promise.all(
    ["green", "yellow", "red"].map(async (light) => {
      try {
        const page = await api(query({ ...base, light, page_size: 1 }));
        $(`#count-${light}`).textContent = String(page.total);
      } catch {
        $(`#count-${light}`).textContent = "–";
      }
    }),
  );
}

function metres(a, b) {
  const rad = Math.PI / 180;
  const x = (b.lon - a.lon) * rad * Math.cos(((a.lat + b.lat) / 2) * rad);
  const y = (b.lat - a.lat) * rad;
  return Math.hypot(x, y) * 6371000;
}

/** Open events linked as duplicates, or with a same-category neighbour within 100 m and 24 h. */
function possibleDuplicates(items) {
  const found = [];
  for (const item of items) {
    const near = items.filter(
      (other) =>
        other !== item &&
        other.category === item.category &&
        Math.abs(new Date(other.reported_at) - new Date(item.reported_at)) <= DUPLICATE_MS &&
        metres(item, other) <= DUPLICATE_METRES,
    );
    if (item.duplicate_of || near.length) found.push({ ...item, near: near.map((o) => o.code) });
  }
  return found;
}

async function loadList() {
  const view = VIEWS[state.view];
  const error = $("#list-error");
  clearError(error);
  $("#list-title").textContent = view.title;
  $("#filters").hidden = !view.filters;
  const params = { ...view.params, ...(view.filters ? filters() : {}) };
  // A tier centre closes the cases it holds: its 待结案 leaves out those held above (or below).
  if (state.view === "closing" && state.me?.role === "command" && state.me.scope?.area_code) params.tier = "mine";
  const page = view.whole ? 1 : state.page;
  const size = view.whole ? 200 : PAGE_SIZE;
  // The list asked last wins: a slower answer for a view left since must not overwrite it.
  // `data-shown` names the view once its rows are on the page ("" while loading).
  const ticket = ++state.loading;
  $("#queue").dataset.shown = "";
  try {
    const answer = await api(query({ ...params, page, page_size: size }));
    if (ticket !== state.loading) return;
    let items = itemsOf(answer);
    let total = answer.total;
    if (state.view === "duplicates") {
      items = possibleDuplicates(items);
      total = items.length;
    }
    $("#queue").replaceChildren(
      ...(items.length
        ? items.map((item) => {
            const row = eventRow(item, openEvent);
            if (item.near && item.near.length) {
              row.querySelector(".event-meta").append(` · 附近同类 nearby: ${item.near.join("、")}`);
            }
            return row;
          })
        : [h("li", { class: "muted empty" }, "没有事件 Nothing here.")]),
    );
    for (const row of document.querySelectorAll("#queue .event")) {
      row.classList.toggle("current", row.dataset.code === state.open);
    }
    $("#total").textContent = `共 ${total} 件 ${total} event(s)`;
    const pages = view.whole ? 1 : Math.max(Math.ceil(total / PAGE_SIZE), 1);
    $("#page").textContent = `${page} / ${pages}`;
    $("#prev").disabled = page <= 1;
    $("#next").disabled = page >= pages;
    $("#queue").dataset.shown = state.view;
    if (view.filters) loadCounts();
  } catch (failure) {
    if (ticket !== state.loading) return;
    showError(error, failure);
  }
}

async function openEvent(code) {
  state.open = code;
  const detail = $("#detail");
  detail.hidden = false;
  document.body.classList.add("has-detail");
  for (const row of document.querySelectorAll("#queue .event")) {
    row.classList.toggle("current", row.dataset.code === code);
  }
  const body = $("#detail-body");
  body.replaceChildren(h("p", { class: "muted" }, "加载中… Loading…"));
  try {
    showEvent(await api(`/api/events/${encodeURIComponent(code)}`));
  } catch (failure) {
    const error = h("p", { class: "error", role: "alert" });
    showError(error, failure);
    body.replaceChildren(error);
  }
  if (window.matchMedia("(max-width: 60rem)").matches) detail.scrollIntoView();
}

function showEvent(event) {
  renderEvent($("#detail-body"), event, {
    onChanged: (updated) => {
      showEvent(updated);
      loadList();
    },
  });
  document.dispatchEvent(new CustomEvent("gridgov:event-shown", { detail: event })); // 协办 panel
}

function closeEvent() {
  state.open = null;
  $("#detail").hidden = true;
  document.body.classList.remove("has-detail");
}

function showView(name) {
  state.view = name;
  state.page = 1;
  for (const button of document.querySelectorAll("[data-view]")) {
    button.setAttribute("aria-selected", String(button.dataset.view === name));
  }
  loadList();
}

async function start() {
  const select = $("#status-filter");
  select.append(
    h("option", { value: "open" }, "未办结 Open"),
    h("option", { value: "" }, "全部 All"),
    ...OPEN_STATUSES.concat(["closed", "voided", "self_resolved", "transferred", "refused"]).map((s) =>
      h("option", { value: s }, `${STATUS_LABEL[s]} ${s}`),
    ),
  );
  for (const button of document.querySelectorAll("[data-view]")) {
    button.addEventListener("click", () => showView(button.dataset.view));
  }
  for (const chip of document.querySelectorAll("[data-light]")) {
    chip.addEventListener("click", () => {
      state.light = state.light === chip.dataset.light ? "" : chip.dataset.light;
      for (const c of document.querySelectorAll("[data-light]")) {
        c.setAttribute("aria-pressed", String(c.dataset.light === state.light));
      }
      state.page = 1;
      loadList();
    });
  }
  select.addEventListener("change", () => {
    state.page = 1;
    loadList();
  });
  let typing = null;
  $("#q").addEventListener("input", () => {
    clearTimeout(typing);
    typing = setTimeout(() => {
      state.page = 1;
      loadList();
    }, 300);
  });
  $("#refresh").addEventListener("click", loadList);
  $("#prev").addEventListener("click", () => {
    state.page -= 1;
    loadList();
  });
  $("#next").addEventListener("click", () => {
    state.page += 1;
    loadList();
  });
  $("#detail-close").addEventListener("click", closeEvent);
  document.addEventListener("gridgov:filed", () => loadList()); // a case taken in 受理 (intake.js)
  document.addEventListener("gridgov:open", (e) => openEvent(e.detail)); // a case named by a panel
  try {
    state.me = await api("/api/me");
    $("#who").textContent = `${state.me.full_name || state.me.username} · ${state.me.role_label}${state.me.unit ? ` · ${state.me.unit.name}` : ""}`;
  } catch (failure) {
    if (failure.status === 401) location.href = "/login?next=/console";
  }
  await loadList();
  setInterval(() => document.visibilityState === "visible" && loadList(), REFRESH_MS);
  // /console?event=CODE (the maps' and the 楼盘表's event links) opens that case.
  const asked = new URLSearchParams(window.location.search).get("event");
  if (asked) await openEvent(asked);
  document.body.dataset.ready = "true";
}

start();
