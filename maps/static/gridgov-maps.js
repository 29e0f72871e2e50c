/* gridgov map dashboards: draws the compact layers of maps/layers.py on a folium map.
 * Data are columnar (one array per property) with polyline-encoded rings; see maps/encode.py.
 * Everything is reachable from window.gridgov (maps, layers, data) for tests and tools. */
(function () {
  "use strict";
  var G = (window.gridgov = window.gridgov || { layers: {}, data: {}, exported: false });

  G.esc = function (value) {
    return String(value === null || value === undefined ? "" : value).replace(
      /[&<>"']/g,
      function (c) {
        return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
      }
    );
  };

  // Google's encoded polyline algorithm: lat/lon deltas, 5 bits per character.
  G.decodeRing = function (text, factor) {
    var points = [], index = 0, lat = 0, lng = 0;
    while (index < text.length) {
      var b, shift = 0, result = 0;
      do {
        b = text.charCodeAt(index++) - 63;
        result |= (b & 31) << shift;
        shift += 5;
      } while (b >= 32);
      lat += result & 1 ? ~(result >> 1) : result >> 1;
      shift = 0;
      result = 0;
      do {
        b = text.charCodeAt(index++) - 63;
        result |= (b & 31) << shift;
        shift += 5;
      } while (b >= 32);
      lng += result & 1 ? ~(result >> 1) : result >> 1;
      points.push([lat / factor, lng / factor]);
    }
    return points;
  };

  // Polygons joined by ",", rings of a polygon by " ": Leaflet's multipolygon nesting.
  G.decodeGeom = function (text, factor) {
    if (!text) return [];
    return text.split(",").map(function (polygon) {
      return polygon.split(" ").map(function (ring) {
        return G.decodeRing(ring, factor);
      });
    });
  };

  G.fmt = function (value, unit) {
    if (value === null || value === undefined) return "无数据";
    var shown = Number.isInteger(value) ? value.toLocaleString("zh-CN") : value.toFixed(1);
    return unit ? shown + " " + unit : shown;
  };

  // Drill down: the page for another area, keeping the other choices (period, measure …).
  G.areaUrl = function (code) {
    var url = new URL(window.location.href);
    if (code) url.searchParams.set("area", code);
    else url.searchParams.delete("area");
    return url.pathname + url.search;
  };

  G.drill = function (code, layer) {
    if (layer && layer.getBounds) G.map.fitBounds(layer.getBounds(), { maxZoom: 17 });
    if (!G.exported && code) window.location.href = G.areaUrl(code);
  };

  G.setParam = function (name, value) {
    if (G.exported || !window.history.replaceState) return;
    var url = new URL(window.location.href);
    url.searchParams.set(name, value);
    window.history.replaceState(null, "", url.pathname + url.search);
  };

  function register(options, map, group) {
    G.map = map;
    G.layers[options.id] = group;
    return group;
  }

  G.outlines = function (data, options, map) {
    var factor = Math.pow(10, data.p), group = L.featureGroup();
    // Leaflet's canvas hit test ignores `fill: false`: a bare outline would swallow every
    // click and tooltip meant for the grids under it, so outlines are not interactive.
    var interactive = options.style.fill !== false;
    data.k.forEach(function (code, i) {
      var style = L.extend({ interactive: interactive }, options.style);
      var polygon = L.polygon(G.decodeGeom(data.g[i], factor), style);
      polygon.feature = { properties: { code: code, name: data.n[i] } };
      if (interactive) polygon.bindTooltip(G.esc(data.n[i]), { sticky: true });
      if (interactive && options.link && !G.exported) {
        polygon.bindPopup(function () {
          return "<div class='gg-popup'><b>" + G.esc(data.n[i]) + "</b><br><a href='" +
            G.esc(options.link.replace("{code}", encodeURIComponent(code))) + "'>楼盘表 open →</a></div>";
        });
      }
      if (options.drill) {
        polygon.on("click", function () {
          G.drill(code, polygon);
        });
      }
      group.addLayer(polygon);
    });
    return register(options, map, group);
  };

  // Five classes at the quintiles of the values (fewer when values repeat).
  function breaksOf(values) {
    var sorted = values.filter(function (v) { return v !== null; }).sort(function (a, b) { return a - b; });
    var unique = sorted.filter(function (v, i) { return i === 0 || v !== sorted[i - 1]; });
    if (unique.length <= 5) return unique.slice(0, -1);
    var breaks = [];
    [0.2, 0.4, 0.6, 0.8].forEach(function (q) {
      var v = sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
      if (breaks.indexOf(v) < 0 && v < sorted[sorted.length - 1]) breaks.push(v);
    });
    return breaks;
  }

  var BAD_HIGH = ["#ffffb2", "#fecc5c", "#fd8d3c", "#f03b20", "#bd0026"];
  var GOOD_HIGH = ["#d7191c", "#fdae61", "#ffffbf", "#a6d96a", "#1a9641"];
  var NO_DATA = "#d0d3d8";

  function paletteFor(meta, classes) {
    var ramp = meta.good_high ? GOOD_HIGH : BAD_HIGH;
    if (classes >= ramp.length) return ramp;
    // Spread fewer classes over the whole ramp so the extremes keep their meaning.
    var out = [];
    for (var i = 0; i < classes; i++) {
      out.push(ramp[classes === 1 ? ramp.length - 1 : Math.round((i * (ramp.length - 1)) / (classes - 1))]);
    }
    return out;
  }

  // Comma-separated integers (empty: no value) divided by `scale`.
  G.numbers = function (text, scale) {
    if (text === "") return [];
    return text.split(",").map(function (v) { return v === "" ? null : Number(v) / scale; });
  };

  // The compact grid data of maps/layers.py made plain: codes, names, measure arrays.
  function unpackGrids(data) {
    var code = 0;
    data.k = data.kd.map(function (delta) { code += delta; return String(code); });
    data.n = data.n.map(function (name, i) {
      if (name !== 0) return name;
      var c = data.k[i];
      return (data.a[c.slice(0, 12)] || "") + "第" + Number(c.slice(12)) + "网格";
    });
    Object.keys(data.m).forEach(function (key) {
      data.m[key] = G.numbers(data.m[key], data.ms[key]);
    });
    return data;
  }

  G.choropleth = function (data, options, map) {
    unpackGrids(data);
    var factor = Math.pow(10, data.p), group = L.featureGroup(), polygons = [];
    var metaOf = {}, index = {};
    options.measures.forEach(function (m) { metaOf[m.key] = m; });
    var state = { measure: options.measure, breaks: [], palette: [] };
    G.data.grids = data;
    G.choroplethState = state;
    G.valueOf = function (code, key) {
      return data.m[key || state.measure][index[code]];
    };

    function classOf(value) {
      if (value === null || value === undefined) return -1;
      for (var i = 0; i < state.breaks.length; i++) if (value <= state.breaks[i]) return i;
      return state.breaks.length;
    }
    function colour(value) {
      var c = classOf(value);
      return c < 0 ? NO_DATA : state.palette[c];
    }
    function rows(i) {
      return options.measures
        .map(function (m) {
          var strong = m.key === state.measure ? ' class="gg-current"' : "";
          return "<tr" + strong + "><th>" + G.esc(m.label) + "</th><td>" +
            G.esc(G.fmt(data.m[m.key][i], m.unit)) + "</td></tr>";
        })
        .join("");
    }
    function popup(i) {
      var code = data.k[i], street = code.slice(0, 9) + "000", community = code.slice(0, 12);
      var links = [[code, "进入本网格"], [community, data.a[community] || community],
        [street, data.a[street] || street]];
      var html = "<div class='gg-popup'><b>" + G.esc(data.n[i]) + "</b> <small>" + code +
        "</small><table>" + rows(i) + "</table>";
      if (!G.exported) {
        html += "<div class='gg-drill'>下钻 drill down: " + links.map(function (l) {
          return "<a href='" + G.esc(G.areaUrl(l[0])) + "'>" + G.esc(l[1]) + "</a>";
        }).join(" · ") + "</div>";
      }
      return html + "</div>";
    }

    data.k.forEach(function (code, i) {
      index[code] = i;
      var polygon = L.polygon(G.decodeGeom(data.g[i], factor), {
        color: "#5b6470", weight: 0.6, fillOpacity: 0.72, fillColor: NO_DATA,
      });
      polygon.feature = { properties: { code: code } };
      polygon.bindTooltip(function () {
        var m = metaOf[state.measure];
        return "<b>" + G.esc(data.n[i]) + "</b><br>" + G.esc(m.label) + ": " +
          G.esc(G.fmt(data.m[m.key][i], m.unit));
      }, { sticky: true });
      polygon.bindPopup(function () { return popup(i); }, { maxWidth: 320 });
      polygon.on("click", function () {
        if (!G.picking) map.fitBounds(polygon.getBounds(), { maxZoom: 17 });
      });
      polygons.push(polygon);
      group.addLayer(polygon);
    });

    var legend = L.control({ position: "bottomleft" });
    legend.onAdd = function () {
      this._div = L.DomUtil.create("div", "gg-legend");
      return this._div;
    };
    legend.update = function () {
      var m = metaOf[state.measure], b = state.breaks, html = "<b>" + G.esc(m.label) +
        "</b> <small>" + G.esc(m.unit) + "</small>";
      state.palette.forEach(function (c, i) {
        var label = b.length === 0 ? "全部 " + G.fmt(data.m[m.key].find(function (v) { return v !== null; }))
          : i === 0 ? "≤ " + G.fmt(b[0])
          : i === b.length ? "> " + G.fmt(b[b.length - 1])
          : G.fmt(b[i - 1]) + " – " + G.fmt(b[i]);
        html += "<div><i style='background:" + c + "'></i>" + G.esc(label) + "</div>";
      });
      html += "<div><i style='background:" + NO_DATA + "'></i>无数据</div>";
      this._div.innerHTML = html;
    };

    var selector = L.control({ position: "topleft" });
    selector.onAdd = function () {
      var div = L.DomUtil.create("div", "gg-selector");
      var select = L.DomUtil.create("select", "", div);
      select.id = "gg-measure";
      select.title = "专题指标 measure";
      options.measures.forEach(function (m) {
        var option = L.DomUtil.create("option", "", select);
        option.value = m.key;
        option.textContent = m.label;
        if (m.key === state.measure) option.selected = true;
      });
      L.DomEvent.disableClickPropagation(div);
      L.DomEvent.on(select, "change", function () { G.setMeasure(select.value); });
      return div;
    };

    G.setMeasure = function (key) {
      if (!metaOf[key]) return;
      state.measure = key;
      var values = data.m[key];
      state.breaks = breaksOf(values);
      var defined = values.some(function (v) { return v !== null; });
      state.palette = defined ? paletteFor(metaOf[key], state.breaks.length + 1) : [];
      polygons.forEach(function (polygon, i) {
        polygon.setStyle({ fillColor: colour(values[i]) });
      });
      if (legend._div) legend.update();
      var select = document.getElementById("gg-measure");
      if (select) select.value = key;
      var field = document.getElementById("gg-measure-field");
      if (field) field.value = key;
      G.setParam("measure", key);
    };

    legend.addTo(map);
    selector.addTo(map);
    G.setMeasure(state.measure);
    return register(options, map, group);
  };

  var LIGHTS = { green: "#1a9641", yellow: "#f5b800", red: "#d7191c" };
  var LIGHT_NAMES = { green: "绿灯", yellow: "黄灯", red: "红灯" };

  G.events = function (data, options, map) {
    var group = L.featureGroup();
    data.k.forEach(function (code, i) {
      var fill = options.color || LIGHTS[data.l[i]] || "#777";
      var marker = L.circleMarker([data.y[i], data.x[i]], {
        radius: 6, color: "#ffffff", weight: 1.2, fillColor: fill, fillOpacity: 0.95,
      });
      marker.feature = { properties: { code: code, light: data.l[i] } };
      marker.bindPopup(function () {
        var html = "<div class='gg-popup'><b>" + G.esc(code) + "</b><br>" +
          G.esc(data.cl[data.c[i]]) + "<br>" + (data.ul[data.u[i]] ? "承办 " + G.esc(data.ul[data.u[i]]) + "<br>" : "") +
          G.esc(data.s[i]) + (data.l[i] ? " · " + LIGHT_NAMES[data.l[i]] : "") +
          (data.d[i] ? "<br>时限 " + G.esc(data.d[i]) : "") +
          (data.t && data.t[i] ? "<br><b class='" + (data.l[i] === "red" ? "gg-red" : "") + "'>" + G.esc(data.t[i]) + "</b>" :
            data.h[i] !== null ? "<br><b class='gg-red'>超期 " + G.fmt(data.h[i]) + " 小时</b>" : "");
        if (options.link && !G.exported) {
          html += "<br><a href='" + G.esc(options.link.replace("{code}", encodeURIComponent(code))) +
            "'>查看事件 open →</a>";
        }
        return html + "</div>";
      });
      group.addLayer(marker);
    });
    return register(options, map, group);
  };

  var DEVICE_STATES = {
    normal: ["正常", "#2b83ba"], breaking: ["超阈值", "#fdae61"],
    alarm: ["报警", "#d7191c"], offline: ["离线", "#666666"],
  };

  G.devices = function (data, options, map) {
    var group = L.featureGroup();
    data.k.forEach(function (code, i) {
      var state = DEVICE_STATES[data.s[i]] || DEVICE_STATES.normal;
      var marker = L.circleMarker([data.y[i], data.x[i]], {
        radius: 5, color: state[1], weight: 2.5, fillColor: "#ffffff", fillOpacity: 1,
        dashArray: data.s[i] === "offline" ? "2 2" : null,
      });
      marker.feature = { properties: { code: code, state: data.s[i] } };
      marker.bindPopup(function () {
        var html = "<div class='gg-popup'><b>" + G.esc(data.t[i]) + "</b> " + G.esc(data.n[i]) +
          "<br>" + G.esc(code) + "<br>" + state[0] + (data.v[i] ? " · 读数 " + G.esc(data.v[i]) : "");
        if (data.e[i]) {
          html += "<br>报警事件 " + G.esc(data.e[i]);
          if (options.link && !G.exported) {
            html += " <a href='" + G.esc(options.link.replace("{code}", encodeURIComponent(data.e[i]))) +
              "'>查看 open →</a>";
          }
        }
        return html + "</div>";
      });
      group.addLayer(marker);
    });
    return register(options, map, group);
  };

  // 挂牌督办: cases listed for supervision stay on the map, flagged, until the command centre
  // lifts the listing (摘牌); a legend entry says what the flag means and how many there are.
  G.listed = function (data, options, map) {
    var group = L.featureGroup();
    var icon = L.divIcon({ className: "gg-listed", html: "<span>挂</span>", iconSize: [24, 24], iconAnchor: [12, 24], popupAnchor: [0, -24] });
    data.k.forEach(function (code, i) {
      var marker = L.marker([data.y[i], data.x[i]], { icon: icon, title: "挂牌督办 " + code, zIndexOffset: 1000 });
      marker.feature = { properties: { code: code, replied: data.r[i] } };
      marker.bindPopup(function () {
        var html = "<div class='gg-popup'><b class='gg-red'>挂牌督办</b> " + G.esc(code) + "<br>" +
          G.esc(data.c[i]) + "<br>责任单位 " + G.esc(data.u[i]) + "<br>督办要求 " + G.esc(data.m[i]) +
          "<br>挂牌 " + G.esc(data.i[i]) + " · 回复时限 " + G.esc(data.d[i]) +
          "<br>" + (data.r[i] ? "已回复，待摘牌" : "<b class='gg-red'>未回复</b>") + " · 案件" + G.esc(data.s[i]);
        if (options.link && !G.exported) {
          html += "<br><a href='" + G.esc(options.link.replace("{code}", encodeURIComponent(code))) +
            "'>查看事件 open →</a>";
        }
        return html + "</div>";
      });
      group.addLayer(marker);
    });
    var legend = L.control({ position: "bottomright" });
    legend.onAdd = function () {
      var div = L.DomUtil.create("div", "gg-legend gg-listed-legend");
      div.id = "gg-listed-legend";
      div.innerHTML = "<div><span class='gg-listed gg-listed-key'><span>挂</span></span> 挂牌督办 " +
        data.k.length + " 件 <small>（摘牌前一直显示）</small></div>";
      return div;
    };
    legend.addTo(map);
    map.on("overlayremove", function (e) { if (e.layer === group) legend.remove(); });
    map.on("overlayadd", function (e) { if (e.layer === group) legend.addTo(map); });
    return register(options, map, group);
  };

  G.duplicates = function (data, options, map) {
    var group = L.featureGroup();
    data.k.forEach(function (code, i) {
      var line = L.polyline([data.a[i], data.b[i]], {
        color: data.v[i] ? "#888" : "#7b3294", weight: 2, dashArray: "4 4",
      });
      line.bindTooltip(G.esc(code) + (data.v[i] ? " 已作为重复作废 → " : " 疑似重复 ↔ ") + G.esc(data.o[i]));
      group.addLayer(line);
      group.addLayer(L.circleMarker(data.b[i], { radius: 4, color: "#7b3294", weight: 1, fillOpacity: 0.6 }));
    });
    return register(options, map, group);
  };

  G.heat = function (data, options, map) {
    var counts = G.numbers(data.w, 1), top = Math.max.apply(null, counts.concat([1]));
    var points = G.decodeRing(data.pts, Math.pow(10, data.p)).map(function (latlng, i) {
      return [latlng[0], latlng[1], counts[i] / top];
    });
    var layer = L.heatLayer(points, { radius: 18, blur: 14, max: 1.0, minOpacity: 0.25 });
    G.data.heat = data;
    return register(options, map, layer);
  };

  // The slow part of a panel (KPIs over every event of the period) comes after the map.
  G.loadPanel = function () {
    var box = document.getElementById("gg-kpi-panel");
    if (!box || !box.dataset.src || G.exported) return Promise.resolve(false);
    return fetch(box.dataset.src, { credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.text();
      })
      .then(function (html) {
        box.innerHTML = html;
        box.dataset.loaded = "1";
        return true;
      })
      .catch(function (error) {
        box.innerHTML = "<p class='gg-note'>考核指标暂不可用 KPIs unavailable: " + G.esc(error.message) + "</p>";
        return false;
      });
  };
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", G.loadPanel);
  else window.setTimeout(G.loadPanel, 0);

  // 领导批示: a leader (or the command centre) picks a point or grid on the map and files an
  // instruction there with a note; the server files it as an urgent event (source leader).
  G.setUpInstruction = function () {
    var form = document.getElementById("gg-instruct");
    if (!form || G.exported || !G.map) return;
    var pick = document.getElementById("gg-instruct-pick");
    var where = document.getElementById("gg-instruct-where");
    var result = document.getElementById("gg-instruct-result");
    var select = form.elements.category;
    var point = null, marker = null;
    fetch("/api/categories", { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : []; })
      .then(function (body) {
        (Array.isArray(body) ? body : body.items || []).forEach(function (c) {
          var option = document.createElement("option");
          option.value = c.code;
          option.textContent = c.code + " " + (c.major_name ? c.major_name + "/" : "") + c.name;
          select.appendChild(option);
        });
        form.dataset.ready = "1";
      })
      .catch(function () { form.dataset.ready = "1"; });
    pick.addEventListener("click", function () {
      G.picking = !G.picking;
      pick.setAttribute("aria-pressed", String(G.picking));
      pick.textContent = G.picking ? "点击地图选择位置… Tap the map" : "📍 在地图上选点 Pick on the map";
      G.map.getContainer().style.cursor = G.picking ? "crosshair" : "";
    });
    // "preclick" also comes for clicks on the grids, whose popups stop the map's own click.
    G.map.on("preclick", function (e) {
      if (!G.picking) return;
      point = { lon: e.latlng.lng, lat: e.latlng.lat };
      if (marker) marker.setLatLng(e.latlng);
      else marker = L.circleMarker(e.latlng, { radius: 9, color: "#c81e1e", weight: 3, fillOpacity: 0.6 }).addTo(G.map);
      where.textContent = "已选点 Point: " + point.lon.toFixed(6) + ", " + point.lat.toFixed(6);
      pick.setAttribute("aria-pressed", "false");
      pick.textContent = "📍 重新选点 Pick again";
      G.map.getContainer().style.cursor = "";
      window.setTimeout(function () {  // after the grid's own click: no popup, no zoom
        G.picking = false;
        G.map.closePopup();
      }, 0);
    });
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      if (!point) { result.textContent = "请先在地图上选点 Pick the place on the map first."; return; }
      var csrf = (document.cookie.match(/(?:^|; )gridgov_csrf=([^;]*)/) || [])[1] || "";
      var body = {
        source: "leader", category: select.value, description: form.elements.description.value.trim(),
        lon: point.lon, lat: point.lat, crs: form.dataset.crs || "cgcs2000",
      };
      result.textContent = "提交中… Sending…";
      fetch("/api/events", {
        method: "POST", credentials: "same-origin",
        headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRF-Token": decodeURIComponent(csrf) },
        body: JSON.stringify(body),
      })
        .then(function (response) {
          return response.json().then(function (answer) { return { ok: response.ok, answer: answer }; });
        })
        .then(function (r) {
          if (!r.ok) {
            result.textContent = (r.answer.error && r.answer.error.message) || "提交失败 Not filed";
            result.className = "gg-note gg-red";
            return;
          }
          result.className = "gg-note";
          result.textContent = "已批示 Filed: " + r.answer.code + " · 特急 · " + r.answer.status_label +
            (r.answer.unit ? " · " + r.answer.unit.name : "");
          form.elements.description.value = "";
        })
        .catch(function (error) { result.textContent = "提交失败 Not filed: " + error.message; });
    });
  };
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", G.setUpInstruction);
  else window.setTimeout(G.setUpInstruction, 0);

  // On a phone the open layer list would hide a third of the map: it starts folded, its
  // button opens it, and a tap on the map folds it again.
  G.foldLayersOnPhones = function () {
    if (!window.matchMedia("(max-width: 700px)").matches) return;
    var fold = function () {
      document.querySelectorAll(".leaflet-control-layers-expanded").forEach(function (control) {
        control.classList.remove("leaflet-control-layers-expanded");
      });
    };
    fold();
    document.querySelectorAll(".folium-map").forEach(function (map) {
      map.addEventListener("click", function (event) {
        if (!event.target.closest(".leaflet-control-layers")) fold();
      });
    });
  };
  window.addEventListener("load", G.foldLayersOnPhones);

  // On a phone the panel sits under the map, half the screen each; its first button folds
  // it to one line so the map gets the whole screen, and unfolds it again.
  G.panelFolding = function () {
    var panel = document.getElementById("gg-panel");
    if (!panel || document.getElementById("gg-fold")) return;
    var button = document.createElement("button");
    button.type = "button";
    button.id = "gg-fold";
    button.className = "gg-fold";
    var show = function (folded) {
      document.body.classList.toggle("gg-panel-folded", folded);
      button.setAttribute("aria-expanded", String(!folded));
      button.textContent = folded ? "▲ 展开面板 Show panel" : "▼ 收起面板 Full map";
      if (G.map) G.map.invalidateSize();
    };
    button.addEventListener("click", function () {
      show(!document.body.classList.contains("gg-panel-folded"));
    });
    panel.insertBefore(button, panel.firstChild);
    show(false);
  };
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", G.panelFolding);
  else window.setTimeout(G.panelFolding, 0);

  // How many grid polygons are drawn on the map now (for tests and the status line).
  G.drawnGrids = function () {
    var group = G.layers.grids;
    if (!group || !G.map.hasLayer(group)) return 0;
    return group.getLayers().filter(function (layer) {
      return layer._map === G.map && layer._renderer && layer._renderer._layers[L.stamp(layer)];
    }).length;
  };
})();
