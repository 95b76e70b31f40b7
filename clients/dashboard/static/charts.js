// Draws every chart of the page: its figure travels as JSON in a
// <script type="application/json" data-chart="ID"> next to <div id="ID">.
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("script[data-chart]").forEach(function (node) {
    var figure = JSON.parse(node.textContent);
    Plotly.newPlot(node.dataset.chart, figure.data, figure.layout, {displayModeBar: false, responsive: true});
  });
});
