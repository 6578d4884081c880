// Tonight console: light progressive enhancement. Every link and form works without it.
(function () {
  "use strict";

  // Changing a control re-renders the page with the new device, moment or profile.
  document.querySelectorAll("form[data-autosubmit]").forEach(function (form) {
    form.addEventListener("change", function (event) {
      if (event.target.matches("select")) form.submit();
    });
  });

  // "Why this?" opens in a dialog instead of leaving the page. The dialog is named for what
  // it explains (the link's data-why-label: a title, a row, every row), and on closing,
  // focus goes back to the link that opened it, as keyboard and screen reader users expect.
  var dialog = document.getElementById("why-dialog");
  if (dialog && typeof dialog.showModal === "function") {
    var body = dialog.querySelector(".why-body");
    var opener = null;
    var asked = 0; // the latest request: an earlier one answering late must not replace it
    document.addEventListener("click", function (event) {
      var link = event.target.closest("a.why-link");
      if (!link || event.ctrlKey || event.metaKey || event.shiftKey) return;
      event.preventDefault();
      // A link inside the dialog (a row why's candidate rows) replaces what it shows:
      // focus still goes back to the link on the page that opened it first.
      if (!dialog.open) opener = link;
      dialog.setAttribute("aria-label", link.dataset.whyLabel || "Why this is here");
      body.setAttribute("aria-busy", "true");
      body.innerHTML = '<p class="note">Working out why…</p>';
      if (!dialog.open) dialog.showModal();
      var url = new URL(link.href);
      url.searchParams.set("fragment", "1");
      var request = ++asked;
      fetch(url, { credentials: "same-origin" })
        .then(function (response) {
          // Sent to the sign-in form (signed out meanwhile): the page itself goes there.
          if (response.redirected) throw new Error("redirected");
          var type = response.headers.get("Content-Type") || "";
          return response.text().then(function (text) {
            return { html: type.indexOf("text/html") === 0, text: text };
          });
        })
        .then(function (answer) {
          if (request !== asked) return;
          // Only the console's own panels are HTML, escaped by their templates. Anything
          // else (a 400's plain text names the profile, which its household chose) is
          // text, and must never be parsed as markup in a staff member's session.
          if (answer.html) {
            body.innerHTML = answer.text;
          } else {
            var refusal = document.createElement("p");
            refusal.className = "error";
            refusal.textContent = answer.text;
            body.replaceChildren(refusal);
          }
          body.removeAttribute("aria-busy");
          // The link clicked inside the dialog is gone with the content it was in.
          if (!dialog.contains(document.activeElement)) dialog.querySelector(".close").focus();
        })
        .catch(function () { window.location.href = link.href; });
    });
    dialog.addEventListener("click", function (event) {
      if (event.target === dialog) dialog.close(); // a click on the backdrop
    });
    dialog.addEventListener("close", function () {
      if (opener && opener.isConnected) opener.focus();
      opener = null;
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
