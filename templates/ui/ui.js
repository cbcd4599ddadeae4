// deskprov pages: progressive enhancement only; every page works without this script.
// Register a phone: name the vendor of the MAC while it is typed.
(function () {
  "use strict";
  var input = document.getElementById("mac");
  var hint = document.getElementById("mac-hint");
  if (!input || !hint) { return; }
  var initial = hint.textContent;
  var timer = null;
  var asked = 0;
  function show(text, found) {
    hint.textContent = text;
    hint.classList.toggle("found", !!found);
  }
  function check() {
    var value = input.value.trim();
    if (value === "") { show(initial, false); return; }
    var ticket = ++asked;
    fetch("/ui/devices/vendor?mac=" + encodeURIComponent(value), {
      credentials: "same-origin",
      headers: { "Accept": "application/json" }
    })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (body) {
        if (body && ticket === asked) { show(body.message, body.vendor); }
      })
      .catch(function () { /* keep the last hint; the server checks on save */ });
  }
  hint.setAttribute("aria-live", "polite");
  input.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(check, 150);
  });
})();
