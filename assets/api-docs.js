// Renders /api/v1/openapi.json as a list of operations grouped by tag. No dependencies.
(function () {
  "use strict";
  var root = document.getElementById("api");
  function el(tag, attrs, children) {
    var e = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    (children || []).forEach(function (c) { e.appendChild(typeof c === "string" ? document.createTextNode(c) : c); });
    return e;
  }
  function resolve(doc, schema) {
    if (schema && schema.$ref) {
      var name = schema.$ref.split("/").pop();
      return { name: name, schema: doc.components.schemas[name] };
    }
    return { name: null, schema: schema };
  }
  function schemaBlock(doc, schema) {
    var r = resolve(doc, schema);
    var text = (r.name ? r.name + " " : "") + JSON.stringify(r.schema, null, 2);
    return el("pre", {}, [text]);
  }
  fetch("/api/v1/openapi.json").then(function (r) { return r.json(); }).then(function (doc) {
    root.textContent = "";
    var byTag = {};
    Object.keys(doc.paths).sort().forEach(function (path) {
      var item = doc.paths[path];
      Object.keys(item).forEach(function (method) {
        var op = item[method];
        var tag = (op.tags && op.tags[0]) || "other";
        (byTag[tag] = byTag[tag] || []).push({ path: path, method: method, op: op });
      });
    });
    Object.keys(byTag).sort().forEach(function (tag) {
      root.appendChild(el("h2", {}, [tag]));
      byTag[tag].forEach(function (entry) {
        var op = entry.op;
        var parts = [];
        if (op.description || op.summary) parts.push(el("p", {}, [op.summary || "", " ", op.description || ""]));
        (op.parameters || []).forEach(function (p) {
          parts.push(el("p", {}, [el("code", {}, [p.in + ": " + p.name]), p.required ? " (required)" : ""]));
        });
        if (op.requestBody) {
          var content = op.requestBody.content || {};
          Object.keys(content).forEach(function (ct) {
            parts.push(el("p", {}, ["Request body (" + ct + ")"]));
            parts.push(schemaBlock(doc, content[ct].schema));
          });
        }
        Object.keys(op.responses || {}).forEach(function (status) {
          var resp = op.responses[status];
          parts.push(el("p", {}, [el("strong", {}, [status]), " " + (resp.description || "")]));
          Object.keys(resp.content || {}).forEach(function (ct) {
            if (ct === "application/json") parts.push(schemaBlock(doc, resp.content[ct].schema));
          });
        });
        var secured = op.security && op.security.length ? el("span", { "class": "lock" }, [" · bearer token"]) : "";
        root.appendChild(el("details", {}, [
          el("summary", {}, [el("span", { "class": "m " + entry.method }, [entry.method.toUpperCase()]), el("code", {}, [entry.path]), secured])
        ].concat(parts)));
      });
    });
  }).catch(function (e) { root.textContent = "Could not load the API document: " + e; });
})();
