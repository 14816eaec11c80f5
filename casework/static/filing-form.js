/* The single-page form: the questions about another company only once one of its plans is chosen, and the
   certificate question only for a plan whose refund a certificate ends (the plans' options say which). Without
   this script every question is shown, each with a hint saying when it applies. A question with an error or an
   answer is never hidden: nothing typed disappears from view. */
(function () {
  "use strict";
  var plan = document.getElementById("plan");
  if (!plan) {
    return;
  }
  var company = document.getElementById("another-company");
  var certificate = document.getElementById("certificate-field");

  function answered(part) {
    if (part.classList.contains("field--error") || part.querySelector(".field--error")) {
      return true;
    }
    return Array.prototype.some.call(part.querySelectorAll("input, select, textarea"), function (field) {
      if (field.type === "checkbox" || field.type === "radio") {
        return field.checked;
      }
      return field.value.trim() !== "";
    });
  }

  function show(part, applies) {
    if (part) {
      part.hidden = !applies && !answered(part);
    }
  }

  function update() {
    var chosen = plan.options[plan.selectedIndex];
    show(company, Boolean(chosen) && chosen.getAttribute("data-provider") === "other");
    show(certificate, Boolean(chosen) && chosen.hasAttribute("data-certificate-asked"));
  }

  plan.addEventListener("change", update);
  update();
})();
