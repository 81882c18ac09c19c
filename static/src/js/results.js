/* Charts for the results pages, drawn with Chart.js from the JSON in
   <script type="application/json"> elements; every chart has a data table beside it, so
   nothing depends on this. Bars are coloured by band, with the target and the attention
   line and their values; each chart downloads as PNG (the canvas) and as SVG (written here
   from the drawn chart's geometry, so both show the same). */
(function () {
  "use strict";

  if (typeof Chart === "undefined") {
    return;
  }

  var INK = "#1d2433";
  var LINE = "#c9cfdb";
  var FONT = 'system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif';
  // Every fill has at least 3:1 contrast against white; the band colours are the heatmap's.
  var BANDS = {
    low: { colour: "#a1261c", word: "low" },
    attention: { colour: "#9a6700", word: "needs attention" },
    fair: { colour: "#1f4fa3", word: "fair" },
    good: { colour: "#1f6b3a", word: "good" }
  };
  var BAND_ORDER = ["low", "attention", "fair", "good"];
  var AUDIENCES = ["#1f4fa3", "#9a6700"];
  var ANSWERS = ["#b2182b", "#d6604d", "#767676", "#4393c3", "#2166ac"];
  // Text on these fills is dark; on every other fill it is white.
  var LIGHT_FILLS = ["#4393c3", "#d6604d"];

  function font(size, weight) {
    return { family: FONT, size: size, weight: weight || "normal" };
  }

  function css(f) {
    return (f.weight === "bold" ? "bold " : "") + f.size + "px " + FONT;
  }

  /* What a chart draws over its bars, in canvas pixels: lines and texts. The canvas plugin
     and the SVG writer both draw this one list, so the two downloads show the same. */
  function overlays(chart) {
    var marks = [];
    var spec = chart.config.options.portal || {};
    var area = chart.chartArea;
    var value = chart.scales[spec.valueAxis || "y"];
    var horizontal = spec.valueAxis === "x";
    if (!value) {
      return marks;
    }
    if (spec.attention !== undefined && spec.attention >= value.min && spec.attention <= value.max) {
      var at = value.getPixelForValue(spec.attention);
      marks.push({ kind: "line", x1: area.left, y1: at, x2: area.right, y2: at, colour: INK,
                   width: 1.5, dash: [6, 4], name: "attention" });
    }
    var bars = chart.getDatasetMeta(0).data;
    if (spec.targets) {
      spec.targets.forEach(function (target, i) {
        var bar = bars[i];
        if (target === null || target === undefined || !bar) {
          return;
        }
        var y = value.getPixelForValue(target);
        var half = Math.max(bar.width / 2 + 6, 10);
        marks.push({ kind: "line", x1: bar.x - half, y1: y, x2: bar.x + half, y2: y, colour: INK,
                     width: 3, dash: [], name: "target" });
      });
    }
    if (spec.valueLabels && !horizontal) {
      chart.data.datasets.forEach(function (dataset, d) {
        if (dataset.valueLabel === false) {
          return;
        }
        var meta = chart.getDatasetMeta(d);
        meta.data.forEach(function (bar, i) {
          var shown = dataset.data[i];
          if (shown === null || shown === undefined || meta.hidden) {
            return;
          }
          var top = bar.y;
          if (spec.intervalDataset !== undefined) {
            var interval = chart.data.datasets[spec.intervalDataset].data[i];
            if (interval) {
              top = Math.min(top, value.getPixelForValue(interval[1]));
            }
          }
          var target = spec.targets && spec.targets[i];
          if (target !== null && target !== undefined && d === 0) {
            var ty = value.getPixelForValue(target);
            if (Math.abs(ty - top) < 16 && ty <= top + 2) {
              top = ty;
            }
          }
          marks.push({ kind: "text", x: bar.x, y: top - 4, text: String(shown), align: "center",
                       baseline: "bottom", colour: INK, font: font(12, "bold") });
        });
      });
    }
    if (spec.valueLabels && horizontal) {
      chart.data.datasets.forEach(function (dataset, d) {
        var meta = chart.getDatasetMeta(d);
        meta.data.forEach(function (bar, i) {
          var shown = dataset.data[i];
          var width = Math.abs(bar.x - bar.base);
          if (shown === null || shown === undefined || meta.hidden || width < 26) {
            return;
          }
          var fill = dataset.backgroundColor;
          marks.push({ kind: "text", x: (bar.x + bar.base) / 2, y: bar.y, text: shown + " %",
                       align: "center", baseline: "middle",
                       colour: LIGHT_FILLS.indexOf(fill) >= 0 ? INK : "#ffffff", font: font(11) });
        });
      });
    }
    return marks;
  }

  function drawMarks(ctx, marks) {
    marks.forEach(function (m) {
      ctx.save();
      if (m.kind === "line") {
        ctx.strokeStyle = m.colour;
        ctx.lineWidth = m.width;
        ctx.setLineDash(m.dash);
        ctx.beginPath();
        ctx.moveTo(m.x1, m.y1);
        ctx.lineTo(m.x2, m.y2);
        ctx.stroke();
      } else {
        ctx.fillStyle = m.colour;
        ctx.font = css(m.font);
        ctx.textAlign = m.align;
        ctx.textBaseline = m.baseline;
        ctx.fillText(m.text, m.x, m.y);
      }
      ctx.restore();
    });
  }

  var overlayPlugin = {
    id: "portalOverlays",
    beforeDraw: function (chart) {
      // A white ground, so a downloaded PNG reads on a dark slide too.
      var ctx = chart.ctx;
      ctx.save();
      ctx.fillStyle = "#ffffff";
      ctx.fillRect(0, 0, chart.width, chart.height);
      ctx.restore();
    },
    afterDatasetsDraw: function (chart) {
      drawMarks(chart.ctx, overlays(chart));
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

  // Lever names break between words under their bars rather than turn and run off the chart.
  function categoryAxis() {
    return {
      ticks: {
        color: INK,
        autoSkip: false,
        // On a phone the wrapped names may still need to turn to fit under their bars.
        maxRotation: window.innerWidth < 700 ? 60 : 0,
        callback: function (value) {
          return wrap(this.getLabelForValue(value), 12);
        }
      },
      grid: { display: false }
    };
  }

  function title(data) {
    return data.title
      ? { display: true, text: data.title, color: INK, font: font(14, "bold"), padding: { bottom: 8 } }
      : { display: false };
  }

  function legendItem(text, fill, line) {
    return {
      text: text,
      fillStyle: fill,
      strokeStyle: line ? INK : fill,
      lineWidth: line ? 3 : 1,
      lineDash: line === "dash" ? [6, 4] : [],
      hidden: false,
      fontColor: INK,
      pointStyle: line ? "line" : "rect"
    };
  }

  function levers(data) {
    var bands = data.bands || [];
    var index = data.series[0];
    var datasets = [
      {
        label: index.label,
        data: index.data,
        backgroundColor: index.data.map(function (_, i) {
          return (BANDS[bands[i]] || BANDS.fair).colour;
        }),
        borderColor: INK,
        borderWidth: 1,
        order: 2
      }
    ];
    if (data.series.length > 1) {
      // The interval: a thin floating bar [low, high] over the middle of the index bar; the
      // value label sits above its top, so the interval never covers it.
      datasets.push({
        label: data.series[1].label,
        data: data.series[1].data,
        backgroundColor: INK,
        grouped: false,
        barPercentage: 0.08,
        order: 1,
        valueLabel: false
      });
    }
    var present = BAND_ORDER.filter(function (b) { return bands.indexOf(b) >= 0; });
    return {
      type: "bar",
      data: { labels: data.labels, datasets: datasets },
      options: {
        layout: { padding: { top: 4 } },
        scales: { x: categoryAxis(), y: indexAxis("Index (0–100)") },
        plugins: {
          title: title(data),
          legend: {
            display: true,
            position: "bottom",
            labels: {
              color: INK,
              usePointStyle: true,
              generateLabels: function () {
                var items = present.map(function (b) {
                  return legendItem(BANDS[b].word, BANDS[b].colour);
                });
                if (data.targets) {
                  items.push(legendItem("target", INK, "solid"));
                }
                if (data.attention !== undefined) {
                  items.push(legendItem(data.attention + ": attention line", INK, "dash"));
                }
                if (datasets.length > 1) {
                  items.push(legendItem(data.series[1].label, INK));
                }
                return items;
              }
            },
            onClick: function () {}
          }
        },
        portal: {
          attention: data.attention,
          targets: data.targets,
          valueLabels: true,
          intervalDataset: datasets.length > 1 ? 1 : undefined
        }
      },
      plugins: [overlayPlugin]
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
        layout: { padding: { top: 4 } },
        scales: { x: categoryAxis(), y: indexAxis("Index (0–100)") },
        plugins: {
          title: title(data),
          legend: {
            position: "bottom",
            labels: {
              color: INK,
              generateLabels: function (chart) {
                var items = Chart.defaults.plugins.legend.labels.generateLabels(chart);
                if (data.attention !== undefined) {
                  items.push(legendItem(data.attention + ": attention line", INK, "dash"));
                }
                return items;
              }
            }
          }
        },
        portal: { attention: data.attention, valueLabels: true }
      },
      plugins: [overlayPlugin]
    };
  }

  function answers(data, figure) {
    // Horizontal bars need room per statement; CSSOM styles are allowed under the CSP.
    figure.style.height = 6 + 4.5 * data.labels.length + "rem";
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
        plugins: { title: title(data), legend: { position: "bottom", labels: { color: INK } } },
        portal: { valueAxis: "x", valueLabels: true }
      },
      plugins: [overlayPlugin]
    };
  }

  // -- SVG: the drawn chart again, as vector shapes and text ------------------------------

  function esc(text) {
    return String(text).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")
      .replace(/"/g, "&quot;");
  }

  function n(value) {
    return Math.round(value * 100) / 100;
  }

  var ANCHORS = { left: "start", start: "start", right: "end", end: "end", center: "middle" };
  var BASELINES = { top: "hanging", middle: "central", bottom: "text-after-edge",
                    alphabetic: "auto" };

  function svgText(x, y, lines, f, opts) {
    var o = opts || {};
    var list = Array.isArray(lines) ? lines : [lines];
    var lineHeight = f.size * 1.2;
    var offset = o.offset || 0;
    var transform = "translate(" + n(x) + " " + n(y) + ")" +
      (o.rotation ? " rotate(" + n(o.rotation * 180 / Math.PI) + ")" : "");
    return '<text transform="' + transform + '" font-family="' + esc(FONT) + '" font-size="' +
      f.size + '"' + (f.weight === "bold" ? ' font-weight="bold"' : "") + ' fill="' +
      esc(o.colour || INK) + '" text-anchor="' + (ANCHORS[o.align] || "start") +
      '" dominant-baseline="' + (BASELINES[o.baseline] || "auto") + '">' +
      list.map(function (line, i) {
        return '<tspan x="0" y="' + n(offset + i * lineHeight) + '">' + esc(line) + "</tspan>";
      }).join("") + "</text>";
  }

  function svgLine(x1, y1, x2, y2, colour, width, dash, cls) {
    return '<line' + (cls ? ' class="' + cls + '"' : "") + ' x1="' + n(x1) + '" y1="' + n(y1) + '" x2="' + n(x2) + '" y2="' + n(y2) +
      '" stroke="' + esc(colour) + '" stroke-width="' + width + '"' +
      (dash && dash.length ? ' stroke-dasharray="' + dash.join(" ") + '"' : "") + "/>";
  }

  function svgRect(x, y, w, h, fill, stroke, width, cls) {
    return '<rect' + (cls ? ' class="' + cls + '"' : "") + ' x="' + n(x) + '" y="' + n(y) +
      '" width="' + n(w) + '" height="' + n(h) + '" fill="' + esc(fill) + '"' +
      (stroke && width ? ' stroke="' + esc(stroke) + '" stroke-width="' + width + '"' : "") + "/>";
  }

  function toSvg(chart) {
    var area = chart.chartArea;
    var out = [];
    out.push(svgRect(0, 0, chart.width, chart.height, "#ffffff"));
    Object.keys(chart.scales).forEach(function (id) {
      var scale = chart.scales[id];
      var opts = scale.options;
      if (opts.grid && opts.grid.display !== false) {
        scale.ticks.forEach(function (_, i) {
          var p = scale.getPixelForTick(i);
          out.push(scale.isHorizontal()
            ? svgLine(p, area.top, p, area.bottom, LINE, 1)
            : svgLine(area.left, p, area.right, p, LINE, 1));
        });
      }
      scale.getLabelItems().forEach(function (item) {
        var o = item.options;
        out.push(svgText(o.translation[0], o.translation[1], item.label, item.font, {
          rotation: o.rotation, align: o.textAlign, baseline: o.textBaseline, colour: INK,
          offset: item.textOffset
        }));
      });
      if (opts.title && opts.title.display) {
        var f = font(12);
        if (scale.isHorizontal()) {
          out.push(svgText((scale.left + scale.right) / 2, scale.bottom - 4, opts.title.text, f,
                           { align: "center", baseline: "bottom" }));
        } else {
          out.push(svgText(scale.left + 4, (scale.top + scale.bottom) / 2, opts.title.text, f,
                           { align: "center", baseline: "top", rotation: -Math.PI / 2 }));
        }
      }
    });
    chart.data.datasets.forEach(function (dataset, d) {
      var meta = chart.getDatasetMeta(d);
      if (meta.hidden) {
        return;
      }
      meta.data.forEach(function (bar, i) {
        if (dataset.data[i] === null || dataset.data[i] === undefined) {
          return;
        }
        var o = bar.options;
        var x, y, w, h;
        if (bar.horizontal) {
          x = Math.min(bar.x, bar.base);
          w = Math.abs(bar.x - bar.base);
          y = bar.y - bar.height / 2;
          h = bar.height;
        } else {
          x = bar.x - bar.width / 2;
          w = bar.width;
          y = Math.min(bar.y, bar.base);
          h = Math.abs(bar.base - bar.y);
        }
        out.push(svgRect(x, y, w, h, o.backgroundColor, o.borderColor, o.borderWidth,
                         "bar dataset-" + d));
      });
    });
    overlays(chart).forEach(function (m) {
      out.push(m.kind === "line"
        ? svgLine(m.x1, m.y1, m.x2, m.y2, m.colour, m.width, m.dash, m.name)
        : svgText(m.x, m.y, m.text, m.font, { align: m.align, baseline: m.baseline,
                                              colour: m.colour }));
    });
    if (chart.titleBlock && chart.options.plugins.title.display) {
      var t = chart.titleBlock;
      out.push(svgText((t.left + t.right) / 2, (t.top + t.bottom) / 2, t.options.text,
                       font(14, "bold"), { align: "center", baseline: "middle" }));
    }
    var legend = chart.legend;
    if (legend && legend.options.display && legend.legendItems) {
      var lf = font(12);
      legend.legendItems.forEach(function (item, i) {
        var box = legend.legendHitBoxes[i];
        if (!box) {
          return;
        }
        var middle = box.top + box.height / 2;
        if (item.pointStyle === "line") {
          out.push(svgLine(box.left, middle, box.left + 14, middle, item.strokeStyle,
                           item.lineWidth, item.lineDash));
        } else {
          out.push(svgRect(box.left, middle - 5, 14, 10, item.fillStyle, INK, 1));
        }
        out.push(svgText(box.left + 20, middle, item.text, lf, { baseline: "middle" }));
      });
    }
    var label = chart.canvas.getAttribute("aria-label") || "Chart";
    return '<?xml version="1.0" encoding="UTF-8"?>\n' +
      '<svg xmlns="http://www.w3.org/2000/svg" width="' + n(chart.width) + '" height="' +
      n(chart.height) + '" viewBox="0 0 ' + n(chart.width) + " " + n(chart.height) +
      '" role="img"><title>' + esc(label) + "</title>" + out.join("") + "</svg>\n";
  }

  // -- downloads -------------------------------------------------------------------------

  function save(href, filename) {
    var link = document.createElement("a");
    link.href = href;
    link.download = filename;
    document.body.appendChild(link);
    link.click();
    link.remove();
  }

  function tools(chart, name, what) {
    var box = document.createElement("div");
    box.className = "chart-tools";
    [["PNG", "png"], ["SVG", "svg"]].forEach(function (kind) {
      var button = document.createElement("button");
      button.type = "button";
      button.className = "secondary small";
      button.setAttribute("data-download", kind[1]);
      button.textContent = "Download " + kind[0];
      var hidden = document.createElement("span");
      hidden.className = "visually-hidden";
      hidden.textContent = ": " + what;
      button.appendChild(hidden);
      button.addEventListener("click", function () {
        var filename = "chart-" + name + "." + kind[1];
        if (kind[1] === "png") {
          save(chart.toBase64Image("image/png"), filename);
        } else {
          var blob = new Blob([toSvg(chart)], { type: "image/svg+xml" });
          var url = URL.createObjectURL(blob);
          save(url, filename);
          setTimeout(function () { URL.revokeObjectURL(url); }, 10000);
        }
      });
      box.appendChild(button);
    });
    return box;
  }

  var BUILDERS = { levers: levers, audiences: audiences, answers: answers };

  function draw(source) {
    var build = BUILDERS[source.getAttribute("data-chart")];
    var canvas = document.getElementById(source.getAttribute("data-canvas"));
    if (!build || !canvas) {
      return;
    }
    var figure = canvas.parentNode;
    var data = JSON.parse(source.textContent);
    var config = build(data, figure);
    config.options.animation = false;
    config.options.responsive = true;
    config.options.maintainAspectRatio = false;
    figure.hidden = false;
    var chart = new Chart(canvas, config);
    var name = source.getAttribute("data-canvas").replace(/^canvas-/, "");
    figure.parentNode.insertBefore(
      tools(chart, name, data.title || canvas.getAttribute("aria-label") || name),
      figure.nextSibling
    );
  }

  Chart.defaults.font.size = 13;
  Chart.defaults.font.family = FONT;
  Chart.defaults.color = INK;
  Array.prototype.forEach.call(
    document.querySelectorAll('script[type="application/json"][data-chart]'),
    draw
  );
})();
