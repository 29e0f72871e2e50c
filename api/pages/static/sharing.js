// 共享授权 Data sharing (admins): the grant form builds the fields of the chosen dataset and posts
// the grant as JSON to /api/shared/grants; each live grant's 撤销 button revokes it. The page
// reloads to show the record as the server keeps it.
import { $, api, clearError, h, showError } from "./common.js";

const catalogue = JSON.parse($("#catalogue").textContent);
const form = $("#grant-form");
const error = form.querySelector("p.error");

function showFields() {
  const dataset = catalogue.find((d) => d.dataset === form.elements.dataset.value);
  const byCategory = dataset.dataset === "events_by_category";
  $("#categories-label").hidden = !byCategory;
  $("#field-list").replaceChildren(
    ...dataset.fields.map((f) =>
      h(
        "label",
        { class: "field" },
        h("input", { type: "checkbox", name: "field", value: f.name }),
        h("span", {}, f.label),
        f.personal
          ? h(
              "select",
              { name: `mode-${f.name}`, "aria-label": `${f.label} 显示方式` },
              h("option", { value: "masked" }, "脱敏 masked"),
              h("option", { value: "clear" }, "明文 clear"),
            )
          : null,
      ),
    ),
  );
}

form.elements.dataset.addEventListener("change", showFields);
showFields();

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  clearError(error, form);
  const fields = {};
  for (const box of form.querySelectorAll("input[name=field]:checked")) {
    const mode = form.elements[`mode-${box.value}`];
    fields[box.value] = mode ? mode.value : "masked";
  }
  const body = {
    department_id: Number(form.elements.department_id.value),
    dataset: form.elements.dataset.value,
    fields,
    area_code: form.elements.area_code.value.trim(),
    purpose: form.elements.purpose.value.trim(),
  };
  if (!$("#categories-label").hidden) {
    body.categories = form.elements.categories.value.split(/[\s,，、]+/).filter(Boolean);
  }
  try {
    if (!body.department_id) throw { message: "请选择部门 Choose the department.", field: "department_id" };
    if (!Object.keys(fields).length) throw { message: "至少选一个字段 Choose at least one field." };
    if (!body.area_code) throw { message: "请填写范围 Give the area (admin or grid code).", field: "area_code" };
    if (!body.purpose) throw { message: "请填写用途 Say what the data is for.", field: "purpose" };
    await api("/api/shared/grants", { method: "POST", json: body });
    window.location.reload();
  } catch (failure) {
    showError(error, failure, form);
  }
});

for (const button of document.querySelectorAll("button.revoke")) {
  button.addEventListener("click", async () => {
    if (!window.confirm(`撤销授权 #${button.dataset.grant}？Revoke grant #${button.dataset.grant}?`)) return;
    try {
      await api(`/api/shared/grants/${button.dataset.grant}/revoke`, { method: "POST" });
      window.location.reload();
    } catch (failure) {
      showError(error, failure);
    }
  });
}

document.body.dataset.ready = "true";
