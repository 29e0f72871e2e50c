/* gridgov 楼盘表: opening a room shows its residents (masked, fetched from the residents route
   with the page session, so the page itself never holds a name) and the building's open events. */
(function () {
  "use strict";
  var sheet = document.getElementById("bt-sheet");
  var title = document.getElementById("bt-sheet-title");
  var facts = document.getElementById("bt-sheet-facts");
  var people = document.getElementById("bt-sheet-residents");
  var history = document.getElementById("bt-sheet-history");
  var events = document.getElementById("bt-sheet-events");
  var opened = null;

  function text(tag, value, cls) {
    var el = document.createElement(tag);
    el.textContent = value === null || value === undefined ? "" : String(value);
    if (cls) el.className = cls;
    return el;
  }

  function personList(items, cls) {
    var list = document.createElement("ul");
    list.className = "bt-people " + cls;
    items.forEach(function (r) {
      var item = document.createElement("li");
      var sex = r.sex === "male" ? "男" : r.sex === "female" ? "女" : "";
      var age = r.age !== null && r.age !== undefined ? r.age + "岁" : "";
      item.appendChild(text("b", r.name));
      item.appendChild(text("span", " " + [sex + age, r.residence_type_label, r.relation_to_head]
        .filter(Boolean).join(" · ")));
      item.appendChild(text("small", [r.doc_masked, r.phone_masked].filter(Boolean).join(" · ")));
      list.appendChild(item);
    });
    return list;
  }

  // Those living here now, masked.
  function showResidents(page) {
    people.textContent = "";
    people.className = "";
    if (page.items.length) people.appendChild(personList(page.items, "bt-current"));
    else people.appendChild(text("div", "无在住人员 nobody lives here now", "bt-note"));
    if (page.total > page.items.length) {
      people.appendChild(text("div", "另有 " + (page.total - page.items.length) + " 人未列出 more not shown", "bt-note"));
    }
  }

  // The room's history: stays that have ended, newest first.
  function showHistory(stays) {
    history.textContent = "";
    history.className = "";
    var ended = stays.filter(function (s) { return s.moved_out; });
    if (!ended.length) {
      history.appendChild(text("div", "无迁出记录 nobody has moved out", "bt-note"));
      return;
    }
    var list = document.createElement("ul");
    list.className = "bt-people bt-former";
    ended.forEach(function (s) {
      var item = document.createElement("li");
      item.appendChild(text("b", s.name));
      item.appendChild(text("span", " " + s.residence_type_label));
      item.appendChild(text("small", s.moved_in + " → " + s.moved_out + (s.reason ? " · " + s.reason : "")));
      list.appendChild(item);
    });
    history.appendChild(list);
  }

  function fetchJson(url) {
    return fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        return response.json().then(function (body) {
          if (!response.ok) throw new Error((body.error && body.error.message) || "无法读取 could not load");
          return body;
        });
      });
  }

  function load(code) {
    [people, history].forEach(function (box) {
      box.className = "bt-note";
      box.textContent = "加载中 loading…";
    });
    var house = encodeURIComponent(code);
    var failed = function (box) {
      return function (error) {
        if (opened !== code) return;
        box.className = "bt-note";
        box.textContent = error instanceof TypeError ? "网络错误，请重试 network error, try again" : error.message;
      };
    };
    fetchJson("/api/residents?page_size=100&house=" + house)
      .then(function (page) { if (opened === code) showResidents(page); })
      .catch(failed(people));
    fetchJson("/api/houses/" + house + "/residences")
      .then(function (stays) { if (opened === code) showHistory(stays); })
      .catch(failed(history));
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
