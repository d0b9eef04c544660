// FUTE Registry catalogue pages: hover labels on map points (the SVG's <title> is the fallback).
// Read-only: this script sends no requests.
document.addEventListener('DOMContentLoaded', function () {
  var tip = document.getElementById('tip');
  if (!tip) { return; }
  document.querySelectorAll('g.pt').forEach(function (g) {
    g.addEventListener('mousemove', function (ev) {
      tip.textContent = g.dataset.name + ' (' + g.dataset.kind + ', ' + g.dataset.group + ')';
      tip.style.left = (ev.pageX + 12) + 'px';
      tip.style.top = (ev.pageY + 12) + 'px';
      tip.style.display = 'block';
    });
    g.addEventListener('mouseleave', function () { tip.style.display = 'none'; });
  });
});
