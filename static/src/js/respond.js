/* Optional conveniences for the questionnaire; the page works fully without them.
   - a live "12 of 24 answered" counter,
   - a button that jumps to the first unanswered statement,
   - focus on the error summary when the page comes back with questions missing. */
(function () {
  "use strict";
  var form = document.querySelector("form.questionnaire");
  if (!form) { return; }
  var groups = Array.prototype.slice.call(form.querySelectorAll("[role=radiogroup]"));
  var status = document.getElementById("progress");
  var jump = document.createElement("button");
  jump.type = "button";
  jump.className = "secondary jump";
  jump.textContent = form.getAttribute("data-jump");

  function unanswered() {
    return groups.filter(function (group) { return !group.querySelector("input:checked"); });
  }

  function update() {
    var open = unanswered();
    status.textContent = form.getAttribute("data-progress")
      .replace("{answered}", String(groups.length - open.length))
      .replace("{total}", String(groups.length));
    jump.hidden = open.length === 0;
  }

  jump.addEventListener("click", function () {
    var first = unanswered()[0];
    if (!first) { return; }
    first.scrollIntoView({ block: "center" });
    first.querySelector("input").focus();
  });

  status.parentNode.insertBefore(jump, status.nextSibling);
  form.addEventListener("change", update);
  update();

  var summary = document.getElementById("error-summary");
  if (summary) { summary.focus(); }
}());
