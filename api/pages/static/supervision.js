// /console 督办单 panel: a unit's dispatchers answer the supervision orders addressed to their
// unit before the reply deadline (its light shows how much time is left); the command centre
// issues orders, lifts listed ones (摘牌) and records 约谈/通报 against a unit.
import { $, api, fmtTime, h, lightDot, tabbedPanel } from "./common.js";

const COMMAND = ["command", "admin"].includes($("#supervision-panel").dataset.role);
const SANCTIONS = [
  ["interview", "约谈 Interview"],
  ["notice", "通报 Public notice"],
];

function small(label, field, button, attrs = {}) {
  return h(
    "div",
    { class: "form-row" },
    h("label", {}, label, h("input", { name: field, maxlength: 2000, required: true, ...attrs })),
    h("button", { type: "submit" }, button),
  );
}

function replyForm(order) {
  const form = h(
    "form",
    { class: "stack reply", dataset: { order: order.id } },
    h("label", {}, "督办回复 Reply: what was done, when it ends", h("textarea", { name: "reply", rows: 2, maxlength: 4000, required: true })),
    h("div", { class: "form-row" }, h("button", { type: "submit" }, "提交回复 Send reply")),
    h("p", { class: "error", role: "alert", hidden: true }),
  );
  return panel.submitter(form, async (body) => {
    const row = await api(`/api/supervision/${order.id}/reply`, { method: "POST", json: body });
    return `已回复 Replied: 督办单 ${row.id}${row.replied_on_time ? "" : "（逾期 late）"}`;
  });
}

function liftForm(order) {
  const form = h("form", { class: "stack lift" }, small("摘牌理由 Why the listing ends", "reason", "摘牌 Lift"), h("p", { class: "error", role: "alert", hidden: true }));
  return panel.submitter(form, async (body) => {
    await api(`/api/supervision/${order.id}/lift`, { method: "POST", json: body });
    return `已摘牌 Lifted: 督办单 ${order.id}`;
  });
}

function sanctionForm(order) {
  const form = h(
    "form",
    { class: "stack sanction" },
    h(
      "div",
      { class: "form-row" },
      h("label", {}, "对单位 Against the unit", h("select", { name: "kind" }, SANCTIONS.map(([value, text]) => h("option", { value }, text)))),
      h("label", {}, "理由 Reason", h("input", { name: "reason", maxlength: 2000, required: true })),
      h("button", { type: "submit", class: "secondary" }, "记录 Record"),
    ),
    h("p", { class: "error", role: "alert", hidden: true }),
  );
  return panel.submitter(form, async (body) => {
    await api("/api/supervision/sanctions", { method: "POST", json: { ...body, unit_id: order.unit.id, order_id: order.id } });
    return `已记录 Recorded against ${order.unit.name}`;
  });
}

function deadlineLine(order) {
  if (order.status === "open") {
    return h("span", { class: order.light === "red" ? "late" : "" }, `回复时限 Reply by ${fmtTime(order.reply_deadline)}${order.time_left ? ` · ${order.time_left}` : ""}`);
  }
  return h("span", {}, `回复时限 Reply by ${fmtTime(order.reply_deadline)}`);
}

function orderItem(order) {
  const replied = order.reply
    ? h(
        "div",
        { class: "said" },
        `督办回复 Reply（${fmtTime(order.replied_at)}${order.replied_by ? ` · ${order.replied_by}` : ""}）：${order.reply}`,
        order.replied_on_time === false ? h("span", { class: "late" }, " 逾期 late") : null,
      )
    : null;
  return h(
    "li",
    { class: "order", dataset: { order: order.id, level: order.level } },
    h(
      "div",
      { class: "order-head" },
      order.status === "open" ? lightDot(order.light) : null,
      h("span", { class: `level ${order.level}` }, order.level_label),
      h("span", { class: "code" }, `督办单 ${order.id}`),
      h("a", { href: `/console?event=${encodeURIComponent(order.event_code)}` }, order.event_code),
      h("span", { class: "status" }, order.status_label),
      order.escalated_to_leader_at ? h("span", { class: "late" }, "已报领导 Escalated") : null,
    ),
    h("div", { class: "event-meta muted" }, `${order.unit.name} · ${order.category} · 案件${order.event_status_label} · ${order.automatic ? "系统自动 automatic" : order.issued_by || ""} ${fmtTime(order.issued_at)}`),
    h("div", { class: "demand" }, `督办要求 Demand：${order.demand}`),
    h("div", { class: "event-meta" }, deadlineLine(order)),
    replied,
    order.lifted_at ? h("div", { class: "said" }, `已摘牌 Lifted（${fmtTime(order.lifted_at)} · ${order.lifted_by || ""}）：${order.lift_reason || ""}`) : null,
    order.can_reply ? replyForm(order) : null,
    order.can_lift ? liftForm(order) : null,
    COMMAND ? sanctionForm(order) : null,
  );
}

function sanctionItem(row) {
  return h(
    "li",
    { class: "order" },
    h("div", { class: "order-head" }, h("span", { class: "level listed" }, row.kind_label), h("b", {}, row.unit.name), h("span", { class: "muted" }, `${fmtTime(row.at)} · ${row.by || ""}`)),
    h("div", { class: "said" }, row.reason),
    row.event_code ? h("div", { class: "muted" }, `案件 ${row.event_code}${row.order_id ? ` · 督办单 ${row.order_id}` : ""}`) : null,
  );
}

/** The rows of `path`, those `keep` says to keep. */
function rows(path, keep = () => true) {
  return async () => (await api(path)).filter(keep);
}

const panel = tabbedPanel("supervision", {
  open: { load: rows("/api/supervision?status=open"), render: orderItem, empty: "没有待回复的督办单 No order waits for a reply." },
  escalated: {
    load: rows("/api/supervision?status=open&escalated=true"),
    render: orderItem,
    empty: "没有逾期未回复的督办单 No order is unanswered past its deadline.",
  },
  listed: { load: rows("/api/supervision?level=listed", (order) => !order.lifted_at), render: orderItem, empty: "没有挂牌督办的案件 No case is listed." },
  all: { load: rows("/api/supervision"), render: orderItem, empty: "没有督办单 No orders." },
  sanctions: { load: rows("/api/supervision/sanctions"), render: sanctionItem, empty: "没有约谈或通报记录 No interview or notice recorded." },
});
const issue = $("#supervision-issue-form");
if (issue) {
  panel.submitter(issue, async (body) => {
    const row = await api("/api/supervision", { method: "POST", json: body });
    return `已下发 Issued: 督办单 ${row.id} ${row.level_label} → ${row.unit.name}`;
  });
}
panel.load();
