/* Wide results tables stack on a narrow screen: each cell gets its column's name
   (data-label) and the table the class "stacks", which the stylesheet lays out as one card
   per row. Without JavaScript the tables scroll sideways inside their wrapper instead. */
(function () {
  "use strict";

  var STACKED = [
    "table.results-heatmap",
    "table.results-levers",
    "table.results-gaps",
    "table.results-items",
    "table.results-quality",
    "table.key-drivers-table"
  ].join(", ");

  function stack(table) {
    var head = table.tHead && table.tHead.rows[table.tHead.rows.length - 1];
    if (!head) {
      return;
    }
    var labels = Array.prototype.map.call(head.cells, function (th) {
      return th.textContent.replace(/\s+/g, " ").trim();
    });
    Array.prototype.forEach.call(table.tBodies, function (body) {
      Array.prototype.forEach.call(body.rows, function (row) {
        Array.prototype.forEach.call(row.cells, function (cell, i) {
          if (cell.tagName === "TD" && labels[i]) {
            cell.setAttribute("data-label", labels[i]);
          }
        });
      });
    });
    table.classList.add("stacks");
  }

  Array.prototype.forEach.call(document.querySelectorAll(STACKED), stack);
}());
