/* gridgov 楼盘表: opening a room shows its residents (masked, fetched from the residents route
   with the page session, so the page itself never holds a name) and the building's open events. */
(function () {
  "use strict";
  var sheet = document.getElementById("bt-sheet");
  var title = document.getElementById("bt-sheet-title");
  var facts = document.getElementById("bt-sheet-facts");
  var people = document.getElementById("bt-sheet-residents");
  var events = document.getElementById("bt-sheet-events");
  var opened = null;

  function text(tag, value, cls) {
    var el = document.createElement(tag);
    el.textContent = value === null || value === undefined ? "" : String(value);
    if (cls) el.className = cls;
    return el;
  }

  function showResidents(page) {
    people.textContent = "";
    people.className = "";
    if (!page.items.length) {
      people.appendChild(text("div", "无在住人员 nobody registered here", "bt-note"));
      return;
    }
    var list = document.createElement("ul");
    list.className = "bt-people";
    page.items.forEach(function (r) {
      var item = document.createElement("li");
      var sex = r.sex === "male" ? "男" : r.sex === "female" ? "女" : "";
      var age = r.age !== null && r.age !== undefined ? r.age + "岁" : "";
      item.appendChild(text("b", r.name));
      item.appendChild(text("span", " " + [sex + age, r.residence_type_label, r.relation_to_head]
        .filter(Boolean).join(" · ")));
      item.appendChild(text("small", [r.doc_masked, r.phone_masked].filter(Boolean).join(" · ")));
      list.appendChild(item);
    });
    people.appendChild(list);
    if (page.total > page.items.length) {
      people.appendChild(text("div", "另有 " + (page.total - page.items.length) + " 人未列出 more not shown", "bt-note"));
    }
  }

  function load(code) {
    people.className = "bt-note";
    people.textContent = "加载中 loading…";
    var url = "/api/residents?page_size=100&house=" + encodeURIComponent(code);
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        return response.json().then(function (body) { return { ok: response.ok, body: body }; });
      })
      .then(function (answer) {
        if (opened !== code) return;
        if (answer.ok) showResidents(answer.body);
        else people.textContent = (answer.body.error && answer.body.error.message) || "无法读取住户 could not load";
      })
      .catch(function () {
        if (opened === code) people.textContent = "网络错误，请重试 network error, try again";
      });
  }

  function open(button) {
    var code = button.getAttribute("data-code");
    if (opened) close();
    opened = code;
    button.classList.add("bt-open");
    var parts = code.split("-");
    title.textContent = parts[parts.length - 2] + "单元 " + parts[parts.length - 1];
    facts.textContent = code + " · " + button.getAttribute("data-facts");
    events.textContent = "";
    events.appendChild(document.getElementById("bt-event-list").cloneNode(true)).removeAttribute("id");
    sheet.hidden = false;
    load(code);
    document.getElementById("bt-close").focus();
  }

  function close() {
    var current = document.querySelector(".bt-room.bt-open");
    sheet.hidden = true;
    opened = null;
    if (current) {
      current.classList.remove("bt-open");
      current.focus();
    }
  }

  document.addEventListener("click", function (event) {
    var room = event.target.closest(".bt-room");
    if (room) open(room);
    else if (event.target === sheet || event.target.id === "bt-close") close();
  });
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && !sheet.hidden) close();
  });
  window.gridgovBuilding = { open: open, close: close };
})();
