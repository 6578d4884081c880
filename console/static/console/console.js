// Tonight console: light progressive enhancement. Every link and form works without it.
(function () {
  "use strict";

  // Changing a control re-renders the page with the new device, moment or profile.
  document.querySelectorAll("form[data-autosubmit]").forEach(function (form) {
    form.addEventListener("change", function (event) {
      if (event.target.matches("select")) form.submit();
    });
  });

  // "Why this?" opens in a dialog instead of leaving the page.
  var dialog = document.getElementById("why-dialog");
  if (dialog && typeof dialog.showModal === "function") {
    var body = dialog.querySelector(".why-body");
    document.addEventListener("click", function (event) {
      var link = event.target.closest("a.why-link");
      if (!link || event.ctrlKey || event.metaKey || event.shiftKey) return;
      event.preventDefault();
      body.innerHTML = '<p class="note">Working out why…</p>';
      dialog.showModal();
      var url = new URL(link.href);
      url.searchParams.set("fragment", "1");
      fetch(url, { credentials: "same-origin" })
        .then(function (response) { return response.text(); })
        .then(function (html) { body.innerHTML = html; })
        .catch(function () { window.location.href = link.href; });
    });
    dialog.addEventListener("click", function (event) {
      if (event.target === dialog) dialog.close(); // a click on the backdrop
    });
  }

  // Comparison: pointing at a shared title lights it up in every profile's column.
  function light(number, on) {
    document.querySelectorAll('[data-shared="' + number + '"]').forEach(function (el) {
      el.classList.toggle("hl", on);
    });
  }
  ["mouseover", "focusin"].forEach(function (type) {
    document.addEventListener(type, function (event) {
      var el = event.target.closest && event.target.closest("[data-shared]");
      if (el) light(el.dataset.shared, true);
    });
  });
  ["mouseout", "focusout"].forEach(function (type) {
    document.addEventListener(type, function (event) {
      var el = event.target.closest && event.target.closest("[data-shared]");
      if (el) light(el.dataset.shared, false);
    });
  });
})();
