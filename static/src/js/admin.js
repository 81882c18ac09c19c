/* Conveniences for the admin pages; every page works without them.
   - "Copy" buttons next to survey links (without JavaScript the link text is selectable);
   - a confirmation before a form with data-confirm is sent (e.g. withdrawing a link). */
(function () {
  "use strict";

  var timers = {};

  function say(status, text) {
    if (!status) { return; }
    status.textContent = text;
    clearTimeout(timers[status.id]);
    timers[status.id] = setTimeout(function () { status.textContent = ""; }, 4000);
  }

  if (navigator.clipboard && window.isSecureContext) {
    Array.prototype.forEach.call(document.querySelectorAll("button[data-copy]"), function (button) {
      button.hidden = false;
    });
    document.addEventListener("click", function (event) {
      var button = event.target.closest && event.target.closest("button[data-copy]");
      if (!button) { return; }
      var status = document.getElementById(button.getAttribute("data-status"));
      navigator.clipboard.writeText(button.getAttribute("data-copy")).then(
        function () { say(status, "Copied"); },
        function () { say(status, "Could not copy: select the link and copy it instead."); }
      );
    });
  }

  document.addEventListener("submit", function (event) {
    var question = event.target.getAttribute && event.target.getAttribute("data-confirm");
    if (question && !window.confirm(question)) { event.preventDefault(); }
  });
}());
