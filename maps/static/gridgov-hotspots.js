/* gridgov hot-spot layer (热点分析): grids coloured by Gi* class with a legend that says what
 * significant means; shown and hidden with the layer. Data from maps/hotspots.py. */
(function () {
  "use strict";
  var G = (window.gridgov = window.gridgov || { layers: {}, data: {}, exported: false });

  G.hotspots = function (data, options, map) {
    var factor = Math.pow(10, data.p), group = L.featureGroup();
    var plain = options.colours.length - 1;  // 不显著: pale, so hot and cold stand out
    data.k.forEach(function (code, i) {
      var c = data.c[i];
      var polygon = L.polygon(G.decodeGeom(data.g[i], factor), {
        color: "#5b6470", weight: 0.6, fillColor: options.colours[c],
        fillOpacity: c === plain ? 0.35 : 0.85,
      });
      polygon.feature = { properties: { code: code, hot_class: options.labels[c] } };
      polygon.bindTooltip(function () {
        return "<b>" + G.esc(data.n[i]) + "</b><br>" + G.esc(options.labels[c]) +
          (data.t[i] ? " · " + G.esc(data.t[i]) : "") + "<br>事件 " + data.x[i] +
          " 件 · z = " + data.z[i].toFixed(2);
      }, { sticky: true });
      group.addLayer(polygon);
    });
    var legend = L.control({ position: "bottomright" });
    legend.onAdd = function () {
      var div = L.DomUtil.create("div", "gg-legend gg-hotspot-legend");
      div.id = "gg-hotspot-legend";
      div.style.maxWidth = "16rem";
      var html = "<b>" + G.esc(options.title) + "</b>";
      options.labels.forEach(function (label, i) {
        html += "<div title='" + G.esc(options.meanings[i]) + "'><i style='background:" +
          options.colours[i] + "'></i>" + G.esc(label) + "</div>";
      });
      // The sentence for 95% says what "significant" means; the others are in the tooltips.
      html += "<p class='gg-hotspot-note' style='margin:4px 0 0;font-size:11px;line-height:1.35'>" + G.esc(options.meanings[1]) + "</p>";
      div.innerHTML = html;
      return div;
    };
    map.on("overlayremove", function (e) { if (e.layer === group) legend.remove(); });
    map.on("overlayadd", function (e) { if (e.layer === group) legend.addTo(map); });
    G.map = map;
    G.layers[options.id] = group;
    return group;
  };
})();
