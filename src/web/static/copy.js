// Copy buttons on the task board: <button data-copy="value">. Shown only when this script runs.
// Also focuses the result of the last form post ([data-result]) so it is read out and seen.
'use strict';
(function () {
  var status = null;

  function announce(text) {
    if (status) status.textContent = text;
  }

  function fallbackCopy(text) {
    var area = document.createElement('textarea');
    area.value = text;
    area.setAttribute('readonly', '');
    area.className = 'offscreen';
    document.body.appendChild(area);
    area.select();
    var ok = false;
    try {
      ok = document.execCommand('copy');
    } catch (e) {
      ok = false;
    }
    document.body.removeChild(area);
    return ok;
  }

  function copied(button, ok) {
    var label = button.getAttribute('data-label') || button.textContent;
    button.setAttribute('data-label', label);
    button.textContent = ok ? 'Kopierat' : 'Gick inte';
    announce(ok ? 'Kopierat till urklipp' : 'Det gick inte att kopiera');
    window.setTimeout(function () {
      button.textContent = label;
    }, 1500);
  }

  // The result of the form just sent: focused once the page (and its #fragment scroll) is done, so a
  // screen reader reads it and the officer sees it where they are.
  window.addEventListener('load', function () {
    window.setTimeout(function () {
      var result = document.querySelector('[data-result]');
      if (result && typeof result.focus === 'function') result.focus();
    }, 0);
  });

  document.addEventListener('DOMContentLoaded', function () {
    status = document.getElementById('copy-status');
    var buttons = document.querySelectorAll('button[data-copy]');
    for (var i = 0; i < buttons.length; i++) {
      var button = buttons[i];
      button.hidden = false;
      button.addEventListener('click', function (event) {
        var b = event.currentTarget;
        var text = b.getAttribute('data-copy') || '';
        if (navigator.clipboard && window.isSecureContext) {
          navigator.clipboard.writeText(text).then(
            function () {
              copied(b, true);
            },
            function () {
              copied(b, fallbackCopy(text));
            },
          );
        } else {
          copied(b, fallbackCopy(text));
        }
      });
    }
  });
})();
