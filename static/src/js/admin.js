/* Conveniences for the admin pages; every page works without them. */
(function () {
  "use strict";
})();
