/* The single-page form and the wizard's company question: the questions about another company only once it (or one
   of its plans) is chosen, and, on the single-page form, the certificate question only for a plan whose refund a
   certificate ends (the plans' options say which). Without
   this script every question is shown, each with a hint saying when it applies. A question with an error or an
   answer is never hidden: nothing typed disappears from view. */
(function () {
  "use strict";
  var plan = document.getElementById("plan");
  var providers = document.querySelectorAll("input[type=radio][name=provider]");
  var company = document.getElementById("another-company");
  var certificate = document.getElementById("certificate-field");
  if (!plan && !providers.length) {
    return;
  }

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

  function otherChosen() {
    if (plan) {
      var chosen = plan.options[plan.selectedIndex];
      return Boolean(chosen) && chosen.getAttribute("data-provider") === "other";
    }
    return Array.prototype.some.call(providers, function (radio) { return radio.checked && radio.value === "other"; });
  }

  function update() {
    show(company, otherChosen());
    if (plan) {
      var chosen = plan.options[plan.selectedIndex];
      show(certificate, Boolean(chosen) && chosen.hasAttribute("data-certificate-asked"));
    }
  }

  if (plan) {
    plan.addEventListener("change", update);
  }
  Array.prototype.forEach.call(providers, function (radio) { radio.addEventListener("change", update); });
  update();
})();
