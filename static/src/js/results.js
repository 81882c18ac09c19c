/* Charts for the results pages: drawn from the JSON in <script type="application/json">
   elements with Chart.js; every chart has a data table beside it, so nothing depends on this. */
(function () {
  "use strict";
})();
