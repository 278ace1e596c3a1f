// The dispatch desk's map: open leads as markers (Leaflet). Tiles come from HUIJIA_MAP_TILE_URL; without
// it (or offline) the markers stand on a blank map and the list beside it stays the complete record.
(function () {
  "use strict";
  var el = document.getElementById("lead-map");
  if (!el || !window.L) return;
  var markers = JSON.parse(el.dataset.markers || "[]");
  var map = L.map(el, { attributionControl: true });
  if (el.dataset.tiles) {
    L.tileLayer(el.dataset.tiles, { maxZoom: 19, attribution: el.dataset.attribution || "" }).addTo(map);
  } else {
    document.getElementById("map-note").textContent = el.dataset.empty;
  }
  var colour = { open: "#c0392b", assigned: "#d68910", on_site: "#1e8449" };
  var points = markers.map(function (m) {
    var urgent = m.urgency.length > 0;
    var marker = L.circleMarker([m.lat, m.lng], {
      radius: urgent ? 10 : 7, color: colour[m.status] || "#555", weight: 2, fillOpacity: urgent ? 0.8 : 0.4
    }).addTo(map);
    var link = document.createElement("a");
    link.href = m.url;
    link.textContent = "#" + m.id + " " + m.place;
    marker.bindPopup(link);
    marker.on("dblclick", function () { window.location.href = m.url; });
    return [m.lat, m.lng];
  });
  if (points.length) map.fitBounds(points, { padding: [30, 30], maxZoom: 15 });
  else map.setView([39.12, 117.2], 11);  // Tianjin
  el.dataset.ready = String(points.length);
}());
