// 分级流转 Tier queues on /console: the cases this account's tier holds, waiting for 立案
// (register, refuse, escalate, delegate, resolve) or for 派遣 (the automatic proposal with its
// explanation: accept it, or choose another unit and say why). Actions go through the same
// event view as the console's (common.js); the console's lists reload after each one.
import { $, TIER_LABEL, api, clearError, eventRow, h, itemsOf, renderEvent, showError } from "./common.js";

const VIEWS = { pending: "待立案 To register", registered: "待派遣 To dispatch" };
const panel = $("#tiers");
const admin = panel.dataset.role === "admin"; // an admin has no tier: every tier's cases
const state = { view: "pending", open: null, loading: 0 };

function listUrl(status, size) {
  const search = new URLSearchParams({ status, sort: "deadline", page_size: String(size) });
  if (!admin) search.set("tier", "mine");
  return `/api/events?${search}`;
}

async function loadCounts() {
  await Promise.all(
    Object.keys(VIEWS).map(async (status) => {
      try {
        const page = await api(listUrl(status, 1));
        $(`#tiers-count-${status}`).textContent = page.total ? String(page.total) : "";
      } catch {
        $(`#tiers-count-${status}`).textContent = "";
      }
    }),
  );
}

async function loadList() {
  const error = $("#tiers-error");
  clearError(error);
  // A slower answer for a list asked before (the tab left, or the reload after an action that
  // a tab click overtook) must not overwrite the list asked last.
  const ticket = ++state.loading;
  try {
    const items = itemsOf(await api(listUrl(state.view, 50)));
    if (ticket !== state.loading) return;
    if (items.length && !admin) $("#tiers-tier").textContent = `· 本级 ${TIER_LABEL[items[0].tier] || items[0].tier}`;
    $("#tiers-list").replaceChildren(
      ...(items.length
        ? items.map((item) => {
            const row = eventRow(item, openCase);
            row.classList.toggle("current", item.code === state.open);
            row.querySelector(".event-head").append(h("span", { class: "tier-badge" }, TIER_LABEL[item.tier] || item.tier));
            return row;
          })
        : [h("li", { class: "muted empty" }, state.view === "pending" ? "没有待立案的案件 Nothing waits for 立案." : "没有待派遣的案件 Nothing waits for 派遣.")]),
    );
  } catch (failure) {
    if (ticket !== state.loading) return;
    showError(error, failure);
  }
  loadCounts();
}

async function showProposal(event) {
  const box = $("#tiers-proposal");
  box.hidden = true;
  if (!(event.actions || []).includes("dispatch")) return;
  try {
    const proposal = await api(`/api/events/${encodeURIComponent(event.code)}/dispatch-proposal`);
    if (state.open !== event.code) return;
    const accept = h("button", { type: "button", dataset: { action: "accept-proposal" } }, "按建议派遣 Dispatch as proposed");
    accept.disabled = !proposal.unit;
    accept.addEventListener("click", async () => {
      accept.disabled = true;
      try {
        changed(await api(`/api/events/${encodeURIComponent(event.code)}/dispatch`, { method: "POST", json: {} }));
      } catch (failure) {
        const error = h("p", { class: "error", role: "alert" });
        showError(error, failure);
        box.append(error);
        accept.disabled = false;
      }
    });
    box.replaceChildren(
      h("h3", {}, "派遣建议 Proposal"),
      h(
        "ul",
        {},
        h("li", {}, h("b", {}, proposal.unit ? proposal.unit.name : "无可派单位 No unit found"), ` · 牵头 ${proposal.lead_type_label}`),
        proposal.assisting_units.length ? h("li", {}, `协办 Assisting: ${proposal.assisting_units.map((u) => u.name).join("、")}`) : null,
        h("li", { class: "muted" }, proposal.rule),
        h("li", { class: "muted" }, proposal.how),
      ),
      accept,
      h("p", { class: "muted" }, "改派他单位：用下方“派遣”选择单位并说明理由 To choose another unit, use 派遣 below with a reason."),
    );
    box.hidden = false;
  } catch {
    // the proposal only helps; the action panel still dispatches
  }
}

function showCase(event) {
  $("#tiers-case").hidden = false;
  renderEvent($("#tiers-detail"), event, { onChanged: changed });
  showProposal(event);
}

function changed(event) {
  showCase(event);
  loadList();
  document.dispatchEvent(new CustomEvent("gridgov:filed", { detail: event })); // the console's lists
}

async function openCase(code) {
  state.open = code;
  for (const row of document.querySelectorAll("#tiers-list .event")) row.classList.toggle("current", row.dataset.code === code);
  const error = $("#tiers-error");
  clearError(error);
  // Nothing of the case shown before may be acted on while this one loads.
  $("#tiers-case").hidden = false;
  $("#tiers-proposal").hidden = true;
  $("#tiers-detail").replaceChildren(h("p", { class: "muted" }, "加载中… Loading…"));
  try {
    const event = await api(`/api/events/${encodeURIComponent(code)}`);
    if (state.open !== code) return; // another case was chosen meanwhile
    showCase(event);
    if (window.matchMedia("(max-width: 60rem)").matches) $("#tiers-case").scrollIntoView();
  } catch (failure) {
    showError(error, failure);
  }
}

function showView(name) {
  state.view = name;
  for (const button of document.querySelectorAll("[data-tier-view]")) {
    button.setAttribute("aria-selected", String(button.dataset.tierView === name));
  }
  loadList();
}

for (const button of document.querySelectorAll("[data-tier-view]")) {
  button.addEventListener("click", () => showView(button.dataset.tierView));
}
$("#tiers-refresh").addEventListener("click", loadList);
document.addEventListener("gridgov:filed", (e) => {
  if (!e.detail || e.detail.code !== state.open) loadList(); // a call taken in 受理
});
loadList().then(() => {
  panel.dataset.ready = "true";
});
