/* Offline stand-ins. pkgdown 2.0 loads headroom.js, bootstrap-toc,
   clipboard.js, mark.js, fuse.js and autocomplete.js from CDNs; on a
   machine without a network (a classroom lab) they are missing and
   pkgdown.js would stop at its first line, leaving the page without its
   table of contents. Each stand-in is defined only when the real library
   did not load: the table of contents is built from the headings, the
   copy buttons are left off and the search box (which needs fuse.js) is
   hidden. This file runs before pkgdown.js's handlers (they wait for the
   document to be ready). */
(function ($) {
  if (!$) return;
  if (!$.fn.headroom) {
    $.fn.headroom = function () { return this; };
  }
  if (typeof window.ClipboardJS === "undefined") {
    window.ClipboardJS = { isSupported: function () { return false; } };
  }
  if (typeof window.Mark === "undefined") {
    window.Mark = function () { this.mark = function () {}; };
  }
  if (!$.fn.autocomplete) {
    $.fn.autocomplete = function () { return this; };
    $(function () { $("#search-input").closest("form").hide(); });
  }
  if (typeof window.Toc === "undefined") {
    window.Toc = {
      // the headings in opts.$scope as nested lists in opts.$nav
      init: function (opts) {
        var $nav = opts.$nav;
        if (!$nav || !$nav.length) return;
        var $top = $('<ul class="nav nav-pills flex-column"></ul>');
        var top_level = null;
        var $sub = null;
        opts.$scope.each(function () {
          var $h = $(this);
          if ($h.is("[data-toc-skip]")) return;
          var id = this.id || $h.closest(".section").attr("id");
          if (!id) return;
          var level = parseInt(this.tagName.substring(1), 10);
          if (top_level === null) top_level = level;
          var $clone = $h.clone();
          $clone.find(".anchor, a.anchor").remove();
          var $item = $('<li class="nav-item"></li>').append(
            $('<a class="nav-link"></a>').attr("href", "#" + id).text($.trim($clone.text()))
          );
          if (level <= top_level) {
            $top.append($item);
            $sub = null;
          } else if (level === top_level + 1) {
            if (!$sub) {
              $sub = $('<ul class="nav nav-pills flex-column"></ul>');
              $top.children("li").last().append($sub);
              if (!$top.children("li").length) $top.append($sub);
            }
            $sub.append($item);
          }
        });
        $nav.append($top);
      }
    };
  }
})(window.jQuery);
