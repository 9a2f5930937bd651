// The console's one script (served from /console/static/, allowed by the pages' CSP): times
// in the browser's own zone, and each revenue chart drawn with uPlot.
(function () {
  "use strict";

  // A <time datetime="…Z"> shows UTC until here; then the browser's zone, with its name.
  function localTimes() {
    var format = new Intl.DateTimeFormat(undefined, {
      year: "numeric", month: "short", day: "numeric",
      hour: "2-digit", minute: "2-digit", timeZoneName: "short"
    });
    document.querySelectorAll("time[datetime]").forEach(function (el) {
      var at = new Date(el.getAttribute("datetime"));
      if (!isNaN(at.getTime())) {
        el.textContent = format.format(at);
        el.classList.add("local");
      }
    });
  }

  // Minor units shown in the currency's own units (JPY has no decimals, KWD three).
  function money(currency, decimals) {
    var format = new Intl.NumberFormat("en-US", {
      style: "currency", currency: currency.toUpperCase(),
      minimumFractionDigits: decimals, maximumFractionDigits: decimals
    });
    return function (minor) {
      return minor == null ? "" : format.format(minor / Math.pow(10, decimals));
    };
  }

  function drawChart(box) {
    var data = JSON.parse(box.querySelector("script.chart-data").textContent);
    var target = box.querySelector(".chart");
    var shown = money(data.currency, data.decimals);
    var bars = uPlot.paths.bars;
    function width() { return Math.max(target.clientWidth, 260); }
    function series(label, fill, stroke, align) {
      return {
        label: label, fill: fill, stroke: stroke, width: 1,
        paths: bars({ size: [0.4, 48], align: align }),
        points: { show: false },
        fillTo: function () { return 0; },  // below zero when the net is negative
        value: function (u, v) { return shown(v); }
      };
    }
    var options = {
      width: width(),
      height: 260,
      // Periods are UTC days, weeks and months, as the ledger counts them.
      tzDate: function (ts) { return uPlot.tzDate(new Date(ts * 1000), "Etc/UTC"); },
      scales: {
        // Half a period either side, so that the first and last periods' bars show whole.
        x: {
          time: true,
          range: function (u, min, max) {
            var half = (data.x.length > 1 ? data.x[1] - data.x[0] : 86400) / 2;
            return [min - half, max + half];
          }
        },
        y: {
          range: function (u, min, max) {
            var low = Math.min(0, min), high = Math.max(0, max);
            if (low === high) { high = Math.pow(10, data.decimals); }
            var pad = (high - low) * 0.08;
            return [low < 0 ? low - pad : 0, high + pad];
          }
        }
      },
      axes: [
        { label: data.bucket === "month" ? "Month (UTC)" : data.bucket === "week" ? "Week (UTC)" : "Day (UTC)" },
        { label: data.currency.toUpperCase(), size: 90, values: function (u, splits) { return splits.map(shown); } }
      ],
      series: [
        { label: "Period", value: function (u, ts, s, i) { return i == null ? "" : data.labels[i]; } },
        series("Gross", "rgba(123,147,214,0.85)", "#5b73b6", -1),
        series("Net", "rgba(47,158,98,0.85)", "#1f7e42", 1)
      ],
      hooks: {
        // The zero line, so that a negative net shows as what it is.
        draw: [function (u) {
          var y = Math.round(u.valToPos(0, "y", true)), ctx = u.ctx;
          ctx.save();
          ctx.strokeStyle = "#1d2330";
          ctx.lineWidth = 1;
          ctx.beginPath();
          ctx.moveTo(u.bbox.left, y);
          ctx.lineTo(u.bbox.left + u.bbox.width, y);
          ctx.stroke();
          ctx.restore();
        }]
      }
    };
    var plot = new uPlot(options, [data.x, data.gross, data.net], target);
    window.addEventListener("resize", function () { plot.setSize({ width: width(), height: 260 }); });
    box.uplot = plot;  // for a test to read its scales
    box.setAttribute("data-drawn", "yes");
  }

  document.addEventListener("DOMContentLoaded", function () {
    localTimes();
    if (window.uPlot) {
      document.querySelectorAll(".revenue-chart").forEach(drawChart);
    }
    // A page waiting on Stripe (a refund just asked for) looks again now and then.
    var again = document.querySelector("[data-reload-after]");
    if (again) {
      setTimeout(function () { window.location.reload(); },
                 1000 * Number(again.getAttribute("data-reload-after")));
    }
  });
})();
