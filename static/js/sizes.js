// Sizes the server computes (bar and meter widths, step indents, chart rows) arrive
// as data attributes and are applied here through the CSS object model, so the
// Content-Security-Policy can forbid inline style attributes.
(function () {
  "use strict";
  function each(selector, apply) {
    var nodes = document.querySelectorAll(selector);
    for (var i = 0; i < nodes.length; i++) apply(nodes[i]);
  }
  each("[data-width]", function (node) { node.style.width = node.getAttribute("data-width"); });
  each("[data-indent]", function (node) {
    node.style.paddingLeft = node.getAttribute("data-indent") + "rem";
  });
  each("[data-rows]", function (node) { node.style.setProperty("--rows", node.getAttribute("data-rows")); });
})();
