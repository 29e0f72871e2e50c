// /console 协办 panel: the sub-tasks (协办任务) of joint cases. An assisting unit's dispatcher
// sees their unit's queue with lights and signs for (签收) and reports (协办完成) their part; the
// command centre sees those of its area and waives (免除) or removes (撤销) them with a reason.
// On the event detail it adds the lead and assisting units with each sub-task's state and
// light, and, for the command centre, a form to add an assisting unit.
import { $, api, clearError, fmtTime, h, lightDot, showError } from "./common.js";

const panel = $("#subtasks-panel");
const role = panel ? panel.dataset.role : "";
const COMMAND = role === "command" || role === "admin";
// The lead still holds the case: assisting units may be added (the server says so too).
const ADDING = ["dispatched", "signed"];
const STEPS = {
  sign: { label: "签收 Sign for", quick: true },
  report: { label: "协办完成 Report our part", fields: ["note", "photos?"] },
  waive: { label: "免除 Waive", fields: ["reason"], hint: "例如：已由主办单位处置，无需协办" },
  cancel: { label: "撤销 Remove unit", fields: ["reason"], hint: "例如：误派，非本单位职责" },
};
let units = null; // the district's units, loaded once for the add form

function say(message) {
  const line = $("#subtasks-status-line");
  line.hidden = false;
  line.textContent = message;
}

function openCase(code) {
  document.dispatchEvent(new CustomEvent("gridgov:open", { detail: code }));
}

/** After a change: the queue, the console's list and the open case show the new state. */
async function changed(code) {
  await loadQueue();
  document.getElementById("refresh")?.click();
  if (document.querySelector(`.joint-block[data-code="${CSS.escape(code)}"]`)) openCase(code);
}

function stepForm(task, action) {
  const spec = STEPS[action];
  const error = h("p", { class: "error", role: "alert", hidden: true });
  const inputs = (spec.fields || []).map((field) => {
    const name = field.replace("?", "");
    const optional = field.endsWith("?");
    if (name === "photos") {
      return h("label", {}, "照片 Photos（可选 optional）", h("input", { type: "file", name, accept: "image/*", multiple: true }));
    }
    const text = name === "note" ? "协办处置情况 What your unit did" : "理由 Reason";
    return h(
      "label",
      {},
      text,
      h("textarea", { name, rows: 2, maxlength: name === "reason" ? 300 : 4000, required: !optional, placeholder: spec.hint || "" }),
    );
  });
  const button = h("button", { type: spec.quick ? "button" : "submit", class: spec.quick ? "" : "secondary" }, spec.label);
  const url = `/api/events/${encodeURIComponent(task.event_code)}/subtasks/${task.id}/${action}`;
  const send = async (form) => {
    clearError(error, form);
    button.disabled = true;
    try {
      const body = new FormData();
      if (form) {
        for (const element of form.elements) {
          if (!element.name) continue;
          if (element.type === "file") for (const file of element.files) body.append(element.name, file);
          else if (element.value.trim()) body.append(element.name, element.value.trim());
        }
      }
      await api(url, { method: "POST", form: body });
      say(`${task.event_code} · ${task.unit.name}：${spec.label} ✓`);
      await changed(task.event_code);
    } catch (failure) {
      showError(error, failure, form);
    } finally {
      button.disabled = false;
    }
  };
  if (spec.quick) {
    button.addEventListener("click", () => send(null));
    return h("div", { class: "quick" }, button, error);
  }
  const form = h("form", { class: "stack" }, inputs, button, error);
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    send(form);
  });
  return h("details", {}, h("summary", {}, spec.label), form);
}

function clock(task) {
  if (task.status === "dispatched") {
    return `签收期限 sign by ${fmtTime(task.sign_deadline)}${task.light_label ? `（${task.light_label}）` : ""}· 处置期限 report by ${fmtTime(task.handle_deadline)}`;
  }
  if (task.status === "signed") {
    return `处置期限 report by ${fmtTime(task.handle_deadline)}${task.light_label ? `（${task.light_label}）` : ""}· 签收 signed ${fmtTime(task.signed_at)}${task.signed_by ? ` · ${task.signed_by}` : ""}`;
  }
  if (task.status === "done") {
    const when = task.on_time ? "按时 on time" : "超期 late";
    return `完成 reported ${fmtTime(task.reported_at)}（${when}，期限 due ${fmtTime(task.handle_deadline)}）${task.reported_by ? ` · ${task.reported_by}` : ""}`;
  }
  return `${task.status_label} ${fmtTime(task.ended_at)}${task.ended_by ? ` · ${task.ended_by}` : ""}`;
}

/** One sub-task: light, unit, state, clocks, the ask, the report and the steps allowed now. */
function taskItem(task, { inQueue }) {
  const photos = (task.photos || []).map((photo) =>
    h("a", { href: photo.url, target: "_blank", rel: "noopener" }, h("img", { src: photo.thumbnail_url, alt: "协办照片 photo", loading: "lazy" })),
  );
  return h(
    "li",
    { class: "subtask", dataset: { id: String(task.id) } },
    h(
      "div",
      { class: "subtask-head" },
      lightDot(task.light),
      inQueue
        ? h("button", { type: "button", class: "linklike code", onclick: () => openCase(task.event_code) }, task.event_code)
        : null,
      h("span", { class: "unit" }, inQueue ? task.category_name : task.unit.name),
      h("span", { class: `status s-sub-${task.status}` }, task.status_label),
    ),
    inQueue ? h("div", { class: "event-text" }, task.description) : null,
    h(
      "div",
      { class: "subtask-meta muted" },
      inQueue && task.lead_unit ? `主办 lead: ${task.lead_unit.name} · ` : "",
      clock(task),
    ),
    task.note ? h("div", { class: "said" }, `协办要求 Asked: ${task.note}`) : null,
    task.report ? h("div", { class: "said" }, `协办情况 Reported: ${task.report}`) : null,
    task.end_reason ? h("div", { class: "said" }, `理由 Reason: ${task.end_reason}`) : null,
    photos.length ? h("div", { class: "thumbs" }, photos) : null,
    task.actions.length ? h("div", { class: "subtask-actions" }, task.actions.map((a) => stepForm(task, a))) : null,
  );
}

async function loadQueue() {
  if (!panel) return;
  const error = $("#subtasks-error");
  clearError(error);
  try {
    const status = $("#subtasks-status").value;
    const tasks = await api(`/api/subtasks?status=${encodeURIComponent(status)}`);
    $("#subtasks-total").textContent = `共 ${tasks.length} 项 ${tasks.length} task(s)`;
    $("#subtasks-list").replaceChildren(
      ...(tasks.length
        ? tasks.map((task) => taskItem(task, { inQueue: true }))
        : [h("li", { class: "muted empty" }, "没有协办任务 No assisting tasks here.")]),
    );
  } catch (failure) {
    showError(error, failure);
  }
}

async function unitChoices() {
  if (units === null) {
    const answer = await api("/api/units");
    units = (answer.features || answer || []).map((f) => f.properties || f).filter((u) => u.active !== false);
  }
  return units;
}

async function addForm(event, tasks) {
  const busy = new Set([event.unit && event.unit.id, ...tasks.filter((t) => ["dispatched", "signed"].includes(t.status)).map((t) => t.unit.id)]);
  const choices = (await unitChoices()).filter(
    (u) => !busy.has(u.id) && u.dept_type !== "command_centre" && (!u.district_code || u.district_code === event.district_code),
  );
  const select = h(
    "select",
    { name: "unit_id", required: true },
    h("option", { value: "" }, "选择单位 Choose a unit"),
    choices.map((u) => h("option", { value: String(u.id) }, `${u.name}（${u.dept_type_label || u.dept_type}）`)),
  );
  const error = h("p", { class: "error", role: "alert", hidden: true });
  const button = h("button", { type: "submit" }, "增加协办 Add assisting unit");
  const form = h(
    "form",
    { class: "add-form" },
    h("label", {}, "协办单位 Unit", select),
    h("label", {}, "协办要求 What is asked", h("input", { name: "note", maxlength: 4000, placeholder: "例如：请派员到场配合" })),
    button,
    error,
  );
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    clearError(error, form);
    button.disabled = true;
    try {
      const json = { unit_id: Number(select.value) };
      if (form.elements.note.value.trim()) json.note = form.elements.note.value.trim();
      const added = await api(`/api/events/${encodeURIComponent(event.code)}/subtasks`, { method: "POST", json });
      say(`${event.code}：增加协办 ${added.unit.name} ✓`);
      await changed(event.code);
    } catch (failure) {
      showError(error, failure, form);
    } finally {
      button.disabled = false;
    }
  });
  return form;
}

/** The joint-case block of the open event: lead, assisting units and their sub-tasks. */
async function showJoint(event) {
  const body = document.getElementById("detail-body");
  if (!body) return;
  // A case with no lead unit (returned to the centre, not yet dispatched) has no open sub-task;
  // a unit's dispatcher who just returned it no longer reads it, so asks nothing.
  if (!event.unit && !COMMAND) return;
  const block = h("section", { class: "joint-block", dataset: { code: event.code } }, h("h3", {}, "主办/协办 Lead & assisting units"));
  // Placed right after the actions, where the lead looks before reporting the case handled.
  const history = [...body.querySelectorAll("h3")].find((node) => node.textContent.startsWith("照片") || node.textContent.startsWith("派遣说明") || node.textContent.startsWith("位置"));
  body.insertBefore(block, history || null);
  let tasks;
  try {
    tasks = await api(`/api/events/${encodeURIComponent(event.code)}/subtasks`);
  } catch (failure) {
    const error = h("p", { class: "error", role: "alert" });
    showError(error, failure);
    block.append(error);
    return;
  }
  block.append(h("p", { class: "lead" }, `主办 Lead: ${event.unit ? event.unit.name : "（未派遣 not dispatched）"}`));
  const open = tasks.filter((t) => t.status === "dispatched" || t.status === "signed");
  if (open.length && (event.actions || []).includes("handle")) {
    block.append(h("p", { class: "muted" }, `协办未完成 ${open.length} 项：协办单位完成或指挥中心免除后方可处置完成 (the case is reported handled once every assisting unit is done or waived)`));
  }
  block.append(
    tasks.length
      ? h("ul", { class: "subtask-list" }, tasks.map((task) => taskItem(task, { inQueue: false })))
      : h("p", { class: "muted" }, "无协办单位 No assisting units."),
  );
  if (COMMAND && ADDING.includes(event.status)) block.append(await addForm(event, tasks));
}

if (panel) {
  $("#subtasks-status").addEventListener("change", loadQueue);
  $("#subtasks-refresh").addEventListener("click", loadQueue);
  document.addEventListener("gridgov:event-shown", (e) => showJoint(e.detail));
  loadQueue();
}
