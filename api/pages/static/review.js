// /console 退回审核/争议 panel (command centre): the cases units returned, each with the unit and
// its reason, to accept (同意退回: re-dispatched by the rules or to the unit chosen, never to a
// unit that returned it), reject (驳回退回: back to the unit, with the ruling) or, when two
// units returned it, rule who leads (裁定, binding); and the rulings, each of which one click
// turns into a dispatch rule for its category and area.
import { api, fmtTime, h, itemsOf, tabbedPanel } from "./common.js";

const AREAS = [
  ["community", "本社区 The case's community"],
  ["street", "本街道 The case's street"],
  ["district", "全区 The whole district"],
];
let unitsCache = null;

/** Active units of every district, fetched once; [] when they cannot be had. */
async function allUnits() {
  if (unitsCache === null) {
    try {
      unitsCache = itemsOf(await api("/api/units"))
        .map((f) => f.properties || f)
        .filter((u) => u.active !== false);
    } catch {
      unitsCache = [];
    }
  }
  return unitsCache;
}

/** A unit picker for a case of `district`; `first` is the option meaning "none chosen". */
function unitPicker(district, { first, required = false, mark = () => "" }) {
  const select = h("select", { name: "unit_id", required }, h("option", { value: "" }, first));
  allUnits().then((units) => {
    for (const unit of units) {
      if (unit.district_code && unit.district_code !== district) continue;
      select.append(h("option", { value: unit.id }, `${unit.name}（${unit.dept_type_label || unit.dept_type || ""}）${mark(unit)}`));
    }
  });
  return select;
}

function decision(item, action, className, title, fields, button, message) {
  const form = h(
    "form",
    { class: `stack ${className}`, dataset: { action } },
    h("h3", {}, title),
    ...fields,
    h("button", { type: "submit" }, button),
    h("p", { class: "error", role: "alert", hidden: true }),
  );
  return panel.submitter(form, async (body) => {
    const event = await api(`/api/events/${encodeURIComponent(item.code)}/${action}`, { method: "POST", json: body });
    return `${message} ${item.code} → ${event.unit ? event.unit.name : event.status_label}`;
  });
}

function returnItem(item) {
  const district = item.code.slice(0, 6);
  const returners = new Set(item.returns.map((r) => r.unit && r.unit.id));
  const returnedMark = (unit) => (returners.has(unit.id) ? " · 曾退回 returned it" : "");
  const last = item.returns[item.returns.length - 1];
  const forms = [];
  if (item.actions.includes("accept-return")) {
    forms.push(
      decision(
        item,
        "accept-return",
        "accept",
        "同意退回 Accept the return",
        [h("label", {}, "改派单位（选填）Send to (optional)", unitPicker(district, { first: "按派遣规则 By the dispatch rules" }))],
        "同意并重新派遣 Accept & re-dispatch",
        "已同意退回 Accepted:",
      ),
    );
  }
  if (item.actions.includes("reject-return")) {
    forms.push(
      decision(
        item,
        "reject-return",
        "reject",
        `驳回退回 Reject: back to ${last && last.unit ? last.unit.name : "the unit"}`,
        [h("label", {}, "审核意见 Ruling", h("input", { name: "reason", maxlength: 300, required: true, placeholder: "例如：经核实属贵单位辖区" }))],
        "驳回 Reject",
        "已驳回退回 Rejected:",
      ),
    );
  }
  if (item.actions.includes("rule")) {
    forms.push(
      decision(
        item,
        "rule",
        "rule",
        "争议裁定 Rule who leads (binding)",
        [
          h("label", {}, "主办单位 Lead unit", unitPicker(district, { first: "选择单位 Choose a unit", required: true, mark: returnedMark })),
          h("label", {}, "裁定理由 Reasoning", h("input", { name: "reason", maxlength: 300, required: true, placeholder: "例如：事发地位于该单位辖区" })),
        ],
        "裁定 Rule",
        "已裁定 Ruled:",
      ),
    );
  }
  return h(
    "li",
    { class: "review-item", dataset: { code: item.code } },
    h(
      "div",
      { class: "event-head" },
      h("span", { class: "code" }, item.code),
      h("span", { class: "status" }, item.status_label),
      item.disputed ? h("span", { class: "dispute" }, item.awaiting_ruling ? "争议待裁定 Dispute" : "争议 Disputed") : null,
      h("span", {}, item.category_name),
    ),
    h("div", { class: "event-text" }, item.description),
    h(
      "ol",
      { class: "returns" },
      item.returns.map((r) =>
        h("li", {}, `${r.unit ? r.unit.name : "（单位不明）"} 退回 returned ${fmtTime(r.at)}：${r.reason || ""}${r.by ? ` · ${r.by}` : ""}`),
      ),
    ),
    forms.length ? h("div", { class: "decisions" }, forms) : h("p", { class: "muted" }, "不在你的权限内 Not yours to review."),
  );
}

function rulingItem(ruling) {
  let action;
  if (ruling.dispatch_rule_id) {
    action = h("p", { class: "ok" }, `已生成派遣规则 #${ruling.dispatch_rule_id} Dispatch rule made`);
  } else {
    const form = h(
      "form",
      { class: "stack", dataset: { ruling: ruling.id } },
      h(
        "label",
        {},
        "规则范围 Applies to",
        h("select", { name: "area" }, AREAS.map(([value, text]) => h("option", { value }, text))),
      ),
      h("button", { type: "submit" }, "生成派遣规则 Make dispatch rule"),
      h("p", { class: "error", role: "alert", hidden: true }),
    );
    action = panel.submitter(form, async (body) => {
      const made = await api(`/api/rulings/${ruling.id}/dispatch-rule`, { method: "POST", json: body });
      return `已生成派遣规则 Rule made #${made.rule.id}：${made.rule.name}`;
    });
  }
  return h(
    "li",
    { class: "review-item", dataset: { ruling: ruling.id } },
    h(
      "div",
      { class: "event-head" },
      h("span", { class: "code" }, `裁定 #${ruling.id}`),
      h("span", {}, ruling.event_code),
      h("span", {}, `${ruling.category} · ${ruling.community || ruling.street || ruling.district_code}`),
    ),
    h("div", { class: "said" }, `由 ${ruling.unit.name} 主办 leads：${ruling.reasoning}`),
    h(
      "div",
      { class: "event-meta muted" },
      `争议单位 Disputing: ${ruling.units.map((u) => u.name).join("、")} · ${ruling.ruled_by || ""} ${fmtTime(ruling.ruled_at)}`,
    ),
    action,
  );
}

const panel = tabbedPanel(
  "review",
  {
    returns: { load: () => api("/api/returns"), render: returnItem, empty: "没有待审核的退回 No returned case waits." },
    rulings: { load: () => api("/api/rulings"), render: rulingItem, empty: "还没有裁定 No ruling yet." },
  },
  { numbers: ["unit_id"] },
);
panel.load();
