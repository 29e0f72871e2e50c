// /console 答复/回访 panel (command centre): write and send the reply to the caller of a verified
// citizen case, record callbacks (满意 / 基本满意 / 不满意 / 未接通), and review cases twice not
// satisfied. The caller's phone stays masked; showing it is the intake's logged unmask request.
import { $, api, deadlineBadge, fmtTime, h, lightDot, statusBadge, tabbedPanel } from "./common.js";

const CHANNELS = [
  ["phone", "电话 Phone"],
  ["sms", "短信 SMS"],
  ["letter", "书面 Letter"],
  ["web_app", "网站·APP Web/app"],
  ["in_person", "当面 In person"],
];
const OUTCOMES = [
  ["satisfied", "满意 Satisfied"],
  ["fairly_satisfied", "基本满意 Fairly satisfied"],
  ["dissatisfied", "不满意 Not satisfied (重办)"],
  ["no_answer", "未接通 No answer"],
];
function unmaskLink(code) {
  const shown = h("span", { class: "muted" });
  const button = h("button", { type: "button", class: "linklike" }, "查看号码 Show number");
  button.addEventListener("click", async () => {
    const reason = window.prompt("查看来电号码的理由（将记录）Reason to show the number (logged):", "回访");
    if (!reason) return;
    try {
      const body = await api(`/api/events/${encodeURIComponent(code)}/contact/unmask`, { method: "POST", json: { reason } });
      shown.textContent = [body.caller_name, body.caller_phone].filter(Boolean).join(" ") || "（未留电话）";
    } catch (failure) {
      shown.textContent = failure.message || String(failure);
    }
  });
  return [button, shown];
}

function replyItem(item) {
  const form = h(
    "form",
    { class: "stack", dataset: { code: item.code } },
    h("label", {}, "答复内容 Reply to the caller", h("textarea", { name: "reply", rows: 3, maxlength: 4000, required: true })),
    h(
      "div",
      { class: "form-row" },
      h(
        "label",
        {},
        "答复方式 Channel",
        h("select", { name: "reply_channel", required: true }, CHANNELS.map(([value, text]) => h("option", { value }, text))),
      ),
      h("button", { type: "submit" }, "发送答复并结案 Send reply"),
    ),
    h("p", { class: "error", role: "alert", hidden: true }),
  );
  panel.submitter(form, async (body) => {
    await api(`/api/events/${encodeURIComponent(item.code)}/reply`, { method: "POST", json: body });
    return `已答复 Replied: ${item.code}`;
  });
  return h(
    "li",
    { class: "reply-item", dataset: { code: item.code } },
    h("div", { class: "event-head" }, lightDot(item.light), h("span", { class: "code" }, item.code), statusBadge(item.status, item.status_label), h("span", {}, item.category_name || item.category)),
    h("div", { class: "event-text" }, item.description),
    h(
      "div",
      { class: "event-meta muted" },
      item.stage_deadline ? [`答复期限 Reply due ${fmtTime(item.stage_deadline)} · `, deadlineBadge(item)] : "",
      item.unit ? ` · ${item.unit.name}` : "",
    ),
    form,
  );
}

function attemptsText(item) {
  if (!item.attempt_log.length) return null;
  return h(
    "ol",
    { class: "attempts muted" },
    item.attempt_log.map((a) => h("li", {}, `${fmtTime(a.at)} ${a.outcome_label}${a.note ? `：${a.note}` : ""}${a.actor ? ` · ${a.actor}` : ""}`)),
  );
}

function callerLine(item) {
  return h(
    "div",
    { class: "caller" },
    h("span", {}, `来电人 Caller: ${item.contact_masked || "（无号码 no number）"}`),
    item.contact_masked ? unmaskLink(item.event_code) : null,
  );
}

function caseHead(item) {
  return [
    h(
      "div",
      { class: "event-head" },
      lightDot(item.light),
      h("span", { class: "code" }, item.event_code),
      h("span", { class: "status" }, item.status_label),
      h("span", {}, `${item.source_label} · ${item.category_name}`),
      item.round > 1 ? h("span", { class: "muted" }, `第${item.round}次回访 round ${item.round}`) : null,
    ),
    h("div", { class: "event-text" }, item.description),
    item.reply ? h("div", { class: "said" }, `答复 Reply（${fmtTime(item.replied_at)}）：${item.reply}`) : null,
  ];
}

function callbackItem(item) {
  const form = h(
    "form",
    { class: "stack", dataset: { code: item.event_code } },
    h(
      "fieldset",
      { class: "outcomes" },
      h("legend", {}, "回访结果 Outcome"),
      OUTCOMES.map(([value, text], i) =>
        h("label", { class: "check" }, h("input", { type: "radio", name: "outcome", value, checked: i === 0 }), text),
      ),
    ),
    h(
      "div",
      { class: "form-row" },
      h("label", {}, "来电人意见 What the caller said（不满意必填 needed for 不满意）", h("input", { name: "note", maxlength: 2000 })),
      h("button", { type: "submit" }, "记录回访 Record"),
    ),
    h("p", { class: "error", role: "alert", hidden: true }),
  );
  panel.submitter(form, async (body) => {
    const row = await api(`/api/events/${encodeURIComponent(item.event_code)}/callbacks`, { method: "POST", json: body });
    const next = row.event_status === "signed" ? " · 已重办 reopened to the unit" : row.status === "review" ? " · 转复核 sent to review" : "";
    return `已记录 Recorded: ${item.event_code} ${row.satisfaction_label || row.status_label}${next}`;
  });
  return h(
    "li",
    { class: "reply-item", dataset: { code: item.event_code } },
    caseHead(item),
    h(
      "div",
      { class: "event-meta muted" },
      `回访期限 Due ${fmtTime(item.due_at)}${item.time_left ? ` · ${item.time_left}` : ""} · 已拨 ${item.attempts}/3 attempts`,
      item.unit ? ` · ${item.unit}` : "",
    ),
    callerLine(item),
    attemptsText(item),
    form,
  );
}

function reviewItem(item) {
  const form = h(
    "form",
    { class: "stack" },
    h(
      "div",
      { class: "form-row" },
      h("label", {}, "复核意见 Review finding", h("input", { name: "note", maxlength: 2000, required: true })),
      h("button", { type: "submit" }, "完成复核 Reviewed"),
    ),
    h("p", { class: "error", role: "alert", hidden: true }),
  );
  panel.submitter(form, async (body) => {
    await api(`/api/callbacks/${item.id}/review`, { method: "POST", json: body });
    return `已复核 Reviewed: ${item.event_code}`;
  });
  return h(
    "li",
    { class: "reply-item", dataset: { code: item.event_code } },
    caseHead(item),
    h("div", { class: "said" }, `不满意 Not satisfied（${fmtTime(item.ended_at)}）：${item.note || ""}`),
    callerLine(item),
    form,
  );
}

async function replies() {
  // A verified citizen's case waits in the reply stage (答复); other cases close at once.
  const page = await api("/api/events?status=verified&sort=deadline&page_size=100");
  return (page.items || []).filter((item) => item.stage === "reply");
}

const panel = tabbedPanel(
  "reply",
  {
    replies: { load: replies, render: replyItem, empty: "没有待答复的案件 No case waits for a reply." },
    callbacks: {
      load: () => api(`/api/callbacks?due=${encodeURIComponent($("#reply-due").value)}`),
      count: () => api("/api/callbacks?due=all"),
      render: callbackItem,
      empty: "没有待回访的任务 No callback due.",
    },
    reviews: { load: () => api("/api/callbacks/reviews"), render: reviewItem, empty: "没有待复核的案件 Nothing to review." },
  },
  { onView: (view) => ($("#reply-due-filter").hidden = view !== "callbacks") },
);
$("#reply-due").addEventListener("change", panel.load);
panel.load();
