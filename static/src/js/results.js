/* Charts for the results pages: drawn from the JSON in <script type="application/json">
   elements with Chart.js; every chart has a data table beside it, so nothing depends on this. */
(function () {
  "use strict";

  if (typeof Chart === "undefined") {
    return;
  }

  var INK = "#1d2433";
  var LINE = "#c9cfdb";
  // Every fill has at least 3:1 contrast against white.
  var INDEX = "#1f4fa3";
  var AUDIENCES = ["#1f4fa3", "#9a6700"];
  var ANSWERS = ["#b2182b", "#d6604d", "#767676", "#4393c3", "#2166ac"];
  var NEEDS_ATTENTION = 60;

  // A dashed line at 60: under it a lever "needs attention" (the band the tables name).
  var attentionLine = {
    id: "attentionLine",
    afterDatasetsDraw: function (chart) {
      var y = chart.scales.y;
      var area = chart.chartArea;
      if (!y || y.min > NEEDS_ATTENTION || y.max < NEEDS_ATTENTION) {
        return;
      }
      var at = y.getPixelForValue(NEEDS_ATTENTION);
      var ctx = chart.ctx;
      ctx.save();
      ctx.strokeStyle = INK;
      ctx.lineWidth = 1.5;
      ctx.setLineDash([6, 4]);
      ctx.beginPath();
      ctx.moveTo(area.left, at);
      ctx.lineTo(area.right, at);
      ctx.stroke();
      ctx.setLineDash([]);
      ctx.fillStyle = INK;
      ctx.textAlign = "right";
      ctx.textBaseline = "bottom";
      ctx.fillText("60: needs attention", area.right, at - 2);
      ctx.restore();
    }
  };

  // Break a long statement into lines of about `width` characters for the axis.
  function wrap(text, width) {
    var lines = [];
    var line = "";
    text.split(/\s+/).forEach(function (word) {
      if (line && (line + " " + word).length > width) {
        lines.push(line);
        line = word;
      } else {
        line = line ? line + " " + word : word;
      }
    });
    if (line) {
      lines.push(line);
    }
    return lines;
  }

  function indexAxis(title) {
    return {
      min: 0,
      max: 100,
      ticks: { stepSize: 20, color: INK },
      grid: { color: LINE },
      title: { display: true, text: title, color: INK }
    };
  }

  function categoryAxis() {
    return { ticks: { color: INK, autoSkip: false }, grid: { display: false } };
  }

  function levers(data) {
    var datasets = [
      {
        label: data.series[0].label,
        data: data.series[0].data,
        backgroundColor: INDEX,
        borderColor: INK,
        borderWidth: 1,
        order: 2
      }
    ];
    if (data.series.length > 1) {
      // The interval: a thin floating bar [low, high] drawn over the middle of the index bar.
      datasets.push({
        label: data.series[1].label,
        data: data.series[1].data,
        backgroundColor: INK,
        grouped: false,
        barPercentage: 0.12,
        order: 1
      });
    }
    return {
      type: "bar",
      data: { labels: data.labels, datasets: datasets },
      options: {
        scales: { x: categoryAxis(), y: indexAxis("Index (0–100)") },
        plugins: { legend: { display: datasets.length > 1, labels: { color: INK } } }
      },
      plugins: [attentionLine]
    };
  }

  function audiences(data) {
    return {
      type: "bar",
      data: {
        labels: data.labels,
        datasets: data.series.map(function (s, i) {
          return {
            label: s.label,
            data: s.data,
            backgroundColor: AUDIENCES[i % AUDIENCES.length],
            borderColor: INK,
            borderWidth: 1
          };
        })
      },
      options: {
        scales: { x: categoryAxis(), y: indexAxis("Index (0–100)") },
        plugins: { legend: { labels: { color: INK } } }
      },
      plugins: [attentionLine]
    };
  }

  function answers(data, figure) {
    // Horizontal bars need room per statement; CSSOM styles are allowed under the CSP.
    figure.style.height = 5 + 4.5 * data.labels.length + "rem";
    return {
      type: "bar",
      data: {
        labels: data.labels.map(function (label) {
          return wrap(label, 40);
        }),
        datasets: data.series.map(function (s, i) {
          return {
            label: s.label,
            data: s.data,
            backgroundColor: ANSWERS[i % ANSWERS.length],
            // White gaps keep neighbouring shares apart without relying on their colours.
            borderColor: "#ffffff",
            borderWidth: 1
          };
        })
      },
      options: {
        indexAxis: "y",
        scales: {
          x: {
            stacked: true,
            min: 0,
            max: 100,
            ticks: { color: INK, stepSize: 25 },
            grid: { color: LINE },
            title: { display: true, text: "Per cent of answers on the scale", color: INK }
          },
          y: { stacked: true, ticks: { color: INK, autoSkip: false }, grid: { display: false } }
        },
        plugins: { legend: { position: "bottom", labels: { color: INK } } }
      }
    };
  }

  var BUILDERS = { levers: levers, audiences: audiences, answers: answers };

  function draw(source) {
    var build = BUILDERS[source.getAttribute("data-chart")];
    var canvas = document.getElementById(source.getAttribute("data-canvas"));
    if (!build || !canvas) {
      return;
    }
    var figure = canvas.parentNode;
    var config = build(JSON.parse(source.textContent), figure);
    config.options.animation = false;
    config.options.responsive = true;
    config.options.maintainAspectRatio = false;
    figure.hidden = false;
    new Chart(canvas, config);
  }

  Chart.defaults.font.size = 13;
  Chart.defaults.color = INK;
  Array.prototype.forEach.call(
    document.querySelectorAll('script[type="application/json"][data-chart]'),
    draw
  );
})();
