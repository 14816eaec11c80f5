/* A form page that comes back with errors: move focus to its error summary, so a screen reader reads it
   and keyboard users start from it (the GOV.UK pattern). Its links go to the fields with or without this. */
(function () {
  "use strict";
  var summary = document.querySelector(".error-summary");
  if (summary) {
    summary.focus();
  }
})();
